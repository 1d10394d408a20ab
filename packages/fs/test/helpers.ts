import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'

const WORKER = path.join(import.meta.dirname, 'fixtures', 'worker.ts')
const running = new Set<ChildProcess>()

/** How a worker process ended. */
export interface Exit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

/** A `node test/fixtures/worker.ts …` child process. */
export interface Worker {
  readonly child: ChildProcess
  /** Resolves once the worker printed `ready`. */
  readonly ready: Promise<void>
  /** Resolves when it exits, however it exits. */
  readonly exit: Promise<Exit>
  /** Write to its stdin. */
  send(text: string): void
}

/** Start a worker on the built packages; it is SIGKILLed after `timeoutMs` or by {@link killWorkers}. */
export function startWorker(args: readonly string[], timeoutMs = 60_000): Worker {
  const child = spawn(process.execPath, [WORKER, ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
  running.add(child)
  let stdout = ''
  let stderr = ''
  let onReady: () => void = () => {}
  const ready = new Promise<void>((resolve) => (onReady = resolve))
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString()
    if (stdout.includes('ready\n')) onReady()
  })
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  const exit = new Promise<Exit>((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      running.delete(child)
      onReady()
      resolve({ code, signal, stdout, stderr })
    })
  })
  return { child, ready, exit, send: (text) => child.stdin.write(text) }
}

/** Run a worker to its end and parse the JSON it printed last; rejects when it failed. */
export async function runWorker<T>(args: readonly string[], timeoutMs?: number): Promise<T> {
  return lastJson<T>(await startWorker(args, timeoutMs).exit)
}

/** The last JSON line of a finished worker; throws with its stderr when it did not exit cleanly. */
export function lastJson<T>(exit: Exit): T {
  if (exit.code !== 0) throw new Error(`worker exited with ${exit.code ?? exit.signal}:\n${exit.stderr}`)
  const line = exit.stdout.trim().split('\n').at(-1) ?? ''
  return JSON.parse(line) as T
}

/** SIGKILL every worker still running (only those this file started, by pid). */
export function killWorkers(): void {
  for (const child of running) child.kill('SIGKILL')
  running.clear()
}

/** A fresh directory under the system temp dir (mode 0700, as mkdtemp makes it). */
export function temporaryDirectory(name: string): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), `dcache-fs-${name}-`))
}

export function removeDirectory(directory: string): Promise<void> {
  return rm(directory, { recursive: true, force: true })
}

/** Every file under `directory`, recursively, as paths relative to it. */
export async function filesUnder(directory: string): Promise<string[]> {
  const entries = await readdir(directory, { recursive: true, withFileTypes: true }).catch(() => [])
  return entries.filter((entry) => entry.isFile()).map((entry) => path.relative(directory, path.join(entry.parentPath, entry.name)))
}
