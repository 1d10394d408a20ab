import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** How a child process ended, with everything it printed. */
export interface ChildExit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

/** A `node` process running one of `test/fixtures/`, started by this test file. */
export interface Child {
  readonly process: ChildProcess
  /** Resolves with the first stdout line (from the start) that satisfies `match`. */
  line(match?: (line: string) => boolean): Promise<string>
  /** Resolves when the process has exited. */
  readonly exit: Promise<ChildExit>
}

const children = new Set<ChildProcess>()
const directories: string[] = []

/**
 * Runs `node test/fixtures/<fixture> ...args`. The fixtures import the built packages (dist/).
 * A child still running after `timeoutMs` is killed, and its `line()` waits reject.
 */
export function startChild(fixture: string, args: readonly string[], timeoutMs = 60_000): Child {
  const file = fileURLToPath(new URL(`./fixtures/${fixture}`, import.meta.url))
  const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', file, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  children.add(child)
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  let stdout = ''
  let stderr = ''
  const waiters: { match: (line: string) => boolean; resolve: (line: string) => void }[] = []
  const lines: string[] = []
  let partial = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk
    const complete = (partial + chunk).split('\n')
    partial = complete.pop() ?? ''
    lines.push(...complete)
    for (const waiter of [...waiters]) {
      const found = lines.find(waiter.match)
      if (found !== undefined) {
        waiters.splice(waiters.indexOf(waiter), 1)
        waiter.resolve(found)
      }
    }
  })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  const exit = new Promise<ChildExit>((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      children.delete(child)
      resolve({ code, signal, stdout, stderr })
    })
  })
  return {
    process: child,
    exit,
    line: (match = () => true) =>
      new Promise<string>((resolve, reject) => {
        const found = lines.find(match)
        if (found !== undefined) return resolve(found)
        waiters.push({ match, resolve })
        void exit.then(({ code, signal }) =>
          reject(new Error(`${fixture} exited (code ${code}, signal ${signal}) before printing the line; stderr:\n${stderr}`)),
        )
      }),
  }
}

/** Kills (by pid) every child this file started that is still running. */
export function killChildren(): void {
  for (const child of children) child.kill('SIGKILL')
}

/** A fresh temporary directory, removed by {@link removeTempDirs}. */
export async function tempDir(name: string): Promise<string> {
  const directory = await mkdtemp(join(tmpdir(), `dcache-sqlite-${name}-`))
  directories.push(directory)
  return directory
}

/** Removes every directory made by {@link tempDir}. */
export async function removeTempDirs(): Promise<void> {
  for (const directory of directories.splice(0)) await rm(directory, { recursive: true, force: true })
}
