// `pnpm bench`: measured in one run on one machine; report ratios, not absolute claims.
import { mkdirSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { asyncMemoryHit, syncMemoryHit } from './memory-hit.ts'
import { table } from './measure.ts'
import { redisHit, withRedis } from './redis-hit.ts'

const machine = `${os.cpus()[0]?.model ?? 'unknown cpu'} × ${os.cpus().length}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`
const date = new Date().toISOString()
console.log(`dcache bench — ${date}\n${machine}\n`)

const [redisOne, redisMany] = await withRedis(async (url) => [await redisHit(url, 1), await redisHit(url, 64)])
const results = {
  "A' memory hit, sync function": await syncMemoryHit(),
  'A memory hit, async function': await asyncMemoryHit(),
  'C Redis hit, 1 caller': redisOne,
  'D Redis hit, 64 concurrent callers': redisMany,
}
const baselines: Record<keyof typeof results, string> = {
  "A' memory hit, sync function": 'raw Map.get',
  'A memory hit, async function': 'raw Map.get in an async function',
  'C Redis hit, 1 caller': 'ioredis GET + JSON.parse',
  'D Redis hit, 64 concurrent callers': 'ioredis GET + JSON.parse, auto-pipelined',
}
const markdown = Object.entries(results)
  .map(([title, rows]) => table(title, rows, baselines[title as keyof typeof results]))
  .join('\n\n')
console.log(markdown)

const out = new URL('../results/', import.meta.url)
mkdirSync(out, { recursive: true })
writeFileSync(new URL('latest.json', out), JSON.stringify({ date, machine, results }, null, 2))
writeFileSync(new URL('latest.md', out), `_${date} — ${machine}_\n\n${markdown}\n`)
