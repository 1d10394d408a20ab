// The speed targets of the benchmark issue, checked against one run's sections.
import type { Measurement } from './measure.ts'
import { ROWS as MEMORY } from './memory-hit.ts'
import { ROWS as REDIS } from './redis-hit.ts'
import type { Section, TargetResult } from './report.ts'
import type { StampedeRow } from './stampede.ts'

function rowsOf(sections: readonly Section[], id: string): readonly Measurement[] | undefined {
  const section = sections.find((candidate) => candidate.id === id)
  return section?.kind === 'throughput' ? section.rows : undefined
}

function opsOf(rows: readonly Measurement[], name: string): number {
  const row = rows.find((candidate) => candidate.name === name)
  if (row === undefined) throw new Error(`bench: no row "${name}"`)
  return row.opsPerSecond
}

/** `dcache ÷ reference ≥ required`. */
function atLeast(scenario: string, ratio: number, required: number, reference: string): TargetResult {
  return { scenario, target: `≥ ${required}×`, measured: `${ratio.toFixed(2)}×`, reference, score: ratio / required, met: ratio >= required }
}

/** A count that must not exceed `limit`. */
function atMost(scenario: string, measured: number, limit: number, unit: string): TargetResult {
  const shown = Number.isInteger(measured) ? String(measured) : measured.toFixed(1)
  return { scenario, target: `≤ ${limit}`, measured: shown, reference: unit, score: limit / Math.max(measured, 1e-9), met: measured <= limit }
}

/** Every target whose scenario ran. */
export function checkTargets(sections: readonly Section[]): TargetResult[] {
  const targets: TargetResult[] = []
  const a = rowsOf(sections, 'A')
  if (a !== undefined) {
    const own = new Set<string>([MEMORY.asyncMap, MEMORY.asyncLru, MEMORY.dcacheAsync])
    const best = a.filter((row) => !own.has(row.name)).sort((x, y) => y.opsPerSecond - x.opsPerSecond)[0]
    if (best !== undefined) targets.push(atLeast('A memory hit, async', opsOf(a, MEMORY.dcacheAsync) / best.opsPerSecond, 3, `best peer: ${best.name}`))
  }
  const a1 = rowsOf(sections, "A'")
  if (a1 !== undefined) targets.push(atLeast("A' memory hit, sync", opsOf(a1, MEMORY.dcacheSync) / opsOf(a1, MEMORY.map), 0.25, 'raw Map'))
  const b = rowsOf(sections, 'B')
  if (b !== undefined) targets.push(atLeast('B memory miss + set', opsOf(b, MEMORY.dcacheSync) / opsOf(b, MEMORY.lruMissSet), 0.5, 'raw lru-cache'))
  const c = rowsOf(sections, 'C')
  if (c !== undefined) targets.push(atLeast('C Redis hit, 1 caller', opsOf(c, REDIS.dcache) / opsOf(c, REDIS.raw), 0.95, 'raw ioredis'))
  const d = rowsOf(sections, 'D')
  if (d !== undefined) targets.push(atLeast('D Redis hit, 64 callers', opsOf(d, REDIS.dcache) / opsOf(d, REDIS.pipelined), 1.2, 'pipelined ioredis'))
  const e = rowsOf(sections, 'E')
  if (e !== undefined) targets.push(atLeast('E two tiers, memory hit', opsOf(e, REDIS.twoTier) / opsOf(e, REDIS.bentoTwoTier), 10, 'bentocache'))
  const stampede = sections
    .filter((section) => section.id.startsWith('F'))
    .flatMap((section) => (section.kind === 'stampede' ? section.rows : ([] as StampedeRow[])))
  const dcacheRows = (lock: boolean) => stampede.filter((row) => row.name.startsWith('dcache') && row.name.includes('lock') === lock)
  if (stampede.length > 0) {
    const oneProcess = dcacheRows(false).filter((row) => row.processes === 1)
    targets.push(atMost('F one process', Math.max(...oneProcess.map((row) => row.runs)), 1, 'function runs'))
    const locked = dcacheRows(true)
    const fourLocked = locked.find((row) => row.processes === 4)
    if (fourLocked !== undefined) targets.push(atMost('F lock, 4 processes', fourLocked.runs, 1, 'function runs'))
    const perProcess = (rows: readonly StampedeRow[]) => Math.max(...rows.map((row) => (row.redisCommands ?? 0) / row.processes))
    const unlocked = dcacheRows(false).filter((row) => row.redisCommands !== null)
    if (unlocked.length > 0) targets.push(atMost('F Redis commands', perProcess(unlocked), 3, 'commands per process'))
    if (locked.length > 0) targets.push(atMost('F Redis commands, lock', perProcess(locked), 3, 'commands per process'))
  }
  const g = rowsOf(sections, 'G 1 MiB')
  if (g !== undefined) targets.push(atLeast('G Redis hit, 1 MiB', opsOf(g, REDIS.dcache) / opsOf(g, REDIS.raw), 0.9, 'raw ioredis'))
  return targets
}
