import { constants } from 'node:fs'
import { lutimes, open } from 'node:fs/promises'
import path from 'node:path'
import { readHeader } from './entry-file.js'
import { entriesOf, isOrphan, removeFile, subdirectories } from './files.js'
import { sweepLocks } from './lock-files.js'

/** Eviction stops at this fraction of `maxBytes`, so it does not run again after every write. */
const LOW_WATER = 0.9

/** The paths one sweep covers: the entry shards, the lock directories and the marker of the last sweep. */
export interface SweptPaths {
  readonly entries: string
  readonly lockRoot: string
  readonly marker: string
}

/**
 * One pass over the directory: remove expired entries, corrupt files and orphaned temp files,
 * evict least recently used entries beyond `maxBytes`, then remove free and expired locks.
 * @returns how many expired entries were removed
 */
export async function sweepDirectory(paths: SweptPaths, maxBytes: number, signal: AbortSignal | undefined): Promise<number> {
  await (await open(paths.marker, constants.O_WRONLY | constants.O_CREAT | (constants.O_NOFOLLOW ?? 0), 0o600)).close()
  await lutimes(paths.marker, Date.now() / 1000, Date.now() / 1000)
  const now = Date.now()
  const kept: { file: string; size: number; usedAt: number }[] = []
  let expired = 0
  let total = 0
  await eachEntry(paths.entries, signal, async (file, name) => {
    if (name.endsWith('.tmp')) {
      if (await isOrphan(file, name, now)) await removeFile(file)
      return
    }
    const header = await readHeader(file)
    if (header === undefined) return
    if (typeof header === 'string' || (header.expiresAt !== null && header.expiresAt <= now)) {
      // Removing a file a writer replaced a moment ago only costs a miss; a cache may forget.
      await removeFile(file)
      if (typeof header !== 'string') expired++
      return
    }
    kept.push({ file, size: header.size, usedAt: header.usedAt })
    total += header.size
  })
  if (total > maxBytes) {
    kept.sort((a, b) => a.usedAt - b.usedAt)
    for (const { file, size } of kept) {
      if (total <= maxBytes * LOW_WATER) break
      signal?.throwIfAborted()
      await removeFile(file)
      total -= size
    }
  }
  await sweepLocks(paths.lockRoot, signal, now)
  return expired
}

/** Visit every file in the two levels of shard directories under `entries`. */
export async function eachEntry(
  entries: string,
  signal: AbortSignal | undefined,
  visit: (file: string, name: string) => Promise<void>,
): Promise<void> {
  // Only real directories are descended into: readdir's file types come from lstat semantics.
  for (const first of await subdirectories(entries)) {
    for (const second of await subdirectories(first)) {
      for (const entry of await entriesOf(second)) {
        signal?.throwIfAborted()
        if (entry.isFile()) await visit(path.join(second, entry.name), entry.name)
      }
    }
  }
}
