// A full disk: a 1 MiB tmpfs when this process may mount one (root), else ENOSPC injected into
// FileHandle.writeFile after half of the bytes, the way a real full disk cuts a write short.
import { execFileSync } from 'node:child_process'
import { open, unlink } from 'node:fs/promises'
import path from 'node:path'
import { dcache, type ErrorEvent } from '@dcache/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FileSystemBackend } from '../src/index.js'
import { filesUnder, removeDirectory, temporaryDirectory } from './helpers.js'

let mountPoint: string
let mounted = false
let injected: { full: boolean; restore: () => void } | undefined

beforeAll(async () => {
  mountPoint = await temporaryDirectory('disk-full')
  const why = mountTmpfs(mountPoint)
  if (why === undefined) {
    mounted = true
    return
  }
  console.info(`[fs] disk-full test: cannot mount a tmpfs (${why}); injecting ENOSPC instead`)
  injected = await injectEnospc()
})

afterAll(async () => {
  injected?.restore()
  if (mounted) execFileSync('umount', [mountPoint])
  await removeDirectory(mountPoint)
})

function mountTmpfs(directory: string): string | undefined {
  if (process.env['DCACHE_TEST_INJECT_ENOSPC'] === '1') return 'DCACHE_TEST_INJECT_ENOSPC=1'
  if (process.getuid?.() !== 0) return 'not root'
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0700', 'tmpfs', directory], { stdio: 'pipe' })
    return undefined
  } catch (error) {
    return String((error as { stderr?: Buffer }).stderr ?? error).trim()
  }
}

async function injectEnospc(): Promise<{ full: boolean; restore: () => void }> {
  const probe = await open(path.join(mountPoint, 'probe'), 'w')
  const prototype = Object.getPrototypeOf(probe) as { writeFile: (data: Uint8Array) => Promise<void> }
  await probe.close()
  await unlink(path.join(mountPoint, 'probe'))
  const original = prototype.writeFile
  const state = {
    full: false,
    restore: () => {
      prototype.writeFile = original
    },
  }
  prototype.writeFile = async function (this: unknown, data: Uint8Array) {
    if (!state.full) return original.call(this, data)
    await original.call(this, data.subarray(0, data.byteLength >> 1))
    throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' })
  }
  return state
}

/** Fill the disk to the last byte (tmpfs), or switch the injected failure on. */
async function fillDisk(): Promise<() => Promise<void>> {
  if (injected) {
    injected.full = true
    return async () => {
      injected!.full = false
    }
  }
  const filler = path.join(mountPoint, 'filler')
  const handle = await open(filler, 'w')
  const chunk = new Uint8Array(4096)
  try {
    for (;;) await handle.write(chunk)
  } catch (error) {
    expect((error as NodeJS.ErrnoException).code).toBe('ENOSPC')
  } finally {
    await handle.close()
  }
  return () => unlink(filler)
}

describe('FileSystemBackend on a full disk', () => {
  it('fails writes open with no partial entry, keeps serving reads, and writes again once space returns', async () => {
    const directory = path.join(mountPoint, 'cache')
    const backend = new FileSystemBackend({ directory, maxBytes: Infinity })
    const old = new Uint8Array(8 * 1024).fill(1)
    await backend.set({ key: 'kept', value: old, expiresAt: null })
    const errors: ErrorEvent[] = []
    let runs = 0
    const load = dcache({ backend, onEvent: (event) => event.type === 'error' && errors.push(event) })(async function load(id: number) {
      runs++
      return { id, blob: 'x'.repeat(200 * 1024) }
    })

    const freeSpace = await fillDisk()
    const big = new Uint8Array(200 * 1024).fill(2)
    await expect(backend.set({ key: 'new', value: big, expiresAt: null })).rejects.toMatchObject({ code: 'ENOSPC' })
    await expect(backend.set({ key: 'kept', value: big, expiresAt: null })).rejects.toMatchObject({ code: 'ENOSPC' })
    expect(await backend.get('new'), 'no partial entry is visible').toBeUndefined()
    expect((await backend.get('kept'))?.value, 'the old entry is intact').toEqual(old)
    expect((await filesUnder(directory)).filter((file) => file.endsWith('.tmp')), 'temp files are removed').toEqual([])
    // Through dcache: the result is returned (fail open) and the write failure is an event.
    expect((await load(1)).id).toBe(1)
    expect(load.cacheInfo().errors).toBe(1)
    expect(errors[0]?.error.message).toMatch(/\[dcache:fs\] set failed: ENOSPC/)

    await freeSpace()
    await backend.set({ key: 'new', value: big, expiresAt: null })
    expect((await backend.get('new'))?.value).toEqual(big)
    expect((await load(2)).id).toBe(2)
    expect((await load(2)).id).toBe(2)
    expect(runs, 'the entry written after space returned is a hit').toBe(2)
    expect(load.cacheInfo()).toMatchObject({ errors: 1, hits: 1 })
    await backend.close()
  })

  it('fills up through dcache without ever returning a wrong value', async () => {
    const directory = path.join(mountPoint, 'cache-2')
    const backend = new FileSystemBackend({ directory, maxBytes: Infinity })
    const freeSpace = await fillDisk()
    const echo = dcache({ backend })(async function echo(id: number) {
      return `${id}:`.repeat(10_000)
    })
    for (let id = 0; id < 20; id++) expect(await echo(id)).toBe(`${id}:`.repeat(10_000))
    await freeSpace()
    for (let id = 0; id < 20; id++) expect(await echo(id)).toBe(`${id}:`.repeat(10_000))
    await backend.close()
  })
})
