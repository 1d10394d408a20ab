import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { dcache } from '@dcache/core'
import Database from 'better-sqlite3'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { SqliteBackend } from '../src/index.js'
import { removeTempDirs, tempDir } from './helpers.js'

/** A full disk, and the way to give space back. */
interface FullDisk {
  readonly how: string
  readonly backend: SqliteBackend
  freeSpace(): void
  /** Checks the database file afterwards. */
  integrity(): string
}

let mountPoint: string | undefined
let disk: FullDisk

beforeAll(async () => {
  const directory = await tempDir('disk-full')
  const tmpfs = join(directory, 'tmpfs')
  mkdirSync(tmpfs)
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', tmpfs], { stdio: 'pipe' })
    mountPoint = tmpfs
  } catch (error) {
    console.info(`[sqlite disk-full] cannot mount a tmpfs (${String(error).split('\n')[0]}); using SQLite's max_page_count instead`)
  }
  if (mountPoint !== undefined) {
    // A filler file takes part of the 1 MiB, so that removing it gives space back.
    const filler = join(mountPoint, 'filler')
    writeFileSync(filler, new Uint8Array(384 * 1024))
    const path = join(mountPoint, 'cache.sqlite')
    disk = {
      how: 'a 1 MiB tmpfs',
      backend: new SqliteBackend({ path, maintenanceInterval: 0 }),
      freeSpace: () => rmSync(filler),
      integrity: () => {
        const db = new Database(path, { readonly: true })
        const result = db.pragma('integrity_check', { simple: true })
        db.close()
        return String(result)
      },
    }
  } else {
    // SQLite answers SQLITE_FULL past max_page_count: the same failure as a full disk.
    const db = new Database(join(directory, 'cache.sqlite'))
    db.pragma('journal_mode = WAL')
    db.pragma('max_page_count = 160')
    disk = {
      how: 'max_page_count',
      backend: new SqliteBackend({ database: db, maintenanceInterval: 0 }),
      freeSpace: () => db.pragma('max_page_count = 100000'),
      integrity: () => String(db.pragma('integrity_check', { simple: true })),
    }
  }
})

afterAll(async () => {
  await disk?.backend.close()
  if (mountPoint !== undefined) execFileSync('umount', [mountPoint])
  await removeTempDirs()
})

it('a full disk fails writes open, shows no partial entry, keeps reads working, and writes resume when space returns', async () => {
  const { backend } = disk
  let ran = 0
  const errors: string[] = []
  const render = dcache(backend)(async function render(n: number) {
    ran++
    // Random, so that it does not compress: about 80 KB per entry.
    return `${n}:${randomBytes(60_000).toString('base64')}`
  })
  render.on('error', ({ error }) => errors.push(error.message))

  let full: number | undefined
  for (let n = 0; n < 100 && full === undefined; n++) {
    // Fail open: the caller gets its result whether or not it could be stored.
    expect(await render(n)).toMatch(new RegExp(`^${n}:`))
    if (errors.length > 0) full = n
  }
  console.info(`[sqlite disk-full] ${disk.how}: full after ${full} entries: ${errors[0]}`)
  expect(full, `the disk never filled (${disk.how})`).toBeGreaterThan(0)
  expect(errors[0]).toMatch(/set failed: .*full/)

  // Nothing of the failed write is visible; what was stored before still reads back.
  expect(await backend.get(render.key(full!))).toBeUndefined()
  const before = ran
  expect(await render(0)).toMatch(/^0:/)
  expect(ran, 'an entry stored before the disk filled is still a hit').toBe(before)

  disk.freeSpace()
  const errorsBefore = errors.length
  const resumed = await render(1_000)
  expect(errors.slice(errorsBefore), 'writes after space returned').toEqual([])
  expect(await render(1_000)).toBe(resumed)
  expect(ran, 'the entry written after space returned is a hit').toBe(before + 1)
  expect(disk.integrity()).toBe('ok')
})
