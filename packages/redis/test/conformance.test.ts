import { describeBackend } from '@dcache/backend-tests'
import { Cluster, Redis } from 'ioredis'
import { afterAll, beforeAll, describe } from 'vitest'
import { RedisBackend } from '../src/index.js'
import { redisUnavailable } from './support/availability.js'
import { RedisCluster, RedisServer } from './support/redis-servers.js'

let server: RedisServer
let cluster: RedisCluster
const run = `conformance-${process.pid}:`
/** Clients the tests pass in: the backend never closes those, so the test does. */
const ownClients: (Redis | Cluster)[] = []
function own<C extends Redis | Cluster>(client: C): C {
  ownClients.push(client)
  return client
}

describe.skipIf(redisUnavailable !== undefined)('RedisBackend on real servers', () => {
  beforeAll(async () => {
    ;[server, cluster] = await Promise.all([RedisServer.start(), RedisCluster.start()])
  }, 60_000)
  afterAll(async () => {
    for (const client of ownClients) client.disconnect()
    await Promise.all([server?.stop(), cluster?.stop()])
  })

  describeBackend('RedisBackend (standalone)', {
    create: () => new RedisBackend({ port: server.port, prefix: run }),
    createWithPrefix: (prefix) => new RedisBackend({ port: server.port, prefix: run + prefix }),
  })

  describeBackend('RedisBackend (url, db 3)', {
    create: () => new RedisBackend({ url: `${server.url}/3`, prefix: run }),
  })

  describeBackend('RedisBackend (your own ioredis client)', {
    create: () => new RedisBackend({ client: own(new Redis({ port: server.port })), prefix: run }),
  })

  describeBackend('RedisBackend (Cluster)', {
    create: () => new RedisBackend({ nodes: cluster.startupNodes, prefix: run }),
    createWithPrefix: (prefix) => new RedisBackend({ nodes: cluster.startupNodes, prefix: run + prefix }),
  })

  describeBackend('RedisBackend (your own ioredis Cluster)', {
    create: () => new RedisBackend({ client: own(new Cluster(cluster.startupNodes)), prefix: run }),
  })
})
