// Several real Node.js processes sharing one real Redis.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { redisUnavailable } from './support/availability.js'
import { runFixture } from './support/node-process.js'
import { RedisServer } from './support/redis-servers.js'

let server: RedisServer

describe.skipIf(redisUnavailable !== undefined)('processes sharing a Redis', () => {
  beforeAll(async () => {
    server = await RedisServer.start()
  })
  afterAll(async () => {
    await server?.stop()
  })

  it("gives a second process a hit for what the first computed: the function never runs there", async () => {
    const prefix = `share-${Date.now()}:`
    const first = JSON.parse(await runFixture('share.ts', [String(server.port), prefix, 'first']))
    const second = JSON.parse(await runFixture('share.ts', [String(server.port), prefix, 'second']))
    expect(first).toMatchObject({ computedBy: 'first', runs: 1, info: { misses: 1, hits: 0 } })
    expect(second).toMatchObject({ computedBy: 'first', runs: 0, info: { misses: 0, hits: 1 }, isBigInt: true, isDate: true })
  })
})
