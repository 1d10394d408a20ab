import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { canonicalArgs, canonicalValue, digest } from '../src/canonical.js'
import { DcacheError } from '../src/errors.js'

const differ = (a: readonly unknown[], b: readonly unknown[]): void => {
  expect(canonicalArgs(a)).not.toBe(canonicalArgs(b))
}
const same = (a: readonly unknown[], b: readonly unknown[]): void => {
  expect(canonicalArgs(a)).toBe(canonicalArgs(b))
}

function unkeyable(args: readonly unknown[]): string {
  try {
    canonicalArgs(args)
  } catch (error) {
    expect(error).toBeInstanceOf(TypeError)
    expect(DcacheError.is(error, 'E_UNKEYABLE_ARGUMENT')).toBe(true)
    return (error as Error).message
  }
  throw new Error('expected canonicalArgs to throw')
}

describe('canonicalArgs', () => {
  describe('keeps argument boundaries', () => {
    it('tells f(1, 23), f(12, 3) and f(123) apart', () => {
      differ([1, 23], [12, 3])
      differ([12, 3], [123])
      differ([1, 23], [123])
    })

    it("tells ['a', 'bc'] from ['ab', 'c']", () => {
      differ(['a', 'bc'], ['ab', 'c'])
      differ([['a', 'bc']], [['ab', 'c']])
    })

    it('tells a missing argument from undefined, and undefined from null', () => {
      differ([], [undefined])
      differ([undefined], [null])
      differ([], [null])
      differ([1], [1, undefined])
    })

    it('is the concatenation of each argument as a single value', () => {
      expect(canonicalArgs(['user', 42, { page: 2 }])).toBe(
        canonicalValue('user') + canonicalValue(42) + canonicalValue({ page: 2 }),
      )
    })
  })

  describe('keeps types apart', () => {
    it("tells 1, '1', 1n and true apart", () => {
      const values = [1, '1', 1n, true]
      const keys = new Set(values.map((v) => canonicalArgs([v])))
      expect(keys.size).toBe(values.length)
    })

    it('tells 0 from -0 and +Infinity from -Infinity, and NaN equals itself', () => {
      differ([0], [-0])
      differ([Infinity], [-Infinity])
      same([NaN], [Number.NaN])
      differ([NaN], ['NaN'])
    })

    it('tells a Date from its ISO string and from its time', () => {
      differ([new Date(0)], [new Date(0).toISOString()])
      differ([new Date(0)], [0])
      same([new Date(5)], [new Date(5)])
      differ([new Date(Number.NaN)], [new Date(0)])
    })

    it('keeps lone surrogates as code units', () => {
      differ(['\uD800'], ['\uFFFD'])
      differ(['\uD800'], ['\uDC00'])
      differ([{ '\uD800': 1 }], [{ '\uFFFD': 1 }])
    })

    it('tags typed arrays by type', () => {
      differ([new Uint8Array([1])], [new Int8Array([1])])
      differ([new Uint8Array([1])], [[1]])
      differ([new Uint8Array([1])], [new Uint8ClampedArray([1])])
      differ([new Uint16Array([1])], [new Uint8Array([1, 0])])
      same([new Float64Array([1.5])], [new Float64Array([1.5])])
    })

    it('encodes a Buffer like a Uint8Array with the same bytes', () => {
      same([Buffer.from([1, 2, 3])], [new Uint8Array([1, 2, 3])])
      differ([Buffer.from([1, 2, 3])], [new Uint8Array([1, 2, 4])])
    })

    it('reads only the bytes of a view onto a larger buffer', () => {
      const backing = new Uint8Array([9, 9, 1, 2, 9])
      same([backing.subarray(2, 4)], [new Uint8Array([1, 2])])
      same([new DataView(backing.buffer, 2, 2)], [new DataView(new Uint8Array([1, 2]).buffer)])
    })

    it('keys ArrayBuffer, DataView and RegExp by content', () => {
      same([new Uint8Array([1, 2]).buffer], [new Uint8Array([1, 2]).buffer])
      differ([new Uint8Array([1, 2]).buffer], [new Uint8Array([1, 3]).buffer])
      differ([new Uint8Array([1]).buffer], [new Uint8Array([1])])
      differ([new DataView(new ArrayBuffer(1))], [new Uint8Array(1)])
      same([/a+/gi], [/a+/gi])
      differ([/a+/g], [/a+/i])
      differ([/a+/], ['/a+/'])
    })

    it('tells boxed primitives from primitives', () => {
      differ([Object(1)], [1])
      same([Object('a')], [Object('a')])
      differ([Object(1n)], [Object(1)])
    })
  })

  describe('ignores order that carries no meaning', () => {
    it('sorts object keys by code unit', () => {
      same([{ a: 1, b: 2 }], [{ b: 2, a: 1 }])
      same([{ x: { a: 1, b: 2 } }], [{ x: { b: 2, a: 1 } }])
      differ([{ a: 1 }], [{ a: 1, b: undefined }])
    })

    it('compares Maps and Sets by content regardless of insertion order', () => {
      differ([new Map([[1, 2]])], [new Map()])
      same([new Map([[1, 'a'], [2, 'b']])], [new Map([[2, 'b'], [1, 'a']])])
      differ([new Map([[1, 'a'], [2, 'b']])], [new Map([[1, 'b'], [2, 'a']])])
      same([new Set([1, 'x', null])], [new Set([null, 'x', 1])])
      differ([new Set([1])], [new Map([[1, 1]])])
      differ([new Set([1])], [[1]])
    })

    it('encodes null-prototype objects like plain objects', () => {
      const bare = Object.assign(Object.create(null) as object, { a: 1 })
      same([bare], [{ a: 1 }])
    })

    it('encodes array holes like undefined', () => {
      // eslint-disable-next-line no-sparse-arrays
      same([[1, , 3]], [[1, undefined, 3]])
    })
  })

  describe('objects that are not plain data', () => {
    it('keys objects with toJSON by class name and toJSON() result', () => {
      same([new URL('https://example.com/a')], [new URL('https://example.com/a')])
      differ([new URL('https://example.com/a')], [new URL('https://example.com/b')])
      differ([new URL('https://example.com/a')], ['https://example.com/a'])
      class Decimal {
        constructor(private readonly v: string) {}
        toJSON(): string {
          return this.v
        }
      }
      class Money {
        constructor(private readonly v: string) {}
        toJSON(): string {
          return this.v
        }
      }
      same([new Decimal('1.10')], [new Decimal('1.10')])
      differ([new Decimal('1.10')], [new Decimal('1.1')])
      differ([new Decimal('1.10')], [new Money('1.10')])
    })

    it('keys class instances by class name and own enumerable properties only', () => {
      class Point {
        #secret: number
        constructor(
          readonly x: number,
          readonly y: number,
          secret = 0,
        ) {
          this.#secret = secret
        }
        get secret(): number {
          return this.#secret
        }
      }
      class Vector {
        constructor(
          readonly x: number,
          readonly y: number,
        ) {}
      }
      same([new Point(1, 2)], [new Point(1, 2)])
      differ([new Point(1, 2)], [new Point(2, 1)])
      differ([new Point(1, 2)], [new Vector(1, 2)])
      differ([new Point(1, 2)], [{ x: 1, y: 2 }])
      // Documented limitation: private state is invisible.
      same([new Point(1, 2, 1)], [new Point(1, 2, 2)])
    })

    it('ignores symbol-keyed properties', () => {
      same([{ a: 1, [Symbol('s')]: 2 }], [{ a: 1 }])
    })

    it('accepts shared references that are not cycles', () => {
      const shared = { n: 1 }
      same([{ a: shared, b: shared }], [{ a: { n: 1 }, b: { n: 1 } }])
      same([[shared, shared]], [[{ n: 1 }, { n: 1 }]])
    })
  })

  describe('refuses values that are not data', () => {
    it('names the path to a function', () => {
      const message = unkeyable([1, { user: { onClick: () => {} } }])
      expect(message).toBe(
        'dcache cannot build a key from args[1].user.onClick: it is a function. ' +
          'Pass a `key` option that returns plain data.',
      )
    })

    it('names the path to a circular reference', () => {
      const self: Record<string, unknown> = {}
      self.self = self
      expect(unkeyable([self])).toContain('args[0].self: it is a circular reference')
      const list: unknown[] = []
      list.push(list)
      expect(unkeyable(['x', list])).toContain('args[1][0]: it is a circular reference')
    })

    it('refuses symbols, promises, thenables, WeakMap, WeakSet and WeakRef', () => {
      expect(unkeyable([Symbol('s')])).toContain('args[0]: it is a symbol')
      expect(unkeyable([{ p: Promise.resolve(1) }])).toContain('args[0].p: it is a Promise')
      class Deferred {
        then(): void {}
      }
      expect(unkeyable([new Deferred()])).toContain('args[0]: it is a thenable')
      // A plain object is refused at its first function, `then` included.
      expect(unkeyable([{ then: () => {} }])).toContain('args[0].then: it is a function')
      expect(unkeyable([new WeakMap()])).toContain('it is a WeakMap')
      expect(unkeyable([new WeakSet()])).toContain('it is a WeakSet')
      expect(unkeyable([new WeakRef({})])).toContain('it is a WeakRef')
    })

    it('names paths through arrays, odd keys, Maps, Sets and toJSON', () => {
      expect(unkeyable([[0, [1, () => {}]]])).toContain('args[0][1][1]:')
      expect(unkeyable([{ 'a-b': Symbol('x') }])).toContain('args[0]["a-b"]:')
      expect(unkeyable([new Map([['k', () => {}]])])).toContain('args[0].get("k"):')
      expect(unkeyable([new Map([[() => {}, 1]])])).toContain('args[0].keys()[0]:')
      expect(unkeyable([new Set([1, () => {}])])).toContain('args[0].values()[1]:')
      class Odd {
        toJSON(): unknown {
          return { f: () => {} }
        }
      }
      expect(unkeyable([new Odd()])).toContain('args[0].toJSON().f:')
    })

    it('names the key function in canonicalValue errors', () => {
      expect(() => canonicalValue({ id: () => 1 })).toThrow(
        /dcache cannot build a key from key\(\)\.id: it is a function\. Make the `key` function/,
      )
    })

    it('refuses structures nested deeper than 1000 levels', () => {
      let deep: unknown = 1
      for (let i = 0; i < 1100; i++) deep = [deep]
      expect(unkeyable([deep])).toContain('nested more than 1000 levels deep')
    })
  })
})

describe('digest', () => {
  it('reads the documented format', () => {
    expect(canonicalArgs(['user', 42, { page: 2 }])).toBe('s4:usern42;o1:s4:pagen2;')
    expect(canonicalArgs([undefined, null, true, false, -0, NaN, -Infinity, 10n])).toBe(
      'uztfn-0;nNaN;n-Infinity;b10;',
    )
    expect(canonicalArgs([{ b: [1, 'two'], a: new Date(0) }])).toBe('o2:s1:ad0;s1:ba2:n1;s3:two')
  })

  it('is 43 base64url characters', () => {
    expect(digest(canonicalArgs(['user', 42]))).toMatch(/^[A-Za-z0-9_-]{43}$/)
  })

  it('hashes UTF-16 code units, so lone surrogates do not collide', () => {
    expect(digest('\uD800')).not.toBe(digest('\uFFFD'))
    expect(digest('\uD800')).not.toBe(digest('\uDC00'))
  })

  it('matches golden values, so a change that alters keys fails loudly', () => {
    // If this fails, every key written by an earlier version is orphaned. Only update these values
    // together with a documented key-format change.
    const golden: [readonly unknown[], string][] = [
      [[], '47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU'],
      [[42], 'ul-1teC8G2gsYRM7uv3NGbTnhD2-cVSfxEsEW0YNpjo'],
      [['user', 42, { page: 2 }], '0t7pbIRuZ7ijUnPX4WZwD2oJfmUiAZI4PZNPvN0bQA4'],
      [
        [undefined, null, true, false, -0, NaN, -Infinity, 12345678901234567890n],
        'bcLcCFr5s5_FZyomTd44EmeCgqiKiRoR4Z5m3fKv2g4',
      ],
      [[{ b: [1, 'two'], a: new Date(0) }], 'qUUixrMO0i4gcE7xHpMy-NhZDorONCl9V3u-DIhRzc4'],
      [
        [new Map([['k', new Set([1, 2])]]), new Uint8Array([1, 2, 3]), /x/g],
        '6cVdSalRoIwt8T42tJOvSl-Z_6_zMe88thQeRi0GU74',
      ],
      [['\uD800 lone', 'émoji 🎉'], 'M8GI85XlZdqniAx6lYuf_bZiwfajSEXghznvhqiDOjo'],
    ]
    for (const [args, expected] of golden) {
      expect([args, digest(canonicalArgs(args))]).toEqual([args, expected])
    }
  })
})

// ---------------------------------------------------------------------------------------------
// Properties

/** Structural equality with the key's notion of "same data", written independently of it. */
function deepEqual(a: unknown, b: unknown): boolean {
  if (typeof a !== typeof b) return false
  if (typeof a !== 'object' || a === null || b === null) return Object.is(a, b)
  const x = a
  const y = b as object
  const tag = Object.prototype.toString.call(x)
  if (tag !== Object.prototype.toString.call(y)) return false
  if (Array.isArray(x)) {
    const ya = y as unknown[]
    if (x.length !== ya.length) return false
    // A plain loop, not `every`: holes must be compared (as undefined), not skipped.
    for (let i = 0; i < x.length; i++) if (!deepEqual(x[i], ya[i])) return false
    return true
  }
  if (x instanceof Date) return Object.is(x.getTime(), (y as Date).getTime())
  if (x instanceof Number || x instanceof String || x instanceof Boolean || x instanceof BigInt) {
    return Object.is(x.valueOf(), (y as { valueOf(): unknown }).valueOf())
  }
  if (ArrayBuffer.isView(x)) {
    const yv = y as ArrayBufferView
    return Buffer.from(x.buffer, x.byteOffset, x.byteLength).equals(
      Buffer.from(yv.buffer, yv.byteOffset, yv.byteLength),
    )
  }
  if (x instanceof Map) return sameMultiset([...x], [...(y as Map<unknown, unknown>)])
  if (x instanceof Set) return sameMultiset([...x], [...(y as Set<unknown>)])
  const plain = (o: object): boolean => {
    const p: unknown = Object.getPrototypeOf(o)
    return p === null || p === Object.prototype
  }
  if (plain(x) !== plain(y)) return false
  if (!plain(x) && x.constructor !== y.constructor) return false
  const xk = Object.keys(x).sort()
  const yk = Object.keys(y).sort()
  if (xk.length !== yk.length || xk.some((k, i) => k !== yk[i])) return false
  const xr = x as Record<string, unknown>
  const yr = y as Record<string, unknown>
  return xk.every((k) => deepEqual(xr[k], yr[k]))
}

function sameMultiset(xs: unknown[], ys: unknown[]): boolean {
  if (xs.length !== ys.length) return false
  const used = new Array<boolean>(ys.length).fill(false)
  return xs.every((x) => {
    const i = ys.findIndex((y, j) => !used[j] && deepEqual(x, y))
    if (i < 0) return false
    used[i] = true
    return true
  })
}

const rich = {
  withBigInt: true,
  withBoxedValues: true,
  withDate: true,
  withMap: true,
  withSet: true,
  withNullPrototype: true,
  withObjectString: true,
  withSparseArray: true,
  withTypedArray: true,
} as const

// A small universe, so that equal and almost-equal pairs are frequent.
const narrow = fc.anything({
  ...rich,
  maxDepth: 2,
  maxKeys: 2,
  key: fc.constantFrom('a', 'b'),
  values: [fc.constantFrom(0, -0, NaN, 1, '1', 1n, true, null, undefined, '', 'a', '\uD800')],
})

describe('canonical key properties', () => {
  it('gives different strings to structurally different values (wide values)', () => {
    fc.assert(
      fc.property(fc.anything(rich), fc.anything(rich), (a, b) => {
        if (!deepEqual(a, b)) expect(canonicalValue(a)).not.toBe(canonicalValue(b))
      }),
      { numRuns: 500 },
    )
  })

  it('gives equal strings exactly to structurally equal values (narrow values)', () => {
    fc.assert(
      fc.property(narrow, narrow, (a, b) => {
        expect(canonicalValue(a) === canonicalValue(b)).toBe(deepEqual(a, b))
      }),
      { numRuns: 2000 },
    )
  })

  it('keeps argument lists apart', () => {
    const args = fc.array(narrow, { maxLength: 3 })
    fc.assert(
      fc.property(args, args, (a, b) => {
        expect(canonicalArgs(a) === canonicalArgs(b)).toBe(deepEqual(a, b))
      }),
      { numRuns: 1000 },
    )
  })

  it('ignores object key order', () => {
    const shuffled = fc
      .dictionary(fc.string(), fc.anything(rich), { maxKeys: 8 })
      .chain((obj) =>
        fc.shuffledSubarray(Object.keys(obj), { minLength: Object.keys(obj).length }).map(
          (order) => [obj, Object.fromEntries(order.map((k) => [k, obj[k]]))] as const,
        ),
      )
    fc.assert(
      fc.property(shuffled, ([obj, copy]) => {
        expect(canonicalValue(copy)).toBe(canonicalValue(obj))
      }),
    )
  })
})
