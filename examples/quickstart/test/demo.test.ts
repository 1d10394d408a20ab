// `pnpm demo`, run twice as real processes on a fresh cache directory: the first run computes,
// the second is answered from the SQLite file the first one wrote.
import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, expect, it } from 'vitest'

const main = fileURLToPath(new URL('../src/main.ts', import.meta.url))
let cacheHome: string

beforeAll(async () => {
  cacheHome = await mkdtemp(join(tmpdir(), 'dcache-demo-'))
})
afterAll(async () => {
  await rm(cacheHome, { recursive: true, force: true })
})

function demo(): Promise<string> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, XDG_CACHE_HOME: cacheHome }
    execFile(process.execPath, [main], { env, timeout: 20_000, killSignal: 'SIGKILL' }, (error, stdout, stderr) =>
      error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout),
    )
  })
}

/** How each of the four calls was answered, in order. */
const servedBy = (output: string) => [...output.matchAll(/ ms {2}(\w+)$/gm)].map((match) => match[1])

it('computes on the first run and answers the second run from the SQLite file', async () => {
  const first = await demo()
  expect(servedBy(first)).toEqual(['computed', 'memory', 'computed', 'memory'])
  const second = await demo()
  expect(servedBy(second)).toEqual(['sqlite', 'memory', 'sqlite', 'memory'])
  expect(second).toContain(join(cacheHome, 'dcache', 'cache.sqlite'))
  expect(second).toMatch(/tierHits: \[ 2, 2 \]/)
})
