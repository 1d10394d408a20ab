// The timing harness of `pnpm bench`: throughput cells compared in one round-robin (so a change
// of background load hits every implementation alike), and latency percentiles.

/** One measured cell: median ops/s over repetitions, after a warm-up, and per-op percentiles. */
export interface Measurement {
  readonly name: string
  readonly opsPerSecond: number
  /** Median nanoseconds per operation. */
  readonly nsPerOp: number
  /** Per-operation time, median and 99th percentile, in nanoseconds (see {@link CompareOptions.batch}). */
  readonly p50Ns: number
  readonly p99Ns: number
  readonly repetitions: number
  /** Operations per repetition. */
  readonly ops: number
  /** (slowest − fastest repetition) / median: how noisy this cell was. */
  readonly spread: number
}

/** One implementation in a comparison. */
export interface Cell {
  readonly name: string
  /** One operation; `i` counts up from 0 across the whole run. */
  readonly run: (i: number) => unknown
}

export interface CompareOptions {
  /** Repetitions timed after the warm-up; the median is reported. @default 7 */
  readonly repetitions?: number
  /** Aimed duration of one repetition, in milliseconds; sets the operations per repetition. @default 120 */
  readonly targetMs?: number
  /** Bounds of the operations per repetition. @default 16 and 5_000_000 */
  readonly minOps?: number
  readonly maxOps?: number
  /** Callers running at once, each awaiting its own calls (async cells only). @default 1 */
  readonly concurrency?: number
  /**
   * Operations per latency sample: p50/p99 are taken over the mean time of `batch` consecutive
   * operations of one caller, so that a clock read does not dominate a 20 ns operation. 1 times
   * every call. @default 1
   */
  readonly batch?: number
}

/** Keeps results alive so the optimiser cannot drop the calls that produce them. */
export let sink: unknown

type Loop = (run: (i: number) => unknown, from: number, to: number, step: number, batch: number, samples: number[]) => unknown

/**
 * The loops are compiled once per cell: each has its own call site and type feedback, so one
 * cell's functions never make another's call site polymorphic.
 */
const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor as new (...source: string[]) => Loop
const LOOP_ARGS = ['run', 'from', 'to', 'step', 'batch', 'samples'] as const
const asyncLoop = (): Loop =>
  new AsyncFunction(
    ...LOOP_ARGS,
    `let last, n = 0, t = performance.now()
     for (let i = from; i < to; i += step) {
       last = await run(i)
       if (++n === batch) { const now = performance.now(); samples.push(((now - t) * 1e6) / batch); t = now; n = 0 }
     }
     return last`,
  )
const syncLoop = (): Loop =>
  new Function(
    ...LOOP_ARGS,
    `let last
     for (let b = from; b < to; b += batch) {
       const end = Math.min(b + batch, to), t = performance.now()
       for (let i = b; i < end; i++) last = run(i)
       samples.push(((performance.now() - t) * 1e6) / (end - b))
     }
     return last`,
  ) as Loop

interface Runner {
  readonly cell: Cell
  readonly isAsync: boolean
  readonly loops: Loop[]
  ops: number
  next: number
  readonly times: number[]
  readonly samples: number[]
}

async function once(runner: Runner, ops: number, concurrency: number, batch: number, samples: number[]): Promise<number> {
  const from = runner.next
  runner.next += ops
  const start = performance.now()
  if (!runner.isAsync) sink = runner.loops[0]!(runner.cell.run, from, from + ops, 1, batch, samples)
  else {
    const callers = runner.loops.slice(0, concurrency).map((loop, c) => loop(runner.cell.run, from + c, from + ops, concurrency, batch, samples))
    sink = await Promise.all(callers)
  }
  return (performance.now() - start) * 1e6
}

/**
 * Time `cells` against each other: each is warmed up (which also sizes its repetitions to about
 * `targetMs`), then the repetitions run round-robin, one of each cell in turn, with a GC before
 * each. Reports each cell's median.
 */
export async function compare(cells: readonly Cell[], options: CompareOptions = {}): Promise<Measurement[]> {
  const { repetitions = 7, targetMs = 120, minOps = 16, maxOps = 5_000_000, concurrency = 1, batch = 1 } = options
  const runners: Runner[] = []
  for (const cell of cells) {
    const first = cell.run(0)
    const isAsync = first instanceof Promise
    await first
    const loops = isAsync ? Array.from({ length: concurrency }, asyncLoop) : [syncLoop()]
    const runner: Runner = { cell, isAsync, loops, ops: 0, next: 1, times: [], samples: [] }
    // Warm-up: grow until a round takes a quarter of the target, then size the repetitions.
    let ops = Math.max(concurrency, 8)
    let elapsedNs = 0
    for (let total = 0; total < targetMs * 2e6; total += elapsedNs) {
      elapsedNs = await once(runner, ops, concurrency, batch, [])
      if (elapsedNs < targetMs * 2.5e5) ops *= 4
    }
    const perOp = elapsedNs / ops
    const step = concurrency * batch
    runner.ops = Math.max(step, Math.round(Math.min(maxOps, Math.max(minOps, (targetMs * 1e6) / perOp)) / step) * step)
    runners.push(runner)
  }
  for (let r = 0; r < repetitions; r++) {
    for (const runner of runners) {
      globalThis.gc?.()
      runner.times.push(await once(runner, runner.ops, concurrency, batch, runner.samples))
    }
  }
  return runners.map(({ cell, ops, times, samples }) => {
    times.sort((a, b) => a - b)
    samples.sort((a, b) => a - b)
    const median = times[Math.floor(times.length / 2)]!
    return {
      name: cell.name,
      opsPerSecond: (ops / median) * 1e9,
      nsPerOp: median / ops,
      p50Ns: percentile(samples, 0.5),
      p99Ns: percentile(samples, 0.99),
      repetitions,
      ops,
      spread: (times[times.length - 1]! - times[0]!) / median,
    }
  })
}

/** Time `run` alone (see {@link compare}). */
export async function measure(name: string, run: (i: number) => unknown, options: CompareOptions = {}): Promise<Measurement> {
  const [measurement] = await compare([{ name, run }], options)
  return measurement!
}

/** Latency of one operation, in microseconds. */
export interface LatencyRow {
  readonly name: string
  readonly p50: number
  readonly p99: number
}

export interface LatencyOptions {
  /** Untimed calls first. @default 2_000 */
  readonly warmUp?: number
  /** Timed calls. @default 20_000 */
  readonly samples?: number
}

/** Times `samples` sequential awaited calls of `run(i)` one by one, after `warmUp` calls. */
export async function latency(
  name: string,
  run: (i: number) => Promise<unknown>,
  { warmUp = 2_000, samples = 20_000 }: LatencyOptions = {},
): Promise<LatencyRow> {
  for (let i = 0; i < warmUp; i++) await run(i)
  const micros = new Float64Array(samples)
  for (let i = 0; i < samples; i++) {
    const start = performance.now()
    await run(i)
    micros[i] = (performance.now() - start) * 1_000
  }
  micros.sort()
  return { name, p50: percentile(micros, 0.5), p99: percentile(micros, 0.99) }
}

/** The `q` quantile of sorted `values` (nearest rank). */
export function percentile(values: ArrayLike<number>, q: number): number {
  if (values.length === 0) return NaN
  return values[Math.min(values.length - 1, Math.floor(values.length * q))]!
}

/** A duration in nanoseconds, in the unit that reads best. */
export function formatNs(ns: number): string {
  if (!Number.isFinite(ns)) return '–'
  if (ns < 1_000) return `${ns.toFixed(ns < 10 ? 1 : 0)} ns`
  if (ns < 1_000_000) return `${(ns / 1_000).toFixed(ns < 10_000 ? 2 : 1)} µs`
  return `${(ns / 1_000_000).toFixed(2)} ms`
}

/** Render measurements as a markdown table, with each row's ratio to `baseline`. */
export function table(title: string, rows: readonly Measurement[], baseline: string): string {
  const base = rows.find((row) => row.name === baseline)
  const lines = [
    `### ${title}`,
    '',
    `| implementation | ops/s | p50 | p99 | ± | vs ${baseline} |`,
    '|---|---:|---:|---:|---:|---:|',
  ]
  for (const row of rows) {
    const ratio = base === undefined ? '' : `${(row.opsPerSecond / base.opsPerSecond).toFixed(2)}×`
    const ops = Math.round(row.opsPerSecond).toLocaleString('en-US')
    lines.push(`| ${row.name} | ${ops} | ${formatNs(row.p50Ns)} | ${formatNs(row.p99Ns)} | ${Math.round(row.spread * 50)}% | ${ratio} |`)
  }
  return lines.join('\n')
}

/** Render latency rows (microseconds) as a markdown table. */
export function latencyTable(title: string, rows: readonly LatencyRow[]): string {
  const lines = [`### ${title}`, '', '| operation | p50 | p99 |', '|---|---:|---:|']
  for (const row of rows) lines.push(`| ${row.name} | ${formatNs(row.p50 * 1_000)} | ${formatNs(row.p99 * 1_000)} |`)
  return lines.join('\n')
}
