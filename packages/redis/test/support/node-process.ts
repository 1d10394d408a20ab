// Runs fixtures in fresh `node` processes: to completion (`runFixture`), or as a line-based
// conversation (`startFixture`). Every process is killed by pid when the test is done with it.
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url))

/** Runs `test/fixtures/<name>` with `args` in a new Node.js process; resolves to its stdout. */
export function runFixture(name: string, args: readonly string[], timeout = 20_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [fixture(name), ...args], { timeout, killSignal: 'SIGKILL' }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${name} failed: ${error.message}\n${stderr}`))
      else resolve(stdout)
    })
  })
}

/** A fixture running in its own process, read line by line. */
export class FixtureProcess {
  readonly child: ChildProcess
  readonly #lines: string[] = []
  #waiting: (() => void) | undefined
  readonly exited: Promise<number | null>

  constructor(name: string, args: readonly string[]) {
    this.child = spawn(process.execPath, [fixture(name), ...args], { stdio: ['pipe', 'pipe', 'inherit'] })
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)))
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      this.#lines.push(line)
      this.#waiting?.()
    })
  }

  /** The next line that `accept` takes, waiting up to `timeout` ms; lines before it are dropped. */
  async next<T>(accept: (line: string) => T | undefined, timeout = 10_000): Promise<T> {
    const deadline = Date.now() + timeout
    for (;;) {
      while (this.#lines.length > 0) {
        const taken = accept(this.#lines.shift() as string)
        if (taken !== undefined) return taken
      }
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`no expected line from the fixture within ${timeout} ms`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.#waiting = () => {
          clearTimeout(timer)
          resolve()
        }
      })
      this.#waiting = undefined
    }
  }

  /** Writes one line to the process's stdin. */
  send(line: string): void {
    this.child.stdin!.write(line + '\n')
  }

  /** Closes stdin and waits for the process to exit; SIGKILL after `timeout` ms. */
  async stop(timeout = 5_000): Promise<void> {
    this.child.stdin!.end()
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeout)
    await this.exited
    clearTimeout(timer)
  }

  /** Kills the process now (SIGKILL) and waits until it is gone. */
  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL')
    await this.exited
  }
}
