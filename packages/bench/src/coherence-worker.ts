// One process of scenario I (started by coherence.ts): a conversation of JSON lines on stdin.
//   {"op":"prepare","role","url","prefix","keys"} → answers {"ready":true}. A reader keeps keys
//       0..keys-1 in its memory tier (above Redis) and, whenever another process's notice evicts
//       one, writes {"evicted":id,"at":ms} (and reads it back, so the next notice has work to do).
//   {"op":"invalidate","id"} (writer) → invalidates `id` everywhere; answers {"at":ms}, when it began.
// Roles: dcache-reader, dcache-writer, bentocache-reader, bentocache-writer. Times are epoch ms.
import { createInterface } from 'node:readline'
import { dcache, InMemoryBackend } from '@dcache/core'
import { RedisBackend } from '@dcache/redis'
import { Redis } from 'ioredis'
import { loadUser } from './fixtures.ts'
import { bentocacheTwoTierCache, redisOptions, whenReady } from './peers.ts'

interface Prepare {
  readonly role: string
  readonly url: string
  readonly prefix: string
  readonly keys: number
}

const now = () => performance.timeOrigin + performance.now()
const answer = (message: object) => process.stdout.write(JSON.stringify(message) + '\n')

let invalidate: ((id: number) => Promise<unknown>) | undefined
let close: () => Promise<void> = async () => {}

async function prepare({ role, url, prefix, keys }: Prepare): Promise<void> {
  if (role === 'dcache-reader' || role === 'dcache-writer') {
    const backend = new RedisBackend({ url, prefix })
    const tiers = role === 'dcache-reader' ? [new InMemoryBackend(), backend] : [backend]
    const price = dcache({ multiple: tiers })(async function price(id: number) {
      return loadUser(id)
    })
    close = () => backend.close()
    await backend.health()
    if (role === 'dcache-writer') {
      invalidate = (id) => price.invalidate(id) as Promise<void>
      return
    }
    const ids = new Map<string, number>()
    for (let id = 0; id < keys; id++) {
      ids.set(price.key(id), id)
      await price(id)
    }
    price.on('evict', (event) => {
      const id = ids.get(event.key)
      answer({ evicted: id, at: now() })
      if (id !== undefined) void price(id)
    })
    // Notices flow once the bus is subscribed: give the subscription a moment.
    await new Promise((resolve) => setTimeout(resolve, 200))
    return
  }
  const client = new Redis(redisOptions(url))
  const bento = bentocacheTwoTierCache(client, url, prefix)
  close = async () => {
    await bento.disconnectAll()
    client.disconnect()
  }
  await whenReady(client)
  if (role === 'bentocache-writer') {
    invalidate = (id) => bento.delete({ key: `price:${id}` })
    return
  }
  const get = (id: number) => bento.getOrSet({ key: `price:${id}`, factory: () => loadUser(id) })
  for (let id = 0; id < keys; id++) await get(id)
  bento.on('bus:message:received', ({ message }: { message: { keys: string[] } }) => {
    const at = now()
    for (const key of message.keys) {
      const id = Number(key.slice('price:'.length))
      answer({ evicted: id, at })
      void get(id)
    }
  })
  await new Promise((resolve) => setTimeout(resolve, 200))
}

for await (const line of createInterface({ input: process.stdin })) {
  const message = JSON.parse(line) as { op: string; id: number } & Prepare
  if (message.op === 'prepare') {
    await prepare(message)
    answer({ ready: true })
  } else if (message.op === 'invalidate' && invalidate !== undefined) {
    const at = now()
    await invalidate(message.id)
    answer({ at })
  }
}
await close()
