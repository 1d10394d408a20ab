import { constants, type Dirent } from 'node:fs'
import { lstat, mkdir, open, readdir, unlink, type FileHandle } from 'node:fs/promises'
import path from 'node:path'

const CREATE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0)
/** A temp file older than this is an orphan even when its writer's pid is alive (or reused). */
const ORPHAN_AGE_MS = 60_000

/** Open a new file exclusively, creating its shard directory when missing. */
export async function createFile(file: string): Promise<FileHandle> {
  try {
    return await open(file, CREATE_FLAGS, 0o600)
  } catch (error) {
    if (codeOf(error) !== 'ENOENT') throw explain(error, file)
    await mkdir(path.dirname(file), { recursive: true, mode: 0o700 })
    return open(file, CREATE_FLAGS, 0o600)
  }
}

/** fsync a directory, so that a rename inside it survives a crash. */
export async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, constants.O_RDONLY)
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/** Delete `file`; one already gone is not an error. */
export async function removeFile(file: string): Promise<void> {
  try {
    await unlink(file)
  } catch (error) {
    if (codeOf(error) !== 'ENOENT') throw error
  }
}

/** A temp file named `….<pid>.<random>.tmp` whose writer is gone, or that is too old anyway. */
export async function isOrphan(file: string, name: string, now: number): Promise<boolean> {
  const stat = await lstat(file).catch(() => undefined)
  if (stat === undefined) return false
  if (now - stat.mtimeMs > ORPHAN_AGE_MS) return true
  const pid = Number(name.split('.').at(-3))
  return Number.isInteger(pid) && pid !== process.pid && !isAlive(pid)
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return codeOf(error) === 'EPERM'
  }
}

/** The entries of `directory`; none when it does not exist. */
export async function entriesOf(directory: string): Promise<Dirent[]> {
  try {
    return await readdir(directory, { withFileTypes: true })
  } catch (error) {
    if (codeOf(error) === 'ENOENT') return []
    throw error
  }
}

/** The paths of the directories inside `directory`. */
export async function subdirectories(directory: string): Promise<string[]> {
  return (await entriesOf(directory)).filter((entry) => entry.isDirectory()).map((entry) => path.join(directory, entry.name))
}

/** The `code` of a Node.js system error (`ENOENT`, …), if it has one. */
export function codeOf(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code
}

/** `error`, with a message that names the symbolic link when it is one (`ELOOP`). */
export function explain(error: unknown, file: string): unknown {
  if (codeOf(error) === 'ELOOP') return new Error(`refusing to follow the symbolic link at ${file}`, { cause: error })
  return error
}

/** For `.catch(ignore)`: a failure that changes nothing. */
export function ignore(): void {}
