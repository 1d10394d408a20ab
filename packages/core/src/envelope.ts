/**
 * The envelope around every value dcache stores in a shared tier: a small binary header that says
 * how to read the payload, which key it belongs to, and an integrity tag that catches corruption
 * (CRC32) or, with a secret, tampering (HMAC-SHA256).
 *
 * Layout (multi-byte integers and floats little-endian):
 *
 * | offset | size | field                                                        |
 * | ------ | ---- | ------------------------------------------------------------ |
 * | 0      | 2    | magic `0xDC 0xA1`                                            |
 * | 2      | 1    | format version ({@link ENVELOPE_VERSION})                    |
 * | 3      | 1    | codec id                                                     |
 * | 4      | 1    | flags ({@link EnvelopeFlags})                                |
 * | 5      | 8    | createdAt, float64 epoch milliseconds                        |
 * | 13     | 8    | expiresAt, float64 epoch milliseconds; NaN means `null`      |
 * | 21     | 2    | key length in bytes, then the key as UTF-8                   |
 * | …      | 4    | payload length, then the payload                             |
 * | …      | 4/32 | CRC32 of every byte before it, or HMAC-SHA256 when `signed`  |
 *
 * The key is inside the checked bytes so that an entry copied or swapped under another key is
 * refused rather than served as that key's value.
 *
 * @packageDocumentation
 */

import { createHmac, timingSafeEqual } from 'node:crypto'
import { crc32 } from 'node:zlib'
import { DcacheTypeError } from './errors.js'

/** Version of the envelope layout. */
export const ENVELOPE_VERSION = 1

/**
 * Flag bits.
 *
 * - `compressed`: the payload was compressed after encoding; the reader must inflate it.
 * - `signed`: the tag is an HMAC-SHA256 rather than a CRC32. Set by {@link sealEnvelope}.
 */
export const EnvelopeFlags = { compressed: 1, signed: 2 } as const

const KNOWN_FLAGS = EnvelopeFlags.compressed | EnvelopeFlags.signed
const MAGIC_0 = 0xdc
const MAGIC_1 = 0xa1
const HEADER_BYTES = 21
const MAX_KEY_BYTES = 0xffff
const MAX_PAYLOAD_BYTES = 0xffffffff
const CRC_BYTES = 4
const HMAC_BYTES = 32
const textEncoder = new TextEncoder()
const isWellFormed = (String.prototype as unknown as { isWellFormed(this: string): boolean })
  .isWellFormed

/** A parsed, verified envelope. */
export interface Envelope {
  /** Layout version it was written with. */
  readonly formatVersion: number
  /** Codec that produced {@link Envelope.payload} (see `CODEC_ID`). */
  readonly codecId: number
  /** {@link EnvelopeFlags} bits. */
  readonly flags: number
  /** When the value was computed, epoch milliseconds. */
  readonly createdAt: number
  /** When the value expires, epoch milliseconds; `null` when it never does. */
  readonly expiresAt: number | null
  /** The cache key it was stored under. */
  readonly key: string
  /** The encoded value: a view into the bytes given to {@link openEnvelope}, not a copy. */
  readonly payload: Uint8Array
}

/** What {@link sealEnvelope} needs to build an envelope. */
export interface SealInput {
  /** The full cache key; checked again on read. At most 65535 UTF-8 bytes. */
  readonly key: string
  /** The encoded value. */
  readonly payload: Uint8Array
  /** When the value was computed, epoch milliseconds. */
  readonly createdAt: number
  /** Absolute expiry, epoch milliseconds; `null` for none. */
  readonly expiresAt: number | null
  /** Codec that produced the payload. */
  readonly codecId: number
  /** Extra {@link EnvelopeFlags} bits (e.g. `compressed`); `signed` is set from the secret. @default 0 */
  readonly flags?: number
}

/**
 * Build the stored bytes. With `secret`, the integrity tag is HMAC-SHA256 (flag `signed`); without
 * it, a CRC32 checksum (node:zlib crc32), which detects corruption but not deliberate tampering.
 *
 * @throws {@link DcacheTypeError} `E_INVALID_OPTION` for a key that is not well-formed Unicode or is
 * longer than 65535 UTF-8 bytes, non-finite times, an out-of-range codec id or flags, or an empty
 * secret.
 *
 * @example
 * ```ts
 * const bytes = sealEnvelope({ key, payload: encodeValue(result), createdAt: now,
 *   expiresAt: now + ttl, codecId: CODEC_ID }, process.env.CACHE_SECRET)
 * ```
 */
export function sealEnvelope(input: SealInput, secret?: string | Uint8Array): Uint8Array {
  const { key, payload, createdAt, expiresAt, codecId } = input
  const extraFlags = input.flags ?? 0
  if (!Number.isInteger(codecId) || codecId < 0 || codecId > 0xff) {
    throw invalid(`codecId must be an integer from 0 to 255, got ${codecId}`)
  }
  if (!Number.isInteger(extraFlags) || (extraFlags & ~KNOWN_FLAGS) !== 0 || extraFlags < 0) {
    throw invalid(`unknown envelope flags ${extraFlags}`)
  }
  if (!Number.isFinite(createdAt)) throw invalid(`createdAt must be a finite number`)
  if (expiresAt !== null && !Number.isFinite(expiresAt)) {
    throw invalid('expiresAt must be a finite number or null')
  }
  if (secret !== undefined && secret.length === 0) throw invalid('the secret must not be empty')
  // UTF-8 is only injective on well-formed strings; a lone surrogate would make two keys collide.
  if (!isWellFormed.call(key)) throw invalid('the key is not well-formed Unicode')
  const keyBytes = Buffer.byteLength(key, 'utf8')
  if (keyBytes > MAX_KEY_BYTES) throw invalid(`the key is ${keyBytes} bytes; at most 65535 fit`)
  if (payload.length > MAX_PAYLOAD_BYTES) throw invalid('the payload is larger than 4 GiB')

  const signed = secret !== undefined
  const flags = signed ? extraFlags | EnvelopeFlags.signed : extraFlags & ~EnvelopeFlags.signed
  const body = HEADER_BYTES + 2 + keyBytes + 4 + payload.length
  // A plain Uint8Array with its own memory: a Buffer from the shared pool would pin 8 KiB for as
  // long as a memory tier keeps the entry, and Buffer#slice would not copy.
  const out = new Uint8Array(body + (signed ? HMAC_BYTES : CRC_BYTES))
  const view = new DataView(out.buffer)
  out[0] = MAGIC_0
  out[1] = MAGIC_1
  out[2] = ENVELOPE_VERSION
  out[3] = codecId
  out[4] = flags
  view.setFloat64(5, createdAt, true)
  view.setFloat64(13, expiresAt ?? Number.NaN, true)
  view.setUint16(HEADER_BYTES, keyBytes, true)
  textEncoder.encodeInto(key, out.subarray(HEADER_BYTES + 2, HEADER_BYTES + 2 + keyBytes))
  let pos = HEADER_BYTES + 2 + keyBytes
  view.setUint32(pos, payload.length, true)
  pos += 4
  out.set(payload, pos)
  pos += payload.length
  const checked = out.subarray(0, body)
  if (signed) {
    out.set(createHmac('sha256', secret).update(checked).digest(), pos)
  } else {
    view.setUint32(pos, crc32(checked), true)
  }
  return out
}

/** Result of {@link openEnvelope}: the envelope, or why the bytes cannot be used. */
export type OpenResult =
  | { readonly ok: true; readonly envelope: Envelope }
  | { readonly ok: false; readonly reason: string }

/**
 * Parse and verify stored bytes. Never throws.
 *
 * Fails (`ok: false`, with a short human reason such as `'checksum mismatch'`, `'truncated'`,
 * `'unknown format version 7'`, `'key mismatch'`, `'signature required'`) on bad magic, an unknown
 * format version or flag, truncation, trailing bytes, a checksum or HMAC mismatch, a key different
 * from `expectedKey` (an entry swapped between keys), an unsigned envelope when a secret is
 * configured, and a signed envelope when none is.
 *
 * The returned payload is a view into `bytes` (no copy): do not mutate `bytes` while using it.
 *
 * @example
 * ```ts
 * const opened = openEnvelope(stored, key, secret)
 * if (!opened.ok) emit('integrity', { key, reason: opened.reason })
 * else return decodeValue(opened.envelope.payload)
 * ```
 */
export function openEnvelope(
  bytes: Uint8Array,
  expectedKey: string,
  secret?: string | Uint8Array,
): OpenResult {
  try {
    return open(bytes, expectedKey, secret)
  } catch (error) {
    // Only reachable through a bug or a hostile `bytes` object; callers rely on "never throws".
    return fail(`unreadable envelope (${error instanceof Error ? error.message : String(error)})`)
  }
}

function open(bytes: Uint8Array, expectedKey: string, secret?: string | Uint8Array): OpenResult {
  const total = bytes.length
  if (total < 2) return fail('truncated')
  if (bytes[0] !== MAGIC_0 || bytes[1] !== MAGIC_1) return fail('bad magic')
  if (total < 3) return fail('truncated')
  const formatVersion = bytes[2]!
  if (formatVersion !== ENVELOPE_VERSION) return fail(`unknown format version ${formatVersion}`)
  if (total < HEADER_BYTES + 2) return fail('truncated')
  const codecId = bytes[3]!
  const flags = bytes[4]!
  if ((flags & ~KNOWN_FLAGS) !== 0) return fail(`unknown flags ${flags}`)
  const signed = (flags & EnvelopeFlags.signed) !== 0
  if (secret !== undefined && !signed) return fail('signature required')
  if (secret === undefined && signed) return fail('signed, but no secret is configured')
  if (secret !== undefined && secret.length === 0) return fail('the secret is empty')

  const createdAt = float64At(bytes, 5)
  const rawExpiry = float64At(bytes, 13)
  const keyBytes = bytes[HEADER_BYTES]! | (bytes[HEADER_BYTES + 1]! << 8)
  const keyStart = HEADER_BYTES + 2
  const payloadLengthAt = keyStart + keyBytes
  if (total < payloadLengthAt + 4) return fail('truncated')
  const payloadLength = uint32At(bytes, payloadLengthAt)
  const payloadStart = payloadLengthAt + 4
  const body = payloadStart + payloadLength
  const tagBytes = signed ? HMAC_BYTES : CRC_BYTES
  if (total < body + tagBytes) return fail('truncated')
  if (total > body + tagBytes) return fail('trailing bytes')

  // Verify before interpreting anything else, so that a corrupt field reads as corruption.
  // Plain views, not `subarray`: on a Buffer that would build a Buffer, several times slower.
  const { buffer, byteOffset } = bytes
  const checked = new Uint8Array(buffer, byteOffset, body)
  if (signed) {
    const expected = createHmac('sha256', secret as string | Uint8Array).update(checked).digest()
    if (!timingSafeEqual(expected, new Uint8Array(buffer, byteOffset + body, HMAC_BYTES))) {
      return fail('signature mismatch')
    }
  } else if (crc32(checked) !== uint32At(bytes, body)) {
    return fail('checksum mismatch')
  }

  if (!keyMatches(bytes, keyStart, keyBytes, expectedKey)) return fail('key mismatch')
  if (!Number.isFinite(createdAt)) return fail('invalid createdAt')
  if (!Number.isNaN(rawExpiry) && !Number.isFinite(rawExpiry)) return fail('invalid expiresAt')

  return {
    ok: true,
    envelope: {
      formatVersion,
      codecId,
      flags,
      createdAt,
      expiresAt: Number.isNaN(rawExpiry) ? null : rawExpiry,
      key: expectedKey,
      payload: new Uint8Array(buffer, byteOffset + payloadStart, payloadLength),
    },
  }
}

/** Scratch space to read a little-endian float64 without a DataView per call. */
const scratch = new Uint8Array(8)
const scratchFloat = new Float64Array(scratch.buffer)
const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

function float64At(bytes: Uint8Array, at: number): number {
  for (let i = 0; i < 8; i++) scratch[littleEndian ? i : 7 - i] = bytes[at + i]!
  return scratchFloat[0]!
}

function uint32At(bytes: Uint8Array, at: number): number {
  return (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0
}

function keyMatches(bytes: Uint8Array, start: number, length: number, expected: string): boolean {
  // The core's keys are ASCII: compared byte by byte with their char codes, no native call.
  if (expected.length === length) {
    let ascii = true
    for (let i = 0; i < length; i++) {
      const c = expected.charCodeAt(i)
      if (c >= 0x80) {
        ascii = false
        break
      }
      if (bytes[start + i] !== c) return false
    }
    if (ascii) return true
  }
  if (!isWellFormed.call(expected)) return false
  const want = Buffer.from(expected, 'utf8')
  if (want.length !== length) return false
  for (let i = 0; i < length; i++) if (bytes[start + i] !== want[i]) return false
  return true
}

function fail(reason: string): OpenResult {
  return { ok: false, reason }
}

function invalid(message: string): DcacheTypeError {
  return new DcacheTypeError('E_INVALID_OPTION', `[dcache] cannot seal an envelope: ${message}`)
}
