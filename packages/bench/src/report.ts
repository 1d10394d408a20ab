// What `pnpm bench` writes: the targets checked against this run, markdown, JSON, an SVG chart,
// and the generated part of the docs page.
import { latencyTable, table, type LatencyRow, type Measurement } from './measure.ts'
import { sizeTable, type SizeRow } from './memory-size.ts'
import { stampedeTable, type StampedeRow } from './stampede.ts'

/** One scenario's results, in the order they are shown. */
export type Section =
  | { readonly id: string; readonly title: string; readonly kind: 'throughput'; readonly baseline: string; readonly rows: readonly Measurement[] }
  | { readonly id: string; readonly title: string; readonly kind: 'latency'; readonly rows: readonly LatencyRow[] }
  | { readonly id: string; readonly title: string; readonly kind: 'stampede'; readonly rows: readonly StampedeRow[] }
  | { readonly id: string; readonly title: string; readonly kind: 'size'; readonly rows: readonly SizeRow[] }

/** A target of the issue, checked against this run. */
export interface TargetResult {
  readonly scenario: string
  /** The requirement, `≥ 3×` or `≤ 3`. */
  readonly target: string
  readonly measured: string
  /** What the ratio is taken against, or what is counted. */
  readonly reference: string
  /** How far past the target: ≥ 1 is met (a ratio over the required ratio, or required over measured for counts). */
  readonly score: number
  readonly met: boolean
}

/** Everything one run produced. */
export interface Report {
  readonly date: string
  readonly machine: string
  /** 1-minute load average before and after the run: other work on the machine. */
  readonly load: readonly [number, number]
  readonly seconds: number
  readonly targets: readonly TargetResult[]
  readonly sections: readonly Section[]
}

/** Render one section as markdown. */
export function sectionMarkdown(section: Section): string {
  const title = `${section.id} — ${section.title}`
  switch (section.kind) {
    case 'throughput':
      return table(title, section.rows, section.baseline)
    case 'latency':
      return latencyTable(title, section.rows)
    case 'stampede':
      return stampedeTable(title, section.rows)
    case 'size':
      return sizeTable(title, section.rows)
  }
}

/** The targets table. */
export function targetsMarkdown(targets: readonly TargetResult[]): string {
  const lines = ['| scenario | of | target | measured | |', '|---|---|---:|---:|---|']
  for (const t of targets) lines.push(`| ${t.scenario} | ${t.reference} | ${t.target} | ${t.measured} | ${t.met ? '✅ met' : '❌ missed'} |`)
  return lines.join('\n')
}

/** The whole run as markdown: header, targets, then every section. */
export function reportMarkdown(report: Report): string {
  return [
    `_${report.date} — ${report.machine} — load average ${report.load[0].toFixed(2)} → ${report.load[1].toFixed(2)}, ${Math.round(report.seconds)} s_`,
    '### Targets',
    targetsMarkdown(report.targets),
    ...report.sections.map(sectionMarkdown),
  ].join('\n\n')
}

const escapeXml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

/**
 * A horizontal bar per target: how far past (or short of) its target the run is, on a log scale
 * where the line at 1 is the target. Green met, red missed.
 */
export function targetsSvg(report: Report): string {
  const width = 900
  const labelWidth = 180
  const textWidth = 390
  const plotWidth = width - labelWidth - textWidth - 20
  const row = 28
  const top = 58
  const height = top + report.targets.length * row + 44
  const [lo, hi] = [1 / 16, 16]
  const x = (score: number) => labelWidth + (Math.log(Math.min(hi, Math.max(lo, score)) / lo) / Math.log(hi / lo)) * plotWidth
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, Segoe UI, sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="10" y="20" font-size="15" font-weight="600" fill="#222">dcache against its targets</text>`,
    `<text x="10" y="38" fill="#555">${escapeXml(`${report.date.slice(0, 10)} · ${report.machine}`)}</text>`,
  ]
  for (const tick of [1 / 16, 1 / 4, 1, 4, 16]) {
    const tx = x(tick).toFixed(1)
    const label = tick < 1 ? `1/${1 / tick}` : `${tick}×`
    parts.push(`<line x1="${tx}" y1="${top - 6}" x2="${tx}" y2="${height - 38}" stroke="${tick === 1 ? '#222' : '#ddd'}" stroke-width="${tick === 1 ? 1.5 : 1}"/>`)
    parts.push(`<text x="${tx}" y="${height - 24}" text-anchor="middle" fill="#555">${tick === 1 ? 'target' : label}</text>`)
  }
  parts.push(`<text x="${x(1).toFixed(1)}" y="${height - 8}" text-anchor="middle" fill="#777" font-size="11">measured ÷ target, log scale: right of the line is met</text>`)
  report.targets.forEach((t, i) => {
    const y = top + i * row
    const x0 = x(1)
    const x1 = x(t.score)
    const color = t.met ? '#2e7d32' : '#c62828'
    parts.push(`<text x="${labelWidth - 8}" y="${y + 15}" text-anchor="end" fill="#222">${escapeXml(t.scenario)}</text>`)
    parts.push(`<rect x="${Math.min(x0, x1).toFixed(1)}" y="${y + 4}" width="${Math.max(2, Math.abs(x1 - x0)).toFixed(1)}" height="${row - 10}" fill="${color}" opacity="0.85"/>`)
    parts.push(`<text x="${width - textWidth}" y="${y + 15}" fill="${color}">${escapeXml(`${t.measured} (target ${t.target}) ${t.reference}`)}</text>`)
  })
  parts.push('</svg>')
  return parts.join('\n') + '\n'
}

export const DOCS_START = '<!-- bench:results:start -->'
export const DOCS_END = '<!-- bench:results:end -->'

/** The generated part of docs-site/benchmarks.md. */
export function docsSection(report: Report, imagePath: string): string {
  return [
    DOCS_START,
    `Latest run: ${report.date.slice(0, 10)} on ${report.machine} (load average ${report.load[0].toFixed(2)} → ${report.load[1].toFixed(2)}: other work was running; ratios between rows of one table are what to read).`,
    `![dcache against its targets](${imagePath})`,
    '::: v-pre',
    '### Targets',
    targetsMarkdown(report.targets),
    ...report.sections.map(sectionMarkdown),
    ':::',
    DOCS_END,
  ].join('\n\n')
}
