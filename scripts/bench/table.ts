/**
 * The table `npm run bench` prints: each measure with its raw figures, its ratio, its
 * target and whether it is met. A row has either a ratio with an "at least" target, or a
 * value with an "at most" target, or neither (a baseline).
 */
export interface Row {
  measure: string
  raw: string
  /** A share (0.32 = 32 %), compared with `target` (at least). */
  ratio?: number
  target?: number
  note?: string
  /** A value compared with `atMost`, in `unit` (`%` values are shares). */
  value?: number
  atMost?: number | undefined
  unit?: 'ms' | 'MB' | '%' | 's' | '×'
}

const percent = (share: number) => `${(share * 100).toFixed(1)} %`

function format(value: number, unit: Row['unit']): string {
  if (unit === '%') return percent(value)
  if (unit === '×') return `${value.toFixed(2)}×`
  return `${value.toFixed(1)} ${unit}`
}

export function cells(row: Row): [string, string, string, string, string] {
  if (row.ratio !== undefined) {
    const ratio = `${percent(row.ratio)}${row.note ? ` ${row.note}` : ''}`
    if (row.target === undefined) return [row.measure, row.raw, ratio, '', '']
    return [row.measure, row.raw, ratio, `≥ ${percent(row.target)}`, row.ratio >= row.target ? 'met' : 'NOT MET']
  }
  if (row.value !== undefined && row.atMost !== undefined) {
    return [row.measure, row.raw, row.unit === '%' || row.unit === '×' ? format(row.value, row.unit) : '', `≤ ${format(row.atMost, row.unit)}`, row.value <= row.atMost ? 'met' : 'NOT MET']
  }
  return [row.measure, row.raw, row.value !== undefined && (row.unit === '%' || row.unit === '×') ? format(row.value, row.unit) : '', '', '']
}

/** A Markdown table, so it can be pasted into docs/performance.md as it is. */
export function printTable(rows: Row[]): void {
  const lines = [['measure', 'raw figures', 'ratio', 'target', 'met?'], ...rows.map(cells)]
  const widths = lines[0]!.map((_, column) => Math.max(...lines.map((line) => line[column]!.length)))
  const render = (line: string[]) => `| ${line.map((cell, column) => cell.padEnd(widths[column]!)).join(' | ')} |`
  process.stdout.write([render(lines[0]!), `|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`, ...lines.slice(1).map(render)].join('\n') + '\n')
}
