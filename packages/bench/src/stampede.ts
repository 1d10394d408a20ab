// Scenario F: a stampede. 1 000 concurrent calls on one cold key whose function takes 50 ms:
// how often does the function run? In this process (memory only, every peer), and in 1, 2 and 4
// processes sharing Redis (stampede-worker.ts), counting the commands clients send to Redis during
// each burst with MONITOR (the calls a Lua script makes inside the server are not counted).
import { setTimeout as sleep } from 'node:timers/promises'
import { dcache } from '@dcache/core'
import { Redis } from 'ioredis'
import { Child } from './child.ts'
import { user, type User } from './fixtures.ts'
import { memoryPeers, redisOptions, type Peer } from './peers.ts'
import { RUN_PREFIX } from './redis-hit.ts'

const CALLERS = 1_000
const WORK_MS = 50
const PROCESS_COUNTS = [1, 2, 4] as const
/** Bursts per configuration, each on a new cold key: the worst runs and commands are reported. */
const BURSTS = 3

/** What stampede-worker.ts can run, with the name shown in the results. */
const SHARED_IMPLS = [
  { impl: 'dcache', name: 'dcache(RedisBackend)' },
  { impl: 'dcache-lock', name: 'dcache(RedisBackend, { lock: true })' },
  { impl: 'bentocache', name: 'bentocache (Redis L2)' },
  { impl: 'cachified', name: '@epic-web/cachified (Redis adapter)' },
  { impl: 'async-cache-dedupe', name: 'async-cache-dedupe (Redis)' },
] as const

/** One burst. */
export interface StampedeRow {
  readonly name: string
  readonly processes: number
  /** Function runs, summed over the processes (the most of the bursts). */
  readonly runs: number
  /** Commands the clients sent to Redis during a burst (the most of the bursts); `null` without Redis. */
  readonly redisCommands: number | null
  /** Wall time of the slowest process's burst, in milliseconds (the median of the bursts). */
  readonly ms: number
}

/** The row of several bursts of one configuration: worst counts, median time. */
function worstOf(name: string, processes: number, bursts: readonly { runs: number; redisCommands: number | null; ms: number }[]): StampedeRow {
  const times = bursts.map((burst) => burst.ms).sort((a, b) => a - b)
  const commands = bursts.map((burst) => burst.redisCommands)
  return {
    name,
    processes,
    runs: Math.max(...bursts.map((burst) => burst.runs)),
    redisCommands: commands.includes(null) ? null : Math.max(...(commands as number[])),
    ms: times[Math.floor(times.length / 2)]!,
  }
}

/** F in this process, memory only: dcache and every in-memory peer. */
export async function stampedeInProcess(): Promise<StampedeRow[]> {
  const rows: StampedeRow[] = []
  let runs = 0
  const slow = async (id: number): Promise<User> => {
    runs++
    await sleep(WORK_MS)
    return user(id)
  }
  const cached = dcache(async function report(id: number) {
    return slow(id)
  })
  const candidates: Peer[] = [{ name: 'dcache (memory)', get: cached, close: async () => {} }, ...memoryPeers(false, slow)]
  for (const peer of candidates) {
    const bursts = []
    for (let burst = 0; burst < BURSTS; burst++) {
      runs = 0
      const start = performance.now()
      await Promise.all(Array.from({ length: CALLERS }, () => peer.get(burst + 1)))
      bursts.push({ runs, redisCommands: null, ms: performance.now() - start })
    }
    rows.push(worstOf(peer.name, 1, bursts))
    await peer.close()
  }
  return rows
}

/** F across processes sharing the Redis at `url`: every implementation, on 1, 2 and 4 processes. */
export async function stampedeAcrossProcesses(url: string): Promise<StampedeRow[]> {
  const workers = Array.from({ length: Math.max(...PROCESS_COUNTS) }, () => new Child('stampede-worker.ts'))
  const admin = new Redis(redisOptions(url))
  const monitor = await admin.monitor()
  let commands = 0
  monitor.on('monitor', (_time: string, _args: string[], source: string) => {
    if (source !== 'lua') commands++
  })
  const rows: StampedeRow[] = []
  try {
    for (const { impl, name } of SHARED_IMPLS) {
      for (const processes of PROCESS_COUNTS) {
        const team = workers.slice(0, processes)
        const callers = CALLERS / processes
        const bursts = []
        for (let burst = 0; burst < BURSTS; burst++) {
          const prefix = `${RUN_PREFIX}f:${impl}:${processes}:${burst}:`
          await Promise.all(team.map((worker) => worker.ask({ op: 'prepare', impl, url, prefix, callers, workMs: WORK_MS })))
          await sleep(50) // MONITOR lines of the set-up have arrived
          commands = 0
          const at = Date.now() + 100
          const answers = await Promise.all(team.map((worker) => worker.ask<{ runs: number; ms: number }>({ op: 'go', at })))
          await sleep(100) // what is sent after the result (a PUBLISH) belongs to this burst too
          const redisCommands = commands
          await Promise.all(team.map((worker) => worker.ask({ op: 'close' })))
          bursts.push({
            runs: answers.reduce((sum, answer) => sum + answer.runs, 0),
            redisCommands,
            ms: Math.max(...answers.map((answer) => answer.ms)),
          })
        }
        rows.push(worstOf(name, processes, bursts))
      }
    }
    return rows
  } finally {
    monitor.disconnect()
    admin.disconnect()
    await Promise.all(workers.map((worker) => worker.stop()))
  }
}

/** Markdown table of stampede rows. */
export function stampedeTable(title: string, rows: readonly StampedeRow[]): string {
  const lines = [
    `### ${title}`,
    '',
    `Runs and commands: the most of ${BURSTS} bursts, each on a new cold key; time: the median burst.`,
    '',
    '| implementation | processes | function runs | Redis commands | per process | burst |',
    '|---|---:|---:|---:|---:|---:|',
  ]
  for (const row of rows) {
    const commands = row.redisCommands === null ? '–' : String(row.redisCommands)
    const perProcess = row.redisCommands === null ? '–' : (row.redisCommands / row.processes).toFixed(1)
    lines.push(`| ${row.name} | ${row.processes} | ${row.runs} | ${commands} | ${perProcess} | ${row.ms.toFixed(0)} ms |`)
  }
  return lines.join('\n')
}
