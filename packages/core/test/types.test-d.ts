import { describe, expectTypeOf, it } from 'vitest'
import { dcache, InMemoryBackend, type CacheBackend, type CacheInfo } from '../src/index.js'

declare const redisLike: CacheBackend

describe('types of the public API', () => {
  it('keeps a sync function sync on memory-only tiers', () => {
    const fib = dcache((n: number): number => n)
    expectTypeOf(fib).parameters.toEqualTypeOf<[n: number]>()
    expectTypeOf(fib(1)).toEqualTypeOf<number>()
    expectTypeOf(fib.cacheClear()).toEqualTypeOf<void>()
    expectTypeOf(fib.cacheInfo()).toEqualTypeOf<CacheInfo>()
    expectTypeOf(fib.key).parameters.toEqualTypeOf<[n: number]>()
    const explicit = dcache((s: string) => s.length, { multiple: [new InMemoryBackend(), { backend: new InMemoryBackend(), ttl: 5 }] })
    expectTypeOf(explicit('x')).toEqualTypeOf<number>()
  })

  it('keeps an async function a promise of its value', () => {
    const load = dcache(async (id: string) => ({ id }))
    expectTypeOf(load('a')).toEqualTypeOf<Promise<{ id: string }>>()
  })

  it('returns promises as soon as any tier is asynchronous', () => {
    const cache = dcache(redisLike)
    const square = cache(function square(n: number) {
      return n * n
    })
    expectTypeOf(square(2)).toEqualTypeOf<Promise<number>>()
    expectTypeOf(square.cacheClear()).toEqualTypeOf<Promise<void>>()
    expectTypeOf(square.invalidate).parameters.toEqualTypeOf<[n: number]>()

    const tiered = dcache({ multiple: [new InMemoryBackend(), redisLike] })
    expectTypeOf(tiered((s: string) => s)('x')).toEqualTypeOf<Promise<string>>()
    const viaOptions = dcache((s: string) => s, { backend: redisLike, name: 'echo' })
    expectTypeOf(viaOptions('x')).toEqualTypeOf<Promise<string>>()
  })

  it('is sync through a memory wrapper', () => {
    const cache = dcache(new InMemoryBackend())
    expectTypeOf(cache((n: number) => n + 1)(1)).toEqualTypeOf<number>()
  })

  it('rejects wrong argument types and unknown events', () => {
    const fib = dcache((n: number): number => n)
    // @ts-expect-error a string is not a number
    fib('1')
    // @ts-expect-error no such event
    fib.on('nope', () => {})
    fib.on('error', (event) => {
      expectTypeOf(event.backend).toEqualTypeOf<string>()
      expectTypeOf(event.error.operation).toBeString()
    })
  })

  it('only decorates promise-returning methods when a tier is asynchronous', () => {
    const cache = dcache(redisLike)
    class Ok {
      @cache async find(id: string) {
        return id
      }
    }
    class Bad {
      // @ts-expect-error a sync method cannot stay sync on an asynchronous tier
      @cache find(id: string) {
        return id
      }
    }
    expectTypeOf(new Ok().find('x')).toEqualTypeOf<Promise<string>>()
    expectTypeOf(Bad).toBeConstructibleWith()
  })
})
