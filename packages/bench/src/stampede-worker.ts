// One process of scenario F (started by stampede.ts): a conversation of JSON lines on stdin.
//   {"op":"prepare","impl","url","prefix","callers","workMs"} → sets the implementation up,
//       connects, answers {"ready":true}
//   {"op":"go","at"} → at epoch ms `at`, makes `callers` concurrent calls on one cold key and
//       answers {"runs","ms"}: how often the function ran, and how long the burst took
//   {"op":"close"} → closes the implementation, answers {"closed":true}
import { createInterface } from 'node:readline'
import { setTimeout as sleep } from 'node:timers/promises'
import { dcache } from '@dcache/core'
import { RedisBackend } from '@dcache/redis'
import { user, type User } from './fixtures.ts'
import { asyncCacheDedupeRedis, bentocacheRedis, cachifiedRedis, type Peer } from './peers.ts'

interface Prepare {
  /** 'dcache', 'dcache-lock', 'bentocache', 'cachified' or 'async-cache-dedupe'. */
  readonly impl: string
  readonly url: string
  readonly prefix: string
  readonly callers: number
  readonly workMs: number
}

let runs = 0
let current: { peer: Peer; callers: number } | undefined

function setUp({ impl, url, prefix, workMs }: Prepare): Peer {
  const slow = async (id: number): Promise<User> => {
    runs++
    await sleep(workMs)
    return user(id)
  }
  if (impl === 'dcache' || impl === 'dcache-lock') {
    const backend = new RedisBackend({ url, prefix })
    const get = dcache(backend, { lock: impl === 'dcache-lock' })(async function report(id: number) {
      return slow(id)
    })
    return { name: impl, get, ready: () => backend.health().then(() => undefined), close: () => backend.close() }
  }
  if (impl === 'bentocache') return bentocacheRedis(url, prefix, slow)
  if (impl === 'cachified') return cachifiedRedis(url, prefix, slow)
  if (impl === 'async-cache-dedupe') return asyncCacheDedupeRedis(url, prefix, slow)
  throw new Error(`unknown implementation ${impl}`)
}

const answer = (message: object) => process.stdout.write(JSON.stringify(message) + '\n')

for await (const line of createInterface({ input: process.stdin })) {
  const message = JSON.parse(line) as { op: string; at?: number } & Prepare
  if (message.op === 'prepare') {
    runs = 0
    current = { peer: setUp(message), callers: message.callers }
    await current.peer.ready?.()
    answer({ ready: true })
  } else if (message.op === 'go' && current !== undefined) {
    const { peer, callers } = current
    await sleep(Math.max(0, (message.at ?? 0) - Date.now()))
    const start = performance.now()
    await Promise.all(Array.from({ length: callers }, () => peer.get(1)))
    answer({ runs, ms: performance.now() - start })
  } else if (message.op === 'close' && current !== undefined) {
    await current.peer.close()
    current = undefined
    answer({ closed: true })
  }
}
