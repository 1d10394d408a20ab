import { DcacheError } from '@dcache/core'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RedisBackend, type RedisBackendOptions } from '../src/index.js'
import { redisUnavailable } from './support/availability.js'
import { RedisServer } from './support/redis-servers.js'

describe('RedisBackend options', () => {
  it.each<[string, RedisBackendOptions, RegExp]>([
    ['a zero maxValueBytes', { maxValueBytes: 0 }, /`maxValueBytes` must be a positive integer, got 0/],
    ['a client with connection options', { client: new Redis({ lazyConnect: true }), host: '127.0.0.1', db: 2 }, /not both \(got `client` and `host`, `db`\)/],
    ['a Cluster with a db', { nodes: [{ host: '127.0.0.1', port: 7000 }], db: 1 }, /a Redis Cluster has no `db`/],
    ['an empty nodes list', { nodes: [] }, /`nodes` needs at least one startup node/],
    ['a prefix that is not a string', { prefix: 42 as unknown as string }, /`prefix` must be a string/],
  ])('refuses %s with a typed error that names the option', (_, options, message) => {
    let thrown: unknown
    try {
      new RedisBackend(options)
    } catch (error) {
      thrown = error
    }
    expect(thrown).toBeInstanceOf(TypeError)
    expect(DcacheError.is(thrown, 'E_INVALID_OPTION')).toBe(true)
    expect((thrown as Error).message).toMatch(message)
  })
})

describe.skipIf(redisUnavailable !== undefined)('RedisBackend with your client', () => {
  let server: RedisServer
  beforeAll(async () => {
    server = await RedisServer.start()
  })
  afterAll(async () => {
    await server?.stop()
  })

  it('connects a lazyConnect client on first use, and never closes it', async () => {
    const client = new Redis({ port: server.port, lazyConnect: true })
    const backend = new RedisBackend({ client, prefix: 'lazy:' })
    try {
      await backend.set({ key: 'k', value: new Uint8Array([1, 2]), expiresAt: null })
      const entry = await backend.get('k')
      expect([...(entry?.value ?? [])]).toEqual([1, 2])
      expect(entry?.expiresAt).toBeNull()
      await backend.close()
      expect(client.status).toBe('ready')
      expect(await client.exists('lazy:k')).toBe(1)
    } finally {
      client.disconnect()
    }
  })
})
