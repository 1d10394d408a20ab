// A bench script running in its own Node.js process, spoken to in JSON lines over stdin/stdout.
import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

/** A child process running `src/<script>`; killed by its own pid if it does not exit when asked. */
export class Child {
  readonly #child: ChildProcess
  readonly #lines: string[] = []
  #wake: (() => void) | undefined
  readonly #exited: Promise<void>

  constructor(script: string) {
    const path = fileURLToPath(new URL(`./${script}`, import.meta.url))
    this.#child = spawn(process.execPath, [path], { stdio: ['pipe', 'pipe', 'inherit'] })
    this.#exited = new Promise((resolve) => this.#child.once('exit', () => resolve()))
    createInterface({ input: this.#child.stdout! }).on('line', (line) => {
      this.#lines.push(line)
      this.#wake?.()
    })
  }

  /** Sends `message` as one JSON line. */
  send(message: object): void {
    this.#child.stdin!.write(JSON.stringify(message) + '\n')
  }

  /** The next line the process writes, parsed; rejects after `timeoutMs`. */
  async next<T>(timeoutMs = 30_000): Promise<T> {
    const deadline = Date.now() + timeoutMs
    while (this.#lines.length === 0) {
      if (Date.now() > deadline || this.#child.exitCode !== null) throw new Error('bench child process: no answer in time')
      await new Promise<void>((resolve) => {
        this.#wake = resolve
        setTimeout(resolve, 100)
      })
    }
    return JSON.parse(this.#lines.shift()!) as T
  }

  /** Sends `message` and resolves to the next line. */
  ask<T>(message: object, timeoutMs?: number): Promise<T> {
    this.send(message)
    return this.next<T>(timeoutMs)
  }

  /** Ends the conversation; kills the process (by its pid) if it does not exit within 5 s. */
  async stop(): Promise<void> {
    this.#child.stdin!.end()
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 5_000)
    await this.#exited
    clearTimeout(timer)
  }
}
