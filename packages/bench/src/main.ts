// `pnpm bench`: dcache next to raw floors and its peers, measured in one run on one machine.
// Report ratios, not absolute claims. `pnpm bench -- --only=A,C` runs some scenarios and writes
// nothing; a full run writes packages/bench/results/latest.{json,md,svg} and the docs page.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { coherenceDelay } from './coherence.ts'
import { measureFs } from './embedded-fs.ts'
import { measureSqlite } from './embedded-sqlite.ts'
import { asyncMemoryHit, memoryMissSet, ROWS as MEMORY, syncMemoryHit } from './memory-hit.ts'
import { memoryPerEntry } from './memory-size.ts'
import { docsSection, DOCS_END, DOCS_START, reportMarkdown, sectionMarkdown, targetsSvg, type Report, type Section } from './report.ts'
import { redisHit, redisUnavailable, redisValueSizes, ROWS as REDIS, twoTierHit, VALUE_SIZES, withRedis } from './redis-hit.ts'
import { stampedeAcrossProcesses, stampedeInProcess } from './stampede.ts'
import { checkTargets } from './targets.ts'

const only = process.argv
  .find((arg) => arg.startsWith('--only='))
  ?.slice('--only='.length)
  .split(',')
const wanted = (id: string) => only === undefined || only.includes(id)

const cpus = os.cpus()
const machine = `${cpus[0]?.model.trim() ?? 'unknown CPU'} × ${cpus.length}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.platform()} ${os.arch()}, Node ${process.version}`
const date = new Date().toISOString()
const loadBefore = os.loadavg()[0]!
const started = performance.now()
console.log(`dcache bench — ${date}\n${machine}\nload average ${loadBefore.toFixed(2)}\n`)

const sections: Section[] = []
function add(section: Section): void {
  sections.push(section)
  console.log(sectionMarkdown(section) + '\n')
}

if (wanted("A'")) add({ id: "A'", title: 'memory hit, sync function, 1 000 hot keys', kind: 'throughput', baseline: MEMORY.map, rows: await syncMemoryHit() })
if (wanted('A')) {
  add({ id: 'A', title: 'memory hit, async function, 1 000 hot keys', kind: 'throughput', baseline: MEMORY.asyncMap, rows: await asyncMemoryHit() })
}
if (wanted('B')) add({ id: 'B', title: 'memory miss + set, a new key each call', kind: 'throughput', baseline: MEMORY.lruMissSet, rows: await memoryMissSet() })
if (wanted('J')) add({ id: 'J', title: 'heap per cached entry (10 000 entries, after GC)', kind: 'size', rows: await memoryPerEntry() })
if (wanted('H')) {
  add({ id: 'H', title: 'embedded tier: SQLite, 100 B values', kind: 'latency', rows: await measureSqlite() })
  add({ id: 'H fs', title: 'embedded tier: file system, 100 B values', kind: 'latency', rows: await measureFs() })
}
if (wanted('F')) add({ id: 'F', title: 'stampede in one process, memory only: 1 000 calls, one cold key, 50 ms function', kind: 'stampede', rows: await stampedeInProcess() })

const redisIds = ['C', 'D', 'E', 'G', 'F', 'I']
const noRedis = redisUnavailable()
if (noRedis !== undefined && redisIds.some(wanted)) console.log(`skipping the Redis scenarios (C, D, E, F across processes, G, I): ${noRedis}\n`)
else if (redisIds.some(wanted)) {
  await withRedis(async (url) => {
    if (wanted('C')) add({ id: 'C', title: 'Redis hit, no memory tier, 1 caller', kind: 'throughput', baseline: REDIS.raw, rows: await redisHit(url, 1) })
    if (wanted('D')) {
      add({ id: 'D', title: 'Redis hit, no memory tier, 64 concurrent callers', kind: 'throughput', baseline: REDIS.pipelined, rows: await redisHit(url, 64) })
    }
    if (wanted('E')) add({ id: 'E', title: 'two tiers (memory + Redis), keys in memory', kind: 'throughput', baseline: REDIS.bentoTwoTier, rows: await twoTierHit(url) })
    if (wanted('G')) {
      const sizes = await redisValueSizes(url)
      for (const { label, keys } of VALUE_SIZES) {
        add({ id: `G ${label}`, title: `Redis hit, ${label} value (${keys} keys), 1 caller`, kind: 'throughput', baseline: REDIS.raw, rows: sizes[label]! })
      }
    }
    if (wanted('F')) {
      add({
        id: 'F Redis',
        title: 'stampede over processes sharing Redis: 1 000 calls split between them, one cold key, 50 ms function',
        kind: 'stampede',
        rows: await stampedeAcrossProcesses(url),
      })
    }
    if (wanted('I')) add({ id: 'I', title: 'cross-process invalidation delay (coherence bus)', kind: 'latency', rows: await coherenceDelay(url) })
  })
}

const report: Report = {
  date,
  machine,
  load: [loadBefore, os.loadavg()[0]!],
  seconds: (performance.now() - started) / 1_000,
  targets: checkTargets(sections),
  sections,
}
const markdown = reportMarkdown(report)
console.log(markdown.slice(0, markdown.indexOf('\n\n### ', markdown.indexOf('### Targets') + 1)))

if (only === undefined) {
  const results = new URL('../results/', import.meta.url)
  mkdirSync(results, { recursive: true })
  writeFileSync(new URL('latest.json', results), JSON.stringify(report, null, 2) + '\n')
  writeFileSync(new URL('latest.md', results), markdown + '\n')
  writeFileSync(new URL('latest.svg', results), targetsSvg(report))
  const docs = new URL('../../../docs-site/', import.meta.url)
  mkdirSync(new URL('public/bench/', docs), { recursive: true })
  copyFileSync(new URL('latest.svg', results), new URL('public/bench/latest.svg', docs))
  const page = new URL('benchmarks.md', docs)
  const text = readFileSync(page, 'utf8')
  const start = text.indexOf(DOCS_START)
  const end = text.indexOf(DOCS_END)
  if (start === -1 || end === -1) throw new Error(`docs-site/benchmarks.md has no ${DOCS_START} … ${DOCS_END} markers`)
  writeFileSync(page, text.slice(0, start) + docsSection(report, '/bench/latest.svg') + text.slice(end + DOCS_END.length))
  console.log('\nwrote packages/bench/results/latest.{json,md,svg} and docs-site/benchmarks.md')
}
