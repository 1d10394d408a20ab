// Runs a fixture in a fresh `node` process and returns what it printed; killed after `timeout`.
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'

/** Runs `test/fixtures/<name>` with `args` in a new Node.js process; resolves to its stdout. */
export function runFixture(name: string, args: readonly string[], timeout = 20_000): Promise<string> {
  const script = fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url))
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [script, ...args], { timeout, killSignal: 'SIGKILL' }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${name} failed: ${error.message}\n${stderr}`))
      else resolve(stdout)
    })
  })
}
