/** One measured cell: median ops/s over repetitions, after a warm-up. */
export interface Measurement {
  readonly name: string
  readonly opsPerSecond: number
  /** Median nanoseconds per operation. */
  readonly nsPerOp: number
  readonly repetitions: number
}

export interface MeasureOptions {
  /** Operations per repetition. */
  readonly ops: number
  readonly repetitions?: number
  /** Callers running at once, each awaiting its own calls (async `run` only). @default 1 */
  readonly concurrency?: number
}

/**
 * Time `ops` calls of `run(i)` — sequential, or split over `concurrency` awaiting callers —
 * `repetitions` times after one warm-up; report the median.
 */
export async function measure(
  name: string,
  run: (i: number) => unknown,
  { ops, repetitions = 7, concurrency = 1 }: MeasureOptions,
): Promise<Measurement> {
  const isAsync = run(0) instanceof Promise
  const caller = async (first: number) => {
    for (let i = first; i < ops; i += concurrency) await run(i)
  }
  const once = isAsync
    ? async () => {
        const start = process.hrtime.bigint()
        await Promise.all(Array.from({ length: concurrency }, (_, first) => caller(first)))
        return Number(process.hrtime.bigint() - start)
      }
    : async () => {
        const start = process.hrtime.bigint()
        for (let i = 0; i < ops; i++) run(i)
        return Number(process.hrtime.bigint() - start)
      }
  await once() // warm-up: JIT and caches
  const samples: number[] = []
  for (let r = 0; r < repetitions; r++) {
    globalThis.gc?.()
    samples.push(await once())
  }
  samples.sort((a, b) => a - b)
  const median = samples[Math.floor(samples.length / 2)]!
  return { name, opsPerSecond: (ops / median) * 1e9, nsPerOp: median / ops, repetitions }
}

/** Render measurements as a markdown table, with each row's ratio to `baseline`. */
export function table(title: string, rows: readonly Measurement[], baseline: string): string {
  const base = rows.find((row) => row.name === baseline)
  const lines = [`### ${title}`, '', '| implementation | ops/s | ns/op | vs ' + baseline + ' |', '|---|---:|---:|---:|']
  for (const row of rows) {
    const ratio = base === undefined ? '' : `${(row.opsPerSecond / base.opsPerSecond).toFixed(2)}×`
    lines.push(`| ${row.name} | ${Math.round(row.opsPerSecond).toLocaleString('en-US')} | ${row.nsPerOp.toFixed(1)} | ${ratio} |`)
  }
  return lines.join('\n')
}
