import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { CODEC_ID, decodeValue, encodeValue } from '../src/codec.js'
import { DcacheError } from '../src/errors.js'

const roundTrip = <T>(value: T): T => decodeValue(encodeValue(value)) as T

function notCacheable(value: unknown): string {
  try {
    encodeValue(value)
  } catch (error) {
    expect(DcacheError.is(error, 'E_NOT_CACHEABLE')).toBe(true)
    return (error as Error).message
  }
  throw new Error('expected encodeValue to throw')
}

function integrityError(bytes: Uint8Array): string {
  try {
    decodeValue(bytes)
  } catch (error) {
    expect(DcacheError.is(error, 'E_INTEGRITY')).toBe(true)
    return (error as Error).message
  }
  throw new Error('expected decodeValue to throw')
}

describe('codec', () => {
  it('has a stable id', () => {
    expect(CODEC_ID).toBe(1)
  })

  describe('round-trips what JSON loses', () => {
    it('keeps primitives, undefined, NaN, -0 and ±Infinity', () => {
      for (const v of [
        undefined,
        null,
        true,
        false,
        0,
        1,
        -1,
        2 ** 31 - 1,
        -(2 ** 31),
        2 ** 31,
        2 ** 53 + 2,
        0.1,
        -1.5e-300,
        Number.MAX_VALUE,
        Number.MIN_VALUE,
        Infinity,
        -Infinity,
        '',
        'hello',
      ]) {
        expect(Object.is(roundTrip(v), v)).toBe(true)
      }
      expect(Number.isNaN(roundTrip(NaN))).toBe(true)
      expect(Object.is(roundTrip(-0), -0)).toBe(true)
      expect(Object.is(roundTrip({ z: -0 }).z, -0)).toBe(true)
    })

    it('keeps BigInts, negative and huge', () => {
      for (const v of [0n, 1n, -1n, 2n ** 64n, -(2n ** 200n) + 7n, 10n ** 300n]) {
        expect(roundTrip(v)).toBe(v)
      }
    })

    it('keeps strings exactly, including lone surrogates, a BOM, and non-ASCII text', () => {
      for (const v of [
        '\uD800',
        'a\uDC00b',
        '\uDBFF\uDFFF',
        '\uFEFFbom',
        'émoji 🎉 日本語',
        'x'.repeat(127),
        'x'.repeat(128),
        'é'.repeat(1000),
        '\uD800'.repeat(300),
        '\u0000nul',
      ]) {
        expect(roundTrip(v)).toBe(v)
      }
    })

    it('keeps undefined in arrays and as a property value', () => {
      const out = roundTrip({ a: undefined, list: [undefined, 1] })
      expect(out).toEqual({ a: undefined, list: [undefined, 1] })
      expect(Object.hasOwn(out, 'a')).toBe(true)
      expect(1 in out.list && 0 in out.list).toBe(true)
    })

    it('keeps array holes as holes', () => {
      // eslint-disable-next-line no-sparse-arrays
      const out = roundTrip([1, , 3, , ,])
      expect(out.length).toBe(5)
      expect(1 in out).toBe(false)
      expect(4 in out).toBe(false)
      expect(out[2]).toBe(3)
    })

    it('keeps Dates, including an invalid date', () => {
      const date = roundTrip(new Date(1_700_000_000_123))
      expect(date).toBeInstanceOf(Date)
      expect(date.getTime()).toBe(1_700_000_000_123)
      const invalid = roundTrip(new Date(Number.NaN))
      expect(invalid).toBeInstanceOf(Date)
      expect(Number.isNaN(invalid.getTime())).toBe(true)
    })

    it('keeps Maps and Sets with any keys, in insertion order', () => {
      const map = new Map<unknown, unknown>([
        ['b', 1],
        [1n, new Date(0)],
        [{ k: 1 }, [1]],
        [NaN, -0],
      ])
      const out = roundTrip(map)
      expect(out).toBeInstanceOf(Map)
      expect(out).toEqual(map)
      expect([...out.keys()][0]).toBe('b')
      const set = new Set<unknown>([3, 'a', undefined, null, 1n])
      expect(roundTrip(set)).toEqual(set)
      expect([...roundTrip(set)]).toEqual([3, 'a', undefined, null, 1n])
    })

    it('keeps every typed array kind', () => {
      const arrays = [
        new Int8Array([-1, 2]),
        new Uint8Array([1, 255]),
        new Uint8ClampedArray([0, 255]),
        new Int16Array([-300, 300]),
        new Uint16Array([65535]),
        new Int32Array([-(2 ** 31)]),
        new Uint32Array([2 ** 32 - 1]),
        new Float32Array([1.5, NaN, -0]),
        new Float64Array([Math.PI, -Infinity]),
        new BigInt64Array([-(2n ** 63n), 5n]),
        new BigUint64Array([2n ** 64n - 1n]),
        new Uint8Array(0),
      ]
      for (const array of arrays) {
        const out = roundTrip(array)
        expect(out.constructor).toBe(array.constructor)
        expect(out).toEqual(array)
      }
      expect(Object.is(roundTrip(new Float32Array([-0]))[0], -0)).toBe(true)
    })

    it('reads only the visible part of a view onto a larger buffer', () => {
      const backing = new ArrayBuffer(64)
      new Uint8Array(backing).fill(0xee)
      const view = new Float64Array(backing, 8, 2)
      view.set([1.25, -2])
      const out = roundTrip(view)
      expect(out).toBeInstanceOf(Float64Array)
      expect([...out]).toEqual([1.25, -2])
      expect(out.byteLength).toBe(16)
      const bytes = roundTrip(new Uint8Array(backing, 3, 5))
      expect(bytes.byteLength).toBe(5)
      const dv = roundTrip(new DataView(backing, 8, 8))
      expect(dv).toBeInstanceOf(DataView)
      expect(dv.getFloat64(0, true)).toBe(1.25)
    })

    it('decodes views at any offset of the input, even unaligned', () => {
      const encoded = encodeValue({ a: 'x', v: new Float64Array([1, 2]) })
      const shifted = new Uint8Array(encoded.length + 3)
      shifted.set(encoded, 3)
      expect(decodeValue(shifted.subarray(3))).toEqual({ a: 'x', v: new Float64Array([1, 2]) })
    })

    it('keeps Buffers as Buffers', () => {
      const out = roundTrip({ b: Buffer.from('héllo') })
      expect(Buffer.isBuffer(out.b)).toBe(true)
      expect(out.b.toString()).toBe('héllo')
    })

    it('keeps ArrayBuffers and RegExps', () => {
      const buffer = roundTrip(new Uint8Array([1, 2, 3]).buffer)
      expect(buffer).toBeInstanceOf(ArrayBuffer)
      expect([...new Uint8Array(buffer)]).toEqual([1, 2, 3])
      const re = roundTrip(/a(b)?c\u{1F600}/giu)
      expect(re).toBeInstanceOf(RegExp)
      expect(re.source).toBe(/a(b)?c\u{1F600}/giu.source)
      expect(re.flags).toBe('giu')
    })

    it('keeps null-prototype objects without a prototype', () => {
      const bare = Object.assign(Object.create(null) as Record<string, unknown>, { a: 1, b: [2] })
      const out = roundTrip({ bare })
      expect(Object.getPrototypeOf(out.bare)).toBe(null)
      expect({ ...out.bare }).toEqual({ a: 1, b: [2] })
      expect(Object.getPrototypeOf(roundTrip({ a: 1 }))).toBe(Object.prototype)
    })

    it('keeps nested combinations', () => {
      const value = {
        id: 42,
        name: 'Ada Lovelace',
        tags: new Set(['math', 'poetry']),
        born: new Date('1815-12-10T00:00:00Z'),
        balance: -(10n ** 30n),
        scores: new Map([['a', [1.5, undefined, NaN]]]),
        raw: { bytes: new Uint16Array([1, 2]), buf: Buffer.from([0, 1]) },
        deep: [[[{ x: [new Map([[new Set([1]), { y: null }]])] }]]],
      }
      expect(roundTrip(value)).toEqual(value)
    })

    it('stores repeated references twice: identity is not kept', () => {
      const shared = { n: 1 }
      const out = roundTrip({ a: shared, b: shared })
      expect(out).toEqual({ a: { n: 1 }, b: { n: 1 } })
      expect(out.a).not.toBe(out.b)
    })
  })

  describe('stores plain JSON data as JSON text, decoded by the native parser', () => {
    const asJson = (value: unknown) => encodeValue(value)[0] === 19

    it('picks JSON only for objects and arrays that JSON gives back exactly', () => {
      expect(asJson({ id: 1, name: 'Ada', tags: ['a', 'b'], score: 98.5, ok: true, none: null })).toBe(true)
      expect(asJson([1, 'two', [3], { four: 4 }])).toBe(true)
      const binary: [string, unknown][] = [
        ['an undefined property', { a: undefined }],
        ['-0', { n: -0 }],
        ['a sparse array', [1, , 3]], // eslint-disable-line no-sparse-arrays
        ['NaN', { n: Number.NaN }],
        ['a Date', { at: new Date(0) }],
        ['a null-prototype object', Object.assign(Object.create(null) as object, { a: 1 })],
        ['a BigInt', { big: 1n }],
        ['a symbol key', { [Symbol('s')]: 1 }],
        ['an array with an extra property', Object.assign([1, 2], { extra: true })],
        ['a number', 42],
        ['a string', 'text'],
      ]
      for (const [label, value] of binary) {
        expect(asJson(value), label).toBe(false)
        // Symbol keys and extra array properties are not stored in either format.
        if (label !== 'a symbol key' && label !== 'an array with an extra property') expect(roundTrip(value), label).toEqual(value)
      }
    })

    it('round-trips JSON data exactly, lone surrogates and __proto__ keys included', () => {
      const value = JSON.parse('{"__proto__":{"polluted":true},"s":"\\ud800x","nested":[{"k":[1.5,-2,1e300]}]}') as object
      const back = roundTrip(value)
      expect(back).toEqual(value)
      expect(Object.hasOwn(back, '__proto__')).toBe(true)
      expect(({} as { polluted?: boolean }).polluted).toBeUndefined()
      expect(roundTrip({ s: '\uD800' })).toEqual({ s: '\uD800' })
    })

    it('refuses JSON bytes that are cut, extended or not UTF-8', () => {
      const bytes = encodeValue({ list: [{ a: 1 }, { b: 2 }] })
      for (let i = 0; i < bytes.length; i++) expect(() => decodeValue(bytes.subarray(0, i))).toThrow()
      expect(() => decodeValue(Uint8Array.from([...bytes, 0x20]))).toThrow(/trailing bytes/)
      expect(() => decodeValue(Uint8Array.from([19, 0x7b, 0xff, 0x7d]))).toThrow(DcacheError)
    })
  })

  describe('treats keys as data, never as prototype access', () => {
    it('returns __proto__, constructor and prototype as own properties', () => {
      const hostile = JSON.parse(
        '{"__proto__": {"polluted": true}, "constructor": {"prototype": {"polluted": true}}, "prototype": 1, "toString": 2}',
      ) as Record<string, unknown>
      const out = roundTrip(hostile)
      expect(Object.getPrototypeOf(out)).toBe(Object.prototype)
      expect(Object.keys(out)).toEqual(['__proto__', 'constructor', 'prototype', 'toString'])
      expect(Object.getOwnPropertyDescriptor(out, '__proto__')?.value).toEqual({ polluted: true })
      expect(out.prototype).toBe(1)
      expect(out.toString).toBe(2)
      expect(({} as Record<string, unknown>).polluted).toBeUndefined()
      expect(Object.getOwnPropertyNames(Object.prototype)).not.toContain('polluted')
    })

    it('keeps __proto__ as a plain key on null-prototype objects', () => {
      const bare = Object.create(null) as Record<string, unknown>
      bare['__proto__'] = { polluted: true }
      const out = roundTrip(bare)
      expect(Object.getPrototypeOf(out)).toBe(null)
      expect(Object.keys(out)).toEqual(['__proto__'])
      expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    })
  })

  describe('refuses what it cannot store, naming the path', () => {
    it('refuses functions and symbols', () => {
      expect(notCacheable({ user: { save() {} } })).toContain('result.user.save: it is a function')
      expect(notCacheable([1, Symbol('s')])).toContain('result[1]: it is a symbol')
      expect(notCacheable(() => 1)).toContain('result: it is a function')
    })

    it('refuses promises, WeakMap and WeakSet', () => {
      expect(notCacheable({ p: Promise.resolve() })).toContain('result.p: it is a Promise')
      expect(notCacheable(new WeakMap())).toContain('result: it is a WeakMap')
      expect(notCacheable({ s: new WeakSet() })).toContain('result.s: it is a WeakSet')
    })

    it('refuses class instances', () => {
      class User {
        name = 'ada'
      }
      expect(notCacheable({ x: new User() })).toContain(
        'result.x is an instance of User; dcache stores plain data only',
      )
      expect(notCacheable(new Map([['k', new Error('boom')]]))).toContain(
        'result.get("k") is an instance of Error',
      )
      expect(notCacheable(new URL('https://example.com'))).toContain('instance of URL')
      expect(notCacheable(Object(1))).toContain('instance of Number')
    })

    it('refuses cycles, naming the path', () => {
      const self: Record<string, unknown> = { a: [] }
      ;(self.a as unknown[]).push(self)
      expect(notCacheable({ root: self })).toContain('result.root.a[0]: it is a circular reference')
    })

    it('refuses nesting deeper than the decoder accepts', () => {
      let deep: unknown = 1
      for (let i = 0; i < 1001; i++) deep = [deep]
      expect(notCacheable(deep)).toContain('nested more than 1000 levels deep')
      let ok: unknown = 1
      for (let i = 0; i < 1000; i++) ok = [ok]
      expect(roundTrip(ok)).toEqual(ok)
    })

    it('stays usable after a failure', () => {
      expect(() => encodeValue({ f() {} })).toThrow()
      expect(roundTrip({ a: 1 })).toEqual({ a: 1 })
    })
  })

  describe('refuses corrupt bytes', () => {
    it('refuses empty, truncated and trailing input', () => {
      integrityError(new Uint8Array(0))
      const bytes = encodeValue({ name: 'Ada', tags: ['a', 'b'], n: 1.5 })
      for (let i = 0; i < bytes.length; i++) integrityError(bytes.subarray(0, i))
      expect(integrityError(Uint8Array.from([...bytes, 0]))).toContain('trailing bytes')
    })

    it('refuses lengths larger than the input without allocating them', () => {
      // Array tag with a length of 2^42.
      expect(integrityError(Uint8Array.from([9, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40]))).toContain(
        'length exceeds',
      )
      // ArrayBuffer tag claiming 2^31 bytes.
      integrityError(Uint8Array.from([17, 0x80, 0x80, 0x80, 0x80, 0x08]))
      // An endless varint.
      integrityError(new Uint8Array(20).fill(0xff))
    })

    it('refuses nesting deeper than 1000 levels', () => {
      const bytes = new Uint8Array(2 * 5000 + 1)
      for (let i = 0; i < 5000; i++) bytes.set([9, 1], 2 * i)
      expect(integrityError(bytes)).toContain('nested more than 1000 levels deep')
    })

    it('refuses unknown tags, bad UTF-8, bad bigints and bad regexps', () => {
      expect(integrityError(Uint8Array.from([200]))).toContain('unknown tag')
      expect(integrityError(Uint8Array.from([7, 2, 0xc3, 0x28]))).toContain('invalid UTF-8')
      expect(integrityError(Uint8Array.from([6, 3, 0x30, 0x78, 0x31]))).toContain('bigint')
      integrityError(Uint8Array.from([16, 7, 1, 0x28, 7, 0]))
      integrityError(Uint8Array.from([18, 99, 0]))
      // A Float64Array whose byte length is not a multiple of 8.
      integrityError(Uint8Array.from([18, 8, 3, 1, 2, 3]))
    })

    it('refuses an object key that is not a string', () => {
      integrityError(Uint8Array.from([11, 1, 4, 2, 1]))
    })
  })
})

// ---------------------------------------------------------------------------------------------
// Properties

const bigIntArrays = fc.oneof(
  fc.array(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n })).map((a) => BigInt64Array.from(a)),
  fc.array(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })).map((a) => BigUint64Array.from(a)),
)

/** Everything the codec promises to keep, nested. */
const storable = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    tie('leaf'),
    tie('array'),
    tie('object'),
    tie('bare'),
    tie('map'),
    tie('set'),
  ),
  leaf: fc.oneof(
    fc.anything({
      maxDepth: 0,
      withBigInt: true,
      withDate: true,
      withTypedArray: true,
      stringUnit: 'binary',
    }),
    fc.string({ unit: 'binary' }),
    fc.string({ unit: fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)) }),
    fc.double(),
    fc.bigInt(),
    fc.date({ noInvalidDate: false }),
    fc.constantFrom(-0, NaN, Infinity, -Infinity, undefined, null),
    bigIntArrays,
    fc.uint8Array().map((a) => Buffer.from(a)),
    fc.uint8Array().map((a) => a.buffer),
    fc.constantFrom(/a+b/gi, /^\d{2,}$/mu, /x/y),
  ),
  array: fc.array(tie('value'), { maxLength: 5 }),
  object: fc.dictionary(fc.string(), tie('value'), { maxKeys: 5 }),
  bare: fc
    .dictionary(fc.string(), tie('value'), { maxKeys: 5 })
    .map((o) => Object.assign(Object.create(null) as object, o)),
  map: fc.array(fc.tuple(tie('value'), tie('value')), { maxLength: 4 }).map((e) => new Map(e)),
  set: fc.array(tie('value'), { maxLength: 4 }).map((e) => new Set(e)),
})).value

describe('codec properties', () => {
  it('decodes what it encodes, for arbitrary storable values', () => {
    fc.assert(
      fc.property(storable, (value) => {
        const bytes = encodeValue(value)
        const out = decodeValue(bytes)
        expect(out).toEqual(value)
        // Equal bytes on re-encoding also pin down what toEqual overlooks: -0, holes, prototypes,
        // Buffer versus Uint8Array, typed array kinds.
        expect(encodeValue(out)).toEqual(bytes)
        // toEqual ignores the kind of a typed array and the prototype of an object at the root.
        if (value !== null && typeof value === 'object') {
          expect(Object.getPrototypeOf(out)).toBe(Object.getPrototypeOf(value))
        }
      }),
      { numRuns: 1000 },
    )
  })

  it('round-trips fc.anything with every option the codec supports', () => {
    const anything = fc.anything({
      withBigInt: true,
      withDate: true,
      withMap: true,
      withSet: true,
      withNullPrototype: true,
      withObjectString: true,
      withSparseArray: true,
      withTypedArray: true,
      stringUnit: 'binary',
    })
    fc.assert(
      fc.property(anything, (value) => {
        const bytes = encodeValue(value)
        const out = decodeValue(bytes)
        expect(out).toEqual(value)
        expect(encodeValue(out)).toEqual(bytes)
      }),
      { numRuns: 500 },
    )
  })

  it('never throws anything but E_INTEGRITY on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          decodeValue(bytes)
        } catch (error) {
          expect(DcacheError.is(error, 'E_INTEGRITY')).toBe(true)
        }
      }),
      { numRuns: 5000 },
    )
  })

  it('never throws anything but E_INTEGRITY on corrupted encodings', () => {
    const corrupted = fc
      .tuple(storable, fc.nat(), fc.integer({ min: 0, max: 255 }))
      .map(([value, at, byte]) => {
        const bytes = encodeValue(value).slice()
        if (bytes.length > 0) bytes[at % bytes.length] = byte
        return bytes
      })
    fc.assert(
      fc.property(corrupted, (bytes) => {
        try {
          decodeValue(bytes)
        } catch (error) {
          expect(DcacheError.is(error, 'E_INTEGRITY')).toBe(true)
        }
      }),
      { numRuns: 2000 },
    )
  })
})
