import { sql, type Kysely } from 'kysely'
import type { PlacementsDatabase } from '../database/schema.ts'

/**
 * Which parts of a search term the trigram index should be asked for (ADR 20). A part
 * of a school's name nearly always holds a word that thousands of names share
 * ("primary", "school"); asked for every trigram, the index walks each of their long
 * lists. Asked only for the term's rare words, it reads a few short ones, and the whole
 * term is checked on the rows it finds: the answer is the same, since every part is a
 * piece of the term itself.
 */

/** How many organisations' names have each word: a hint for choosing, never for answering. */
export interface WordCounts {
  organisations: number
  words: Map<string, number>
}

/** The search's normal form: lower case, one kind of apostrophe (as the index's expression). */
export function normaliseName(text: string): string {
  return text.toLowerCase().replaceAll('’', "'")
}

const word = /[\p{L}\p{N}]+/gu

/**
 * The pieces of `term` (normalised) to give the index: its two rarest words, when together
 * they narrow the names to a hundredth or fewer, each with the separator either side of
 * it in the term, so the index sees where a word starts or ends. The first word of the term may be the
 * end of a longer word, the last the start of one, a lone word any part of one: each is
 * counted as what it could be. Empty: no word is rare, so ask for the whole term.
 */
export function rarePieces(term: string, counts: WordCounts): string[] {
  const tokens = [...term.matchAll(word)]
  const estimates = tokens.map((token) => {
    const text = token[0]
    const start = token.index
    const end = start + text.length
    // A separator before it in the term: it starts a word in the name too; after it, it ends one.
    const wholeStart = start > 0
    const wholeEnd = end < term.length
    let n = 0
    for (const [known, count] of counts.words) {
      const fits = wholeStart && wholeEnd ? known === text : wholeStart ? known.startsWith(text) : wholeEnd ? known.endsWith(text) : known.includes(text)
      if (fits) n += count
    }
    return { piece: term.slice(Math.max(0, start - 1), Math.min(term.length, end + 1)), n }
  })
  if (counts.organisations === 0) return []
  const rarest = estimates.filter((e) => e.piece.length >= 3).sort((a, b) => a.n - b.n).slice(0, 2)
  // Worth it only when the rows found are few (words taken as independent): the whole
  // term's trigrams, intersected in the index, narrow better than one middling word.
  const found = rarest.reduce((rows, e) => rows * (e.n / counts.organisations), counts.organisations)
  if (rarest.length === 0 || found > Math.max(20, counts.organisations / 100)) return []
  return rarest.length === 1 && rarest[0]!.piece === term ? [] : rarest.map((e) => e.piece)
}

const refreshAfterMs = 10 * 60_000
const cache = new WeakMap<object, { at: number, counts: WordCounts, refreshing: boolean }>()
const noCounts: WordCounts = { organisations: 0, words: new Map() }

async function countWords(db: Kysely<PlacementsDatabase>): Promise<WordCounts> {
  // ts_stat: every name's words (PostgreSQL's own parser) and in how many names each is, in C:
  // 0.2–0.3 s for 30,000 names on a busy machine, against 1 s or more for regexp_split_to_table.
  const { rows } = await sql<{ word: string, n: number }>`
    select word, ndoc as n from ts_stat(${"select to_tsvector('simple', replace(lower(name), '’', '''')) from organisations"})`.execute(db)
  const total = await db.selectFrom('organisations').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()
  return { organisations: Number(total.n), words: new Map(rows.map((row) => [row.word, row.n])) }
}

/**
 * The word counts, kept in this process and never waited for: the first search after a
 * start sends the whole term to the index while the names are counted in the background,
 * and the counts are recounted the same way once ten minutes old. Stale or missing
 * counts (a failed count is tried again on the next search) only make a search choose
 * less well, never answer differently.
 */
export function wordCounts(db: Kysely<PlacementsDatabase>, now = Date.now()): WordCounts {
  let entry = cache.get(db)
  if (!entry) {
    entry = { at: -Infinity, counts: noCounts, refreshing: false }
    cache.set(db, entry)
  }
  if (now - entry.at >= refreshAfterMs && !entry.refreshing) {
    const counting = entry
    counting.refreshing = true
    countWords(db).then((counts) => Object.assign(counting, { at: now, counts, refreshing: false }), () => { counting.refreshing = false })
  }
  return entry.counts
}
