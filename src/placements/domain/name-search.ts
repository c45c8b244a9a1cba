import { sql, type Kysely } from 'kysely'
import type { PlacementsDatabase } from '../database/schema.ts'

/**
 * Which pieces of a search term the trigram index should be asked for (ADR 20, ADR 25).
 * The index keeps, for each trigram, the list of names that have it; asked for a term, it
 * reads the list of every trigram in it. A part of a school's name nearly always holds a
 * word that thousands of names share ("primary", "school"), whose lists are long. Asked
 * for a few pieces of the term whose trigrams are rare, it reads a few short lists, and
 * the whole term is checked on the rows they leave: the answer is the same, since every
 * piece is a piece of the term itself.
 */

/** In how many organisations' names each trigram is (estimated): a hint for choosing, never for answering. */
export interface TrigramCounts {
  organisations: number
  trigrams: Map<string, number>
}

/** The search's normal form: lower case, one kind of apostrophe (as the index's expression). */
export function normaliseName(text: string): string {
  return text.toLowerCase().replaceAll('’', "'")
}

const word = /[\p{L}\p{N}]+/gu

/** One trigram pg_trgm reads from `%text%`, which word of the text it is from, and the shortest piece of the text that gives it. */
interface TermTrigram { trigram: string, word: number, piece: string }

/**
 * The trigrams pg_trgm takes from a LIKE pattern `%text%`: each word, with two spaces
 * before it when a separator precedes it in the text (so it starts a word in the name) and
 * one after when a separator follows (so it ends one), cut into threes.
 */
export function likeTrigrams(text: string): TermTrigram[] {
  const found: TermTrigram[] = []
  for (const [index, token] of [...text.matchAll(word)].entries()) {
    const start = token.index
    const end = start + token[0].length
    const before = start > 0
    const after = end < text.length
    const padded = (before ? '  ' : '') + token[0] + (after ? ' ' : '')
    // Padded position p is text position p + shift; both leading spaces stand for the one separator.
    const shift = start - (before ? 2 : 0)
    for (let at = 0; at + 3 <= padded.length; at++) {
      const piece = text.slice(Math.max(before ? start - 1 : start, at + shift), Math.min(after ? end + 1 : end, at + 3 + shift))
      found.push({ trigram: padded.slice(at, at + 3), word: index, piece })
    }
  }
  return found
}

// Reading one name's entry in a trigram's list costs far less than checking one candidate
// row for the whole term (measured: a few nanoseconds against a few microseconds).
const rowCostInListEntries = 100

/**
 * The pieces of `term` (normalised) to give the index, or none to give it the whole term.
 * Each word of the term offers its piece with the rarest trigram; words are taken rarest
 * first (as independent) while the rows a piece would rule out are worth more than the
 * lists it adds, and the pieces are used when that is much cheaper than the whole term.
 */
export function rarePieces(term: string, counts: TrigramCounts): string[] {
  const names = counts.organisations
  if (names === 0) return []
  const estimate = (trigram: string) => counts.trigrams.get(trigram) ?? 0
  const listsOf = (text: string) => likeTrigrams(text).reduce((sum, t) => sum + estimate(t.trigram), 0)
  const best = new Map<number, { piece: string, rows: number, lists: number }>()
  for (const { trigram, word: index, piece } of likeTrigrams(term)) {
    const candidate = { piece, rows: estimate(trigram), lists: listsOf(piece) }
    const known = best.get(index)
    if (!known || candidate.rows < known.rows || (candidate.rows === known.rows && candidate.lists < known.lists)) best.set(index, candidate)
  }
  const words = [...best.values()].sort((a, b) => a.rows - b.rows)
  const wholeRows = words.reduce((rows, w) => rows * (w.rows / names), names)
  const wholeCost = listsOf(term) + rowCostInListEntries * wholeRows
  let rows = names
  let lists = 0
  const chosen: string[] = []
  for (const w of words) {
    const narrowed = rows * (w.rows / names)
    if (w.lists >= rowCostInListEntries * (rows - narrowed)) continue
    chosen.push(w.piece)
    rows = narrowed
    lists += w.lists
  }
  // Each candidate row is then checked for each piece and the term, not the term alone:
  // worth it only when the estimate at least halves the whole term's work.
  const cost = lists + rowCostInListEntries * rows
  return chosen.length > 0 && 2 * cost < wholeCost && !(chosen.length === 1 && chosen[0] === term) ? chosen : []
}

const refreshAfterMs = 10 * 60_000
const cache = new WeakMap<object, { at: number, counts: TrigramCounts, refreshing: boolean }>()
const noCounts: TrigramCounts = { organisations: 0, trigrams: new Map() }

async function countTrigrams(db: Kysely<PlacementsDatabase>): Promise<TrigramCounts> {
  // ts_stat: every name's words (PostgreSQL's own parser) and in how many names each is, in C:
  // 0.1–0.3 s for 30,000 names, against 0.5 s for counting pg_trgm's own show_trgm of each name.
  const { rows } = await sql<{ word: string, n: number }>`
    select word, ndoc as n from ts_stat(${"select to_tsvector('simple', replace(lower(name), '’', '''')) from organisations"})`.execute(db)
  const total = await db.selectFrom('organisations').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()
  return countsFromWords(Number(total.n), rows.map((row) => [row.word, row.n]))
}

/** A trigram is in about as many names as the words that have it (a name with two such words is counted twice: an estimate). */
export function countsFromWords(organisations: number, words: Array<[string, number]>): TrigramCounts {
  const trigrams = new Map<string, number>()
  for (const [known, n] of words) {
    for (const trigram of new Set(likeTrigrams(` ${known} `).map((t) => t.trigram))) trigrams.set(trigram, (trigrams.get(trigram) ?? 0) + n)
  }
  return { organisations, trigrams }
}

/**
 * The trigram counts, kept in this process and never waited for: the first search after a
 * start sends the whole term to the index while the names are counted in the background,
 * and the counts are recounted the same way once ten minutes old. Stale or missing
 * counts (a failed count is tried again on the next search) only make a search choose
 * less well, never answer differently.
 */
export function trigramCounts(db: Kysely<PlacementsDatabase>, now = Date.now()): TrigramCounts {
  let entry = cache.get(db)
  if (!entry) {
    entry = { at: -Infinity, counts: noCounts, refreshing: false }
    cache.set(db, entry)
  }
  if (now - entry.at >= refreshAfterMs && !entry.refreshing) {
    const counting = entry
    counting.refreshing = true
    countTrigrams(db).then((counts) => Object.assign(counting, { at: now, counts, refreshing: false }), () => { counting.refreshing = false })
  }
  return entry.counts
}
