import { describe, expect, it, vi } from 'vitest'
import { dcache, DcacheError, InMemoryBackend } from '../src/index.js'
import { remoteTier } from './helpers.js'

describe('@cache as a TC39 standard method decorator', () => {
  it('caches a method; this is not part of the key', () => {
    const cache = dcache(new InMemoryBackend())
    const runs = vi.fn()
    class Reports {
      constructor(readonly label: string) {}
      @cache
      build(id: string): string {
        runs(this.label)
        return `${this.label}:${id}`
      }
    }
    const a = new Reports('a')
    const b = new Reports('b')
    expect(a.build('x')).toBe('a:x')
    expect(b.build('x')).toBe('a:x') // same arguments, same entry
    expect(runs).toHaveBeenCalledTimes(1)
  })

  it('includes this in the key when a key function asks for it', () => {
    const cache = dcache(new InMemoryBackend())
    class Account {
      constructor(readonly id: number) {}
      @cache({
        key(this: Account, year: number) {
          return [this.id, year]
        },
      })
      total(year: number): string {
        return `${this.id}/${year}`
      }
    }
    expect(new Account(1).total(2024)).toBe('1/2024')
    expect(new Account(2).total(2024)).toBe('2/2024')
  })

  it('gives methods of different classes different identities', async () => {
    const shared = remoteTier()
    const cache = dcache(shared)
    class Users {
      @cache async find(id: number) {
        return `user ${id}`
      }
    }
    class Orders {
      @cache async find(id: number) {
        return `order ${id}`
      }
    }
    const users = new Users()
    const orders = new Orders()
    expect(await users.find(1)).toBe('user 1')
    expect(await orders.find(1)).toBe('order 1')
    const key = (users.find as unknown as { key(id: number): string }).key(1)
    expect(key).toMatch(/^dcache:default:Users\.find:1:/)
  })

  it('identifies an inherited method by the class that defines it', () => {
    const cache = dcache(new InMemoryBackend())
    class Base {
      @cache value(n: number) {
        return n
      }
    }
    class Derived extends Base {}
    const derived = new Derived()
    derived.value(1)
    expect((derived.value as unknown as { key(n: number): string }).key(1)).toMatch(/:Base\.value:/)
  })

  it('caches static methods under the class name', async () => {
    const cache = dcache(remoteTier())
    class Config {
      @cache static async load(env: string) {
        return { env }
      }
    }
    expect(await Config.load('prod')).toEqual({ env: 'prod' })
    expect((Config.load as unknown as { key(env: string): string }).key('prod')).toMatch(/:Config\.load:/)
  })

  it('exposes cacheInfo on the decorated method', () => {
    const cache = dcache(new InMemoryBackend())
    class Math2 {
      @cache square(n: number) {
        return n * n
      }
    }
    const m = new Math2()
    m.square(3)
    m.square(3)
    expect((m.square as unknown as { cacheInfo(): { hits: number } }).cacheInfo().hits).toBe(1)
  })

  it('refuses an anonymous class on a shared tier, at construction', () => {
    const cache = dcache(remoteTier())
    class Anonymous {
      @cache async m() {
        return 1
      }
    }
    // transpilers name class expressions (`_a`), so make the name really empty
    Object.defineProperty(Anonymous, 'name', { value: '' })
    expect(() => new Anonymous()).toThrow(TypeError)
    try {
      new Anonymous()
    } catch (error) {
      expect(DcacheError.is(error, 'E_ANONYMOUS_FUNCTION')).toBe(true)
    }
  })
})
