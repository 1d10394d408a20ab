// A lock is a directory holding exactly one file, whose *name* is the lock's state: `free`, or
// `<token>.<expiresAt>`. Every change of state is one rename of that file, and rename is atomic:
// of several processes renaming the same name, one succeeds and the others get ENOENT. So a
// stale lock is taken over by exactly one process, and release or extend only by the owner. A
// directory is created with its `free` file inside (renamed into place whole), never empty.
import { randomBytes, randomUUID } from 'node:crypto'
import { mkdir, readdir, rename, rmdir, unlink } from 'node:fs/promises'
import path from 'node:path'
import { codeOf, createFile, entriesOf, ignore, isOrphan } from './files.js'

const FREE = 'free'

interface LockState {
  /** The state file's name. */
  readonly name: string
  /** The owner's token; `undefined` when free. */
  readonly token: string | undefined
  /** Epoch ms; 0 when free. */
  readonly expiresAt: number
}

/** Take the lock at `directory` for `ttl` ms: its new token, or `undefined` when it is held. */
export async function acquireLock(directory: string, ttl: number): Promise<string | undefined> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const state = await readLock(directory)
    if (state === undefined) {
      await createLock(directory)
      continue
    }
    if (state.token !== undefined && state.expiresAt > Date.now()) return undefined
    const token = randomUUID()
    if (await renameState(directory, state.name, lockName(token, ttl))) return token
  }
  return undefined
}

/** Free the lock at `directory` if `token` owns it; `false` when it does not. */
export async function releaseLock(directory: string, token: string): Promise<boolean> {
  const state = await readLock(directory)
  return state?.token === token && renameState(directory, state.name, FREE)
}

/** Renew the lock at `directory` for `ttl` ms if `token` owns it and it has not expired. */
export async function extendLock(directory: string, token: string, ttl: number): Promise<boolean> {
  const state = await readLock(directory)
  if (state?.token !== token || state.expiresAt <= Date.now()) return false
  return renameState(directory, state.name, lockName(token, ttl))
}

/** Remove free and expired locks under `root`, and lock directories orphaned while being created. */
export async function sweepLocks(root: string, signal: AbortSignal | undefined, now: number): Promise<void> {
  for (const entry of await entriesOf(root)) {
    signal?.throwIfAborted()
    if (!entry.isDirectory()) continue
    const directory = path.join(root, entry.name)
    if (entry.name.endsWith('.tmp')) {
      if (await isOrphan(directory, entry.name.slice(1), now)) {
        await unlink(path.join(directory, FREE)).catch(ignore)
        await rmdir(directory).catch(ignore)
      }
      continue
    }
    // A directory with stray files in it is left alone (tryAcquire reports it).
    const state = await readLock(directory).catch(() => undefined)
    if (state === undefined || (state.token !== undefined && state.expiresAt > now)) continue
    // Unlinking that exact name is as exclusive as a rename; whoever lost the race retries.
    await unlink(path.join(directory, state.name)).catch(ignore)
    await rmdir(directory).catch(ignore)
  }
}

async function createLock(directory: string): Promise<void> {
  // Beside the lock: the rename stays in one directory, and the lock sweep finds it if this process dies halfway.
  const temp = path.join(path.dirname(directory), `.${process.pid}.${randomBytes(6).toString('hex')}.tmp`)
  await mkdir(temp, { mode: 0o700 })
  await (await createFile(path.join(temp, FREE))).close()
  // Onto a missing or empty directory this succeeds; onto a live lock it fails, and that one stays.
  await rename(temp, directory).catch(async (error: unknown) => {
    await unlink(path.join(temp, FREE)).catch(ignore)
    await rmdir(temp).catch(ignore)
    if (codeOf(error) !== 'ENOTEMPTY' && codeOf(error) !== 'EEXIST') throw error
  })
}

async function readLock(directory: string): Promise<LockState | undefined> {
  let names: string[]
  try {
    names = await readdir(directory)
  } catch (error) {
    if (codeOf(error) === 'ENOENT') return undefined
    throw error
  }
  const [name] = names
  if (name === undefined) return undefined
  if (names.length > 1) throw new Error(`lock directory ${directory} holds ${names.length} files; expected one`)
  if (name === FREE) return { name, token: undefined, expiresAt: 0 }
  const dot = name.lastIndexOf('.')
  return { name, token: name.slice(0, dot), expiresAt: Number(name.slice(dot + 1)) }
}

function lockName(token: string, ttl: number): string {
  return `${token}.${Math.ceil(Date.now() + ttl)}`
}

/** `true` when this call moved the lock from state `from` to `to`; `false` when another did first. */
async function renameState(directory: string, from: string, to: string): Promise<boolean> {
  try {
    await rename(path.join(directory, from), path.join(directory, to))
    return true
  } catch (error) {
    if (codeOf(error) === 'ENOENT') return false
    throw error
  }
}
