import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  ENVELOPE_VERSION,
  EnvelopeFlags,
  openEnvelope,
  sealEnvelope,
  type OpenResult,
  type SealInput,
} from '../src/envelope.js'
import { DcacheError } from '../src/errors.js'

const SECRET = 'correct horse battery staple'
const KEY = 'dcache:v1:getUser:0t7pbIRuZ7ijUnPX4WZwD2oJfmUiAZI4PZNPvN0bQA4'

const input = (overrides: Partial<SealInput> = {}): SealInput => ({
  key: KEY,
  payload: Uint8Array.from([1, 2, 3, 0, 255]),
  createdAt: 1_700_000_000_000,
  expiresAt: 1_700_000_060_000,
  codecId: 1,
  ...overrides,
})

function reason(result: OpenResult): string {
  expect(result.ok).toBe(false)
  return result.ok ? '' : result.reason
}

function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
  const copy = bytes.slice()
  copy[bit >> 3]! ^= 1 << (bit & 7)
  return copy
}

describe('envelope', () => {
  describe('round trip', () => {
    for (const secret of [undefined, SECRET, new TextEncoder().encode(SECRET)]) {
      const variant = secret === undefined ? 'CRC32' : `HMAC (${typeof secret} secret)`

      it(`opens what it sealed, with ${variant}`, () => {
        const sealed = sealEnvelope(input({ flags: EnvelopeFlags.compressed }), secret)
        const opened = openEnvelope(sealed, KEY, secret)
        expect(opened).toEqual({
          ok: true,
          envelope: {
            formatVersion: ENVELOPE_VERSION,
            codecId: 1,
            flags: EnvelopeFlags.compressed | (secret === undefined ? 0 : EnvelopeFlags.signed),
            createdAt: 1_700_000_000_000,
            expiresAt: 1_700_000_060_000,
            key: KEY,
            payload: Uint8Array.from([1, 2, 3, 0, 255]),
          },
        })
      })

      it(`keeps a null expiry and an empty payload, with ${variant}`, () => {
        const sealed = sealEnvelope(input({ expiresAt: null, payload: new Uint8Array(0) }), secret)
        const opened = openEnvelope(sealed, KEY, secret)
        if (!opened.ok) throw new Error(opened.reason)
        expect(opened.envelope.expiresAt).toBeNull()
        expect(opened.envelope.payload.length).toBe(0)
      })
    }

    it('keeps payloads made of zero bytes and large payloads', () => {
      for (const payload of [new Uint8Array(100), new Uint8Array(70_000).fill(7)]) {
        const opened = openEnvelope(sealEnvelope(input({ payload })), KEY)
        if (!opened.ok) throw new Error(opened.reason)
        expect(opened.envelope.payload).toEqual(payload)
      }
    })

    it('keeps a non-ASCII key, a codec id and negative times', () => {
      const key = 'clé:日本:🎉'
      const sealed = sealEnvelope(input({ key, codecId: 200, createdAt: -5, expiresAt: 0 }))
      const opened = openEnvelope(sealed, key)
      if (!opened.ok) throw new Error(opened.reason)
      expect(opened.envelope).toMatchObject({ key, codecId: 200, createdAt: -5, expiresAt: 0 })
    })

    it('returns the payload as a view into the given bytes', () => {
      const sealed = sealEnvelope(input())
      const opened = openEnvelope(sealed, KEY)
      if (!opened.ok) throw new Error(opened.reason)
      expect(opened.envelope.payload.buffer).toBe(sealed.buffer)
    })

    it('opens an envelope that sits at an offset inside a larger buffer', () => {
      const sealed = sealEnvelope(input())
      const larger = new Uint8Array(sealed.length + 13)
      larger.set(sealed, 7)
      expect(openEnvelope(larger.subarray(7, 7 + sealed.length), KEY).ok).toBe(true)
    })

    it('starts with the magic bytes and the format version', () => {
      const sealed = sealEnvelope(input())
      expect([...sealed.subarray(0, 5)]).toEqual([0xdc, 0xa1, 1, 1, 0])
    })
  })

  describe('refuses bytes it cannot trust', () => {
    it('refuses bad magic', () => {
      const sealed = sealEnvelope(input())
      sealed[0] = 0x7b
      expect(reason(openEnvelope(sealed, KEY))).toBe('bad magic')
    })

    it('refuses an unknown format version', () => {
      const sealed = sealEnvelope(input())
      sealed[2] = 7
      expect(reason(openEnvelope(sealed, KEY))).toBe('unknown format version 7')
    })

    it('refuses unknown flags', () => {
      const sealed = sealEnvelope(input())
      sealed[4] = 0x80
      expect(reason(openEnvelope(sealed, KEY))).toBe('unknown flags 128')
    })

    it('refuses truncated bytes and trailing bytes', () => {
      const sealed = sealEnvelope(input())
      expect(reason(openEnvelope(sealed.subarray(0, sealed.length - 1), KEY))).toBe('truncated')
      expect(reason(openEnvelope(new Uint8Array(0), KEY))).toBe('truncated')
      expect(reason(openEnvelope(Uint8Array.from([...sealed, 0]), KEY))).toBe('trailing bytes')
    })

    it('refuses a checksum mismatch', () => {
      const sealed = sealEnvelope(input())
      sealed[sealed.length - 6]! ^= 1
      expect(reason(openEnvelope(sealed, KEY))).toBe('checksum mismatch')
    })

    it('refuses a signature made with another secret, or a tampered payload', () => {
      const sealed = sealEnvelope(input(), SECRET)
      expect(reason(openEnvelope(sealed, KEY, 'another secret'))).toBe('signature mismatch')
      const tampered = sealed.slice()
      tampered[tampered.length - 34]! ^= 1 // inside the payload
      expect(reason(openEnvelope(tampered, KEY, SECRET))).toBe('signature mismatch')
    })

    it('refuses an entry stored under another key', () => {
      const sealed = sealEnvelope(input({ key: 'user:1' }))
      expect(reason(openEnvelope(sealed, 'user:2'))).toBe('key mismatch')
      expect(reason(openEnvelope(sealed, 'user:10'))).toBe('key mismatch')
      expect(reason(openEnvelope(sealed, 'usér:1'))).toBe('key mismatch')
      expect(reason(openEnvelope(sealEnvelope(input({ key: 'ü' })), '\uD800'))).toBe('key mismatch')
    })

    it('refuses an unsigned envelope when a secret is configured', () => {
      expect(reason(openEnvelope(sealEnvelope(input()), KEY, SECRET))).toBe('signature required')
    })

    it('refuses a signed envelope when no secret is configured', () => {
      expect(reason(openEnvelope(sealEnvelope(input(), SECRET), KEY))).toContain('no secret')
    })
  })

  describe('refuses to seal invalid input', () => {
    const invalid = (overrides: Partial<SealInput>, secret?: string): void => {
      let thrown: unknown
      try {
        sealEnvelope(input(overrides), secret)
      } catch (error) {
        thrown = error
      }
      expect(DcacheError.is(thrown, 'E_INVALID_OPTION')).toBe(true)
      expect(thrown).toBeInstanceOf(TypeError)
    }

    it('refuses bad keys, times, codec ids, flags and secrets', () => {
      invalid({ key: 'k'.repeat(65_536) })
      invalid({ key: 'lone \uD800' })
      invalid({ createdAt: Number.NaN })
      invalid({ expiresAt: Infinity })
      invalid({ codecId: 256 })
      invalid({ codecId: 1.5 })
      invalid({ flags: 64 })
      invalid({}, '')
    })

    it('accepts the longest key', () => {
      const key = 'k'.repeat(65_535)
      expect(openEnvelope(sealEnvelope(input({ key })), key).ok).toBe(true)
    })
  })
})

// ---------------------------------------------------------------------------------------------
// Properties

const sealInputs = fc.record({
  key: fc.string({ maxLength: 40, unit: 'grapheme' }),
  payload: fc.uint8Array({ maxLength: 64 }),
  createdAt: fc.double({ noNaN: true, noDefaultInfinity: true }),
  expiresAt: fc.option(fc.double({ noNaN: true, noDefaultInfinity: true }), { nil: null }),
  codecId: fc.integer({ min: 0, max: 255 }),
  flags: fc.constantFrom(0, EnvelopeFlags.compressed),
})

describe('envelope properties', () => {
  for (const secret of [undefined, SECRET]) {
    const variant = secret === undefined ? 'CRC32' : 'HMAC'

    it(`opens every sealed envelope (${variant})`, () => {
      fc.assert(
        fc.property(sealInputs, (seal) => {
          const opened = openEnvelope(sealEnvelope(seal, secret), seal.key, secret)
          if (!opened.ok) throw new Error(opened.reason)
          expect(opened.envelope.payload).toEqual(seal.payload)
          expect(Object.is(opened.envelope.createdAt, seal.createdAt)).toBe(true)
          expect(opened.envelope.expiresAt).toEqual(seal.expiresAt)
        }),
      )
    })

    it(`fails on any single bit flip anywhere (${variant})`, () => {
      const flipped = sealInputs.chain((seal) => {
        const sealed = sealEnvelope(seal, secret)
        return fc
          .integer({ min: 0, max: sealed.length * 8 - 1 })
          .map((bit) => [seal.key, flipBit(sealed, bit)] as const)
      })
      fc.assert(
        fc.property(flipped, ([key, bytes]) => {
          expect(openEnvelope(bytes, key, secret).ok).toBe(false)
        }),
        { numRuns: 2000 },
      )
    })

    it(`fails on every bit flip of one envelope, exhaustively (${variant})`, () => {
      const sealed = sealEnvelope(input({ expiresAt: null }), secret)
      for (let bit = 0; bit < sealed.length * 8; bit++) {
        expect(openEnvelope(flipBit(sealed, bit), KEY, secret).ok).toBe(false)
      }
    })

    it(`fails on every truncation (${variant})`, () => {
      fc.assert(
        fc.property(sealInputs, (seal) => {
          const sealed = sealEnvelope(seal, secret)
          for (let n = 0; n < sealed.length; n++) {
            expect(openEnvelope(sealed.subarray(0, n), seal.key, secret).ok).toBe(false)
          }
        }),
        { numRuns: 200 },
      )
    })

    it(`never throws on random bytes (${variant})`, () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 128 }), fc.string(), (bytes, key) => {
          const result = openEnvelope(bytes, key, secret)
          expect(typeof result.ok).toBe('boolean')
        }),
        { numRuns: 2000 },
      )
    })

    it(`never throws on random bytes behind a valid header (${variant})`, () => {
      const header = sealEnvelope(input(), secret).subarray(0, 21)
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 128 }), (tail) => {
          const bytes = Uint8Array.from([...header, ...tail])
          expect(openEnvelope(bytes, KEY, secret).ok).toBe(false)
        }),
        { numRuns: 2000 },
      )
    })
  }
})
