// Whether the tests can reach real Redis servers, and what to do when they cannot: with CI=true
// a missing server fails the run; elsewhere the suite is skipped with the reason printed.
import { haveRedisServer, servicesRequired } from './redis-servers.js'

/** `undefined` when redis-server can be started here; otherwise why the Redis tests cannot run. */
export const redisUnavailable: string | undefined = haveRedisServer()
  ? undefined
  : 'the `redis-server` binary is not on PATH (Debian: apt-get install -y redis-server)'

if (redisUnavailable !== undefined) {
  if (servicesRequired) throw new Error(`CI=true and Redis tests cannot run: ${redisUnavailable}`)
  console.warn(`[@dcache/redis] skipping the Redis tests: ${redisUnavailable}`)
}
