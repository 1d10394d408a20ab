import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

describe('CommonJS consumers', () => {
  it('require() the built ESM package on Node >= 22', () => {
    const fixture = fileURLToPath(new URL('./fixtures/require-esm.cjs', import.meta.url))
    // Runs against dist/: `pnpm test` builds first.
    const output = execFileSync(process.execPath, [fixture], { encoding: 'utf8' })
    expect(JSON.parse(output)).toEqual({ result: 16, runs: 1, hits: 1, memory: 'function', isDcacheError: true })
  })
})
