// Real redis-server processes for the tests: a standalone server that a test may kill, freeze
// and restart, and a Redis Cluster. They listen on free loopback ports and are stopped by pid.
// Contributors with Docker may point the tests at their own servers with REDIS_URL /
// REDIS_CLUSTER_NODES instead; without either, the local `redis-server` binary is used.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'

const HOST = '127.0.0.1'

/** Whether a missing server must fail the run (CI) rather than skip with a printed reason. */
export const servicesRequired = process.env['CI'] === 'true' || process.env['CI'] === '1'

/** A free TCP port on loopback. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, HOST, () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

/** Whether the local `redis-server` binary can be started. */
export function haveRedisServer(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0
}

/** Resolves once `PING` answers on `port`, or rejects after `ms`. */
async function waitForPing(port: number, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms
  for (;;) {
    const client = new Redis({ host: HOST, port, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 })
    client.on('error', () => {})
    try {
      await client.connect()
      await client.ping()
      return
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer PING within ${ms} ms`, { cause: error })
    } finally {
      client.disconnect()
    }
    await sleep(25)
  }
}

/** One redis-server process this test run started. */
export class RedisServer {
  readonly port: number
  readonly #dir: string
  readonly #args: readonly string[]
  #child: ChildProcess | undefined

  private constructor(port: number, dir: string, args: readonly string[]) {
    this.port = port
    this.#dir = dir
    this.#args = args
  }

  /** Starts a server on a free loopback port; extra `args` are redis-server options. */
  static async start(args: readonly string[] = []): Promise<RedisServer> {
    const server = new RedisServer(await freePort(), mkdtempSync(join(tmpdir(), 'dcache-redis-')), args)
    await server.#spawn()
    return server
  }

  /** `redis://127.0.0.1:<port>` */
  get url(): string {
    return `redis://${HOST}:${this.port}`
  }

  /** The pid of the running process, if any. */
  get pid(): number | undefined {
    return this.#child?.pid
  }

  async #spawn(): Promise<void> {
    const child = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', HOST, '--save', '', '--appendonly', 'no', '--dir', this.#dir, ...this.#args],
      { stdio: 'ignore' },
    )
    this.#child = child
    child.once('exit', () => {
      if (this.#child === child) this.#child = undefined
    })
    await waitForPing(this.port)
  }

  /** Sends `signal` to the process (SIGKILL: it is gone; SIGSTOP: frozen until `resume`). */
  signal(signal: NodeJS.Signals): void {
    this.#child?.kill(signal)
  }

  /** Kills the process with SIGKILL and waits until it has exited. */
  async kill(): Promise<void> {
    const child = this.#child
    if (child === undefined) return
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    child.kill('SIGKILL')
    await exited
  }

  /** Starts the server again on the same port (after `kill`). */
  async restart(): Promise<void> {
    await this.kill()
    await this.#spawn()
  }

  /** Kills the process and removes its directory. */
  async stop(): Promise<void> {
    this.#child?.kill('SIGCONT')
    await this.kill()
    rmSync(this.#dir, { recursive: true, force: true })
  }
}

/** A Redis Cluster of redis-server processes on loopback: masters, each with one replica. */
export class RedisCluster {
  readonly nodes: readonly RedisServer[]

  private constructor(nodes: readonly RedisServer[]) {
    this.nodes = nodes
  }

  /** Starts `masters` masters and as many replicas, and joins them into a cluster. */
  static async start(masters = 3): Promise<RedisCluster> {
    const clusterArgs = ['--cluster-enabled', 'yes', '--cluster-node-timeout', '1000', '--cluster-require-full-coverage', 'no']
    const nodes = await Promise.all(
      Array.from({ length: masters * 2 }, (_, i) => RedisServer.start([...clusterArgs, '--cluster-config-file', `nodes-${i}.conf`])),
    )
    const cluster = new RedisCluster(nodes)
    try {
      const addresses = nodes.map((node) => `${HOST}:${node.port}`)
      const created = spawnSync('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', '1', '--cluster-yes'], {
        encoding: 'utf8',
        timeout: 30_000,
      })
      if (created.status !== 0) throw new Error(`redis-cli --cluster create failed: ${created.stdout}${created.stderr}`)
      await cluster.waitUntilHealthy()
      return cluster
    } catch (error) {
      await cluster.stop()
      throw error
    }
  }

  /** Startup nodes for an ioredis `Cluster`. */
  get startupNodes(): { host: string; port: number }[] {
    return this.nodes.map((node) => ({ host: HOST, port: node.port }))
  }

  /** Resolves when every live node reports `cluster_state:ok`, every slot has a master and every replica is in sync. */
  async waitUntilHealthy(ms = 30_000): Promise<void> {
    const deadline = Date.now() + ms
    for (;;) {
      if (await this.#healthy()) return
      if (Date.now() > deadline) throw new Error(`the cluster did not become healthy within ${ms} ms`)
      await sleep(100)
    }
  }

  async #healthy(): Promise<boolean> {
    const live = this.nodes.filter((node) => node.pid !== undefined)
    const states = await Promise.all(
      live.map(async (node) => {
        const client = new Redis({ host: HOST, port: node.port, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 })
        client.on('error', () => {})
        try {
          await client.connect()
          const info = await client.cluster('INFO')
          // A replica that never synced with its master is not allowed to fail over for it.
          const replication = await client.info('replication')
          const synced = !/role:slave/.test(replication) || /master_link_status:up/.test(replication)
          return /cluster_state:ok/.test(info) && /cluster_slots_ok:16384/.test(info) && synced
        } catch {
          return false
        } finally {
          client.disconnect()
        }
      }),
    )
    return states.length > 0 && states.every(Boolean)
  }

  /** The node that serves `slot` as master now. */
  async masterOf(slot: number): Promise<RedisServer> {
    for (const node of this.nodes) {
      if (node.pid === undefined) continue
      const client = new Redis({ host: HOST, port: node.port, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 })
      client.on('error', () => {})
      try {
        await client.connect()
        const slots = await client.cluster('SLOTS')
        const range = slots.find(([from, to]) => slot >= from && slot <= to)
        const port = range?.[2]?.[1]
        const master = this.nodes.find((n) => n.port === port)
        if (master !== undefined) return master
      } catch {
        // Ask the next node.
      } finally {
        client.disconnect()
      }
    }
    throw new Error(`no live node knows the master of slot ${slot}`)
  }

  /** Stops every node. */
  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.stop()))
  }
}
