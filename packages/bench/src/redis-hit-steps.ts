// `pnpm --filter @dcache/bench run c-steps`: where the time of scenario C (a Redis hit, one
// caller, no memory tier) goes, one step at a time. The variants run in interleaved rounds of a
// few hundred calls; each round's ratio to raw ioredis is taken, and the median and quartiles of
// those ratios are reported. Pairing the variants round by round cancels most of this VM's drift,
// which moves whole repetitions of the main bench by 10–20 %.
import { dcache, decodeValue, openEnvelope } from '@dcache/core'
import { RedisBackend } from '@dcache/redis'
import { Redis } from 'ioredis'
import { HOT_KEYS, loadUser, user, type User } from './fixtures.ts'
import { redisOptions } from './peers.ts'
import { RUN_PREFIX, withRedis } from './redis-hit.ts'

const ROUNDS = 150
const CALLS_PER_ROUND = 300
const WARM_UP_ROUNDS = 5

interface Step {
  readonly name: string
  readonly run: (i: number) => Promise<unknown>
}

/** Median and quartiles of a list of ratios. */
function quartiles(values: readonly number[]): [number, number, number] {
  const sorted = [...values].sort((a, b) => a - b)
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))]!
  return [at(0.25), at(0.5), at(0.75)]
}

async function steps(url: string): Promise<void> {
  const prefix = `${RUN_PREFIX}steps:`
  const plain = new Redis(redisOptions(url))
  const backend = new RedisBackend({ url, prefix })
  try {
    const getUser = dcache(backend)(async function getUser(id: number) {
      return loadUser(id)
    })
    for (let i = 0; i < HOT_KEYS; i++) {
      await plain.set(`${prefix}raw:${i}`, JSON.stringify(user(i)))
      await getUser(i)
    }
    const keys = Array.from({ length: HOT_KEYS }, (_, i) => getUser.key(i))
    const key = (i: number) => keys[i % HOT_KEYS]!
    const variants: Step[] = [
      { name: 'ioredis GET + JSON.parse', run: async (i) => JSON.parse((await plain.get(`${prefix}raw:${i % HOT_KEYS}`)) as string) as User },
      { name: 'RedisBackend.get (no parse)', run: (i) => backend.get(key(i)) },
      {
        name: '+ envelope check (checksum, echoed key)',
        run: async (i) => {
          const stored = await backend.get(key(i))
          return stored === undefined ? undefined : openEnvelope(stored.value, key(i))
        },
      },
      {
        name: '+ decode = the floor',
        run: async (i) => {
          const stored = await backend.get(key(i))
          const opened = stored === undefined ? undefined : openEnvelope(stored.value, key(i))
          return opened?.ok === true ? decodeValue(opened.envelope.payload) : undefined
        },
      },
      { name: 'dcache(RedisBackend)', run: (i) => getUser(i % HOT_KEYS) },
    ]
    const ratios = variants.map((): number[] => [])
    let call = 0
    for (let round = 0; round < WARM_UP_ROUNDS + ROUNDS; round++) {
      const times = new Array<number>(variants.length)
      // Alternate the order, so that no variant always runs right after another.
      const order = round % 2 === 0 ? variants.keys() : [...variants.keys()].reverse()
      for (const v of order) {
        const { run } = variants[v]!
        const start = performance.now()
        for (let i = 0; i < CALLS_PER_ROUND; i++) await run(call++)
        times[v] = performance.now() - start
      }
      if (round >= WARM_UP_ROUNDS) variants.forEach((_, v) => ratios[v]!.push(times[0]! / times[v]!))
    }
    console.log(`### C step by step — ${ROUNDS} rounds of ${CALLS_PER_ROUND} calls per variant\n`)
    console.log('| variant | vs raw ioredis, median | quartiles |\n|---|---:|---:|')
    variants.forEach(({ name }, v) => {
      const [low, median, high] = quartiles(ratios[v]!)
      console.log(`| ${name} | ${median.toFixed(3)}× | ${low.toFixed(3)}–${high.toFixed(3)} |`)
    })
  } finally {
    plain.disconnect()
    await backend.close()
  }
}

await withRedis(steps)
