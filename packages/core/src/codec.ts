/**
 * The value codec: turns a cached function's result into bytes and back, without the losses of
 * JSON. Dates, Maps, Sets, BigInts, `undefined`, `NaN`, `-0`, ±Infinity, typed arrays, Buffers,
 * ArrayBuffers, RegExps, null-prototype objects, sparse arrays and strings with lone surrogates all
 * come back as they went in.
 *
 * Format: one tag byte per value, then its body. Lengths and counts are unsigned LEB128 varints;
 * small integers are zigzag varints; other numbers and dates are float64 little-endian. Well-formed
 * strings are UTF-8; strings with lone surrogates are stored as raw UTF-16LE code units under their
 * own tag, so they round-trip exactly. Objects are a key count then (string, value) pairs; Maps and
 * Sets keep insertion order; array holes have their own tag and decode as holes.
 *
 * What it does not keep: object identity (a value referenced twice is stored twice and decodes as
 * two equal copies), symbol-keyed and non-enumerable properties, and a RegExp's `lastIndex`.
 *
 * @packageDocumentation
 */

import { isUtf8 } from 'node:buffer'
import { DcacheError } from './errors.js'
import { constructorName, describeKey, propertySegment } from './value-path.js'

/** Identifier of this codec, stored in every envelope. */
export const CODEC_ID = 1

/** Nesting limit, shared by both sides so the encoder never writes what the decoder refuses. */
const MAX_DEPTH = 1000

const T_UNDEFINED = 0
const T_NULL = 1
const T_FALSE = 2
const T_TRUE = 3
const T_INT = 4
const T_FLOAT = 5
const T_BIGINT = 6
const T_STRING = 7
const T_STRING16 = 8
const T_ARRAY = 9
const T_HOLE = 10
const T_OBJECT = 11
const T_NULL_OBJECT = 12
const T_DATE = 13
const T_MAP = 14
const T_SET = 15
const T_REGEXP = 16
const T_ARRAY_BUFFER = 17
const T_VIEW = 18
/** Top level only: the rest of the bytes are UTF-8 JSON text of a value JSON keeps exactly. */
const T_JSON = 19

/** Typed array kinds; the index is stored, so the order is part of the format. */
const VIEW_TYPES = [
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
  Buffer,
  DataView,
] as const
const VIEW_BUFFER = 11
const VIEW_DATAVIEW = 12

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

const objectProto = Object.prototype
const isWellFormed = (String.prototype as unknown as { isWellFormed(this: string): boolean })
  .isWellFormed

/** Keys that plain assignment would not create as own data properties on a `{}`. */
const PROTO_KEYS: Record<string, true> = Object.create(null) as Record<string, true>
for (const key of Object.getOwnPropertyNames(objectProto)) PROTO_KEYS[key] = true

const textEncoder = new TextEncoder()
// `ignoreBOM` keeps a leading U+FEFF in the string; `fatal` turns bad UTF-8 into an error.
const textDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

// Scratch space for float64 conversion, so numbers cost no allocation.
const f64 = new Float64Array(1)
const f64Bytes = new Uint8Array(f64.buffer)

// ---------------------------------------------------------------------------------------------
// Encoding

/**
 * Thrown inside the encoder; it collects path segments as the stack unwinds, so the happy path
 * never builds a path string.
 */
class NotCacheable {
  readonly message: string
  readonly segments: string[] = []
  /** `true` when the message reads `<path> is …` rather than `<path>: …`. */
  readonly subjectFirst: boolean
  constructor(message: string, subjectFirst = false) {
    this.message = message
    this.subjectFirst = subjectFirst
  }
}

class Writer {
  buf = new Uint8Array(256)
  pos = 0
  /** Ancestors of the value being written, indexed by depth, to detect cycles. */
  stack: (object | undefined)[] = []

  ensure(n: number): void {
    if (this.pos + n > this.buf.length) {
      const next = new Uint8Array(Math.max(this.buf.length * 2, this.pos + n))
      next.set(this.buf.subarray(0, this.pos))
      this.buf = next
    }
  }

  byte(b: number): void {
    this.ensure(1)
    this.buf[this.pos++] = b
  }

  varint(n: number): void {
    this.ensure(8)
    const buf = this.buf
    let pos = this.pos
    while (n >= 0x80) {
      buf[pos++] = (n & 0x7f) | 0x80
      n = Math.floor(n / 128)
    }
    buf[pos++] = n
    this.pos = pos
  }

  float(n: number): void {
    this.ensure(8)
    f64[0] = n
    const buf = this.buf
    const pos = this.pos
    if (LITTLE_ENDIAN) {
      for (let i = 0; i < 8; i++) buf[pos + i] = f64Bytes[i]!
    } else {
      for (let i = 0; i < 8; i++) buf[pos + i] = f64Bytes[7 - i]!
    }
    this.pos = pos + 8
  }

  bytes(src: Uint8Array): void {
    this.ensure(src.length)
    this.buf.set(src, this.pos)
    this.pos += src.length
  }

  string(s: string): void {
    const n = s.length
    if (n < 128) {
      // ASCII fast path: the byte length is the string length, one byte of length prefix.
      this.ensure(n + 2)
      const buf = this.buf
      let p = this.pos + 2
      let i = 0
      for (; i < n; i++) {
        const c = s.charCodeAt(i)
        if (c >= 0x80) break
        buf[p++] = c
      }
      if (i === n) {
        buf[this.pos] = T_STRING
        buf[this.pos + 1] = n
        this.pos = p
        return
      }
    }
    if (isWellFormed.call(s)) {
      // UTF-8 takes at most 3 bytes per UTF-16 code unit; write, then move if the prefix was short.
      const max = n * 3
      const headerMax = 1 + varintSize(max)
      // The extra 8 bytes keep `varint` below from reallocating over the bytes written past `pos`.
      this.ensure(headerMax + max + 8)
      const start = this.pos + headerMax
      const { written } = textEncoder.encodeInto(s, this.buf.subarray(start, start + max))
      const header = 1 + varintSize(written)
      this.buf[this.pos] = T_STRING
      this.pos++
      this.varint(written)
      if (header !== headerMax) this.buf.copyWithin(this.pos, start, start + written)
      this.pos += written
    } else {
      this.byte(T_STRING16)
      this.varint(n)
      this.ensure(n * 2)
      const buf = this.buf
      let p = this.pos
      for (let i = 0; i < n; i++) {
        const c = s.charCodeAt(i)
        buf[p++] = c & 0xff
        buf[p++] = c >>> 8
      }
      this.pos = p
    }
  }

  value(v: unknown, depth: number): void {
    switch (typeof v) {
      case 'string':
        this.string(v)
        return
      case 'number':
        if ((v | 0) === v && !(v === 0 && 1 / v < 0)) {
          this.ensure(6)
          this.buf[this.pos++] = T_INT
          this.varint(((v << 1) ^ (v >> 31)) >>> 0)
        } else {
          this.byte(T_FLOAT)
          this.float(v)
        }
        return
      case 'boolean':
        this.byte(v ? T_TRUE : T_FALSE)
        return
      case 'undefined':
        this.byte(T_UNDEFINED)
        return
      case 'bigint': {
        this.byte(T_BIGINT)
        const digits = v.toString()
        this.varint(digits.length)
        this.ensure(digits.length)
        for (let i = 0; i < digits.length; i++) this.buf[this.pos++] = digits.charCodeAt(i)
        return
      }
      case 'function':
        throw new NotCacheable('it is a function')
      case 'symbol':
        throw new NotCacheable('it is a symbol')
    }
    if (v === null) {
      this.byte(T_NULL)
      return
    }
    const obj = v as object
    const stack = this.stack
    for (let i = 0; i < depth; i++) {
      if (stack[i] === obj) throw new NotCacheable('it is a circular reference')
    }
    if (depth >= MAX_DEPTH) throw new NotCacheable(`it is nested more than ${MAX_DEPTH} levels deep`)
    stack[depth] = obj
    this.object(obj, depth + 1)
    stack[depth] = undefined
  }

  object(obj: object, depth: number): void {
    if (Array.isArray(obj)) {
      const n = obj.length
      this.byte(T_ARRAY)
      this.varint(n)
      for (let i = 0; i < n; i++) {
        try {
          if (!(i in obj)) this.byte(T_HOLE)
          else this.value(obj[i], depth)
        } catch (error) {
          throw withSegment(error, `[${i}]`)
        }
      }
      return
    }
    const proto: unknown = Object.getPrototypeOf(obj)
    if (proto === objectProto || proto === null) {
      this.byte(proto === null ? T_NULL_OBJECT : T_OBJECT)
      const keys = Object.keys(obj)
      this.varint(keys.length)
      const record = obj as Record<string, unknown>
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i]!
        this.string(key)
        try {
          this.value(record[key], depth)
        } catch (error) {
          throw withSegment(error, propertySegment(key))
        }
      }
      return
    }
    if (obj instanceof Date) {
      this.byte(T_DATE)
      this.float(obj.getTime())
      return
    }
    if (obj instanceof Map) {
      this.byte(T_MAP)
      this.varint(obj.size)
      let i = 0
      for (const [k, v] of obj as Map<unknown, unknown>) {
        try {
          this.value(k, depth)
        } catch (error) {
          throw withSegment(error, `.keys()[${i}]`)
        }
        try {
          this.value(v, depth)
        } catch (error) {
          throw withSegment(error, `.get(${describeKey(k, i)})`)
        }
        i++
      }
      return
    }
    if (obj instanceof Set) {
      this.byte(T_SET)
      this.varint(obj.size)
      let i = 0
      for (const v of obj as Set<unknown>) {
        try {
          this.value(v, depth)
        } catch (error) {
          throw withSegment(error, `.values()[${i}]`)
        }
        i++
      }
      return
    }
    if (ArrayBuffer.isView(obj)) {
      const kind = viewKind(obj)
      if (kind < 0) {
        throw new NotCacheable(
          `is an instance of ${constructorName(proto)}; dcache stores plain data only`,
          true,
        )
      }
      this.byte(T_VIEW)
      this.byte(kind)
      this.varint(obj.byteLength)
      const bytes = new Uint8Array(obj.buffer, obj.byteOffset, obj.byteLength)
      const start = this.pos
      this.bytes(bytes)
      if (!LITTLE_ENDIAN) swapInPlace(this.buf.subarray(start, this.pos), elementBytes(kind))
      return
    }
    if (obj instanceof ArrayBuffer) {
      this.byte(T_ARRAY_BUFFER)
      this.varint(obj.byteLength)
      this.bytes(new Uint8Array(obj))
      return
    }
    if (obj instanceof RegExp) {
      this.byte(T_REGEXP)
      this.string(obj.source)
      this.string(obj.flags)
      return
    }
    if (obj instanceof Promise || typeof (obj as { then?: unknown }).then === 'function') {
      throw new NotCacheable('it is a Promise (await it inside the function instead)')
    }
    if (obj instanceof WeakMap) throw new NotCacheable('it is a WeakMap')
    if (obj instanceof WeakSet) throw new NotCacheable('it is a WeakSet')
    throw new NotCacheable(
      `is an instance of ${constructorName(proto) || 'an anonymous class'}; dcache stores plain data only`,
      true,
    )
  }
}

function varintSize(n: number): number {
  let size = 1
  while (n >= 0x80) {
    n = Math.floor(n / 128)
    size++
  }
  return size
}

function viewKind(view: ArrayBufferView): number {
  // Exact constructor match: a subclass other than Buffer would decode as its base class.
  const ctor = view.constructor
  for (let i = 0; i < VIEW_TYPES.length; i++) if (VIEW_TYPES[i] === ctor) return i
  return -1
}

function elementBytes(kind: number): number {
  if (kind === VIEW_BUFFER || kind === VIEW_DATAVIEW) return 1
  return (VIEW_TYPES[kind] as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT
}

function swapInPlace(bytes: Uint8Array, size: number): void {
  if (size === 1) return
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (size === 2) b.swap16()
  else if (size === 4) b.swap32()
  else b.swap64()
}

function withSegment(error: unknown, segment: string): unknown {
  if (error instanceof NotCacheable) error.segments.push(segment)
  return error
}

let shared: Writer | undefined = new Writer()

const SLAB_BYTES = 8192
let slab = new ArrayBuffer(SLAB_BYTES)
let slabUsed = 0

/**
 * V8 keeps typed arrays of up to 64 bytes on the JS heap; a larger one costs a ~200 ns backing
 * store allocation, a third of a whole encode. Mid-sized results are carved from a shared slab
 * instead, as `Buffer.from` does, but as plain Uint8Arrays so that `.slice()` still copies.
 */
function allocate(n: number): Uint8Array {
  if (n <= 64 || n > SLAB_BYTES / 2) return new Uint8Array(n)
  if (slabUsed + n > SLAB_BYTES) {
    slab = new ArrayBuffer(SLAB_BYTES)
    slabUsed = 0
  }
  const out = new Uint8Array(slab, slabUsed, n)
  // 8-byte alignment keeps every result usable as the backing of an aligned view.
  slabUsed += (n + 7) & ~7
  return out
}

/**
 * Encode a value to bytes. Like `Buffer.from()`, the result may be a view into a shared 8 KiB
 * slab: copy it (`.slice()`) before keeping it on its own for long, so that it does not pin the
 * slab.
 *
 * @throws {@link DcacheError} `E_NOT_CACHEABLE` naming the path for values it cannot represent:
 * functions, symbols, promises, WeakMap/WeakSet, class instances other than the built-ins listed in
 * this module's description, circular references, and nesting deeper than 1000 levels, e.g.
 * `result.user.save: it is a function` or `result.x is an instance of User; dcache stores plain
 * data only`.
 *
 * @example
 * ```ts
 * const bytes = encodeValue({ at: new Date(), ids: new Set([1n, 2n]) })
 * ```
 */
export function encodeValue(value: unknown): Uint8Array {
  // Data that JSON keeps exactly is stored as JSON text: the engine's native parser then decodes
  // it, several times faster than any decoder written in JavaScript.
  if (typeof value === 'object' && value !== null && jsonKeepsExactly(value, 0)) {
    const text = encoder.encode(JSON.stringify(value))
    const out = allocate(text.length + 1)
    out[0] = T_JSON
    out.set(text, 1)
    return out
  }
  // A getter may encode re-entrantly; it then gets its own writer instead of the shared one.
  const writer = shared ?? new Writer()
  shared = undefined
  writer.pos = 0
  try {
    writer.value(value, 0)
    const out = allocate(writer.pos)
    out.set(writer.buf.subarray(0, writer.pos))
    return out
  } catch (error) {
    if (!(error instanceof NotCacheable)) throw error
    const path = 'result' + error.segments.reverse().join('')
    const detail = error.subjectFirst ? `${path} ${error.message}` : `${path}: ${error.message}`
    throw new DcacheError('E_NOT_CACHEABLE', `dcache cannot store this value: ${detail}`)
  } finally {
    writer.stack.length = 0
    // Drop a buffer that grew for one big value rather than holding it for the process lifetime.
    if (writer.buf.length > 65536) writer.buf = new Uint8Array(256)
    shared = writer
  }
}

// ---------------------------------------------------------------------------------------------
// Decoding

function corrupt(reason: string): DcacheError {
  return new DcacheError('E_INTEGRITY', `dcache cannot decode a stored value: ${reason}`)
}

class Reader {
  readonly buf: Uint8Array
  pos = 0
  readonly end: number

  constructor(buf: Uint8Array) {
    this.buf = buf
    this.end = buf.length
  }

  byte(): number {
    if (this.pos >= this.end) throw corrupt('truncated')
    return this.buf[this.pos++]!
  }

  varint(): number {
    const buf = this.buf
    let pos = this.pos
    let result = 0
    let scale = 1
    // Seven groups of 7 bits reach 2^49, beyond any length that fits in memory.
    for (let i = 0; i < 7; i++) {
      if (pos >= this.end) throw corrupt('truncated')
      const b = buf[pos++]!
      result += (b & 0x7f) * scale
      if (b < 0x80) {
        this.pos = pos
        return result
      }
      scale *= 128
    }
    throw corrupt('varint too long')
  }

  /** A length that must fit in the remaining bytes, each item taking at least `unit` bytes. */
  length(unit: number): number {
    const n = this.varint()
    if (n * unit > this.end - this.pos) throw corrupt('length exceeds the remaining bytes')
    return n
  }

  float(): number {
    if (this.pos + 8 > this.end) throw corrupt('truncated')
    const buf = this.buf
    const pos = this.pos
    if (LITTLE_ENDIAN) {
      for (let i = 0; i < 8; i++) f64Bytes[i] = buf[pos + i]!
    } else {
      for (let i = 0; i < 8; i++) f64Bytes[7 - i] = buf[pos + i]!
    }
    this.pos = pos + 8
    return f64[0]!
  }

  utf8(n: number): string {
    const buf = this.buf
    const start = this.pos
    const end = start + n
    if (n <= 16) {
      // Short ASCII strings (keys, names) are several times cheaper to build in JS than to hand to
      // the native decoder.
      let i = start
      while (i < end && buf[i]! < 0x80) i++
      if (i === end) {
        this.pos = end
        return shortAscii(buf, start, n)
      }
    }
    this.pos = end
    try {
      return textDecoder.decode(buf.subarray(start, end))
    } catch (error) {
      throw new DcacheError('E_INTEGRITY', 'dcache cannot decode a stored value: invalid UTF-8', {
        cause: error,
      })
    }
  }

  string(): string {
    const tag = this.byte()
    if (tag === T_STRING) return this.utf8(this.length(1))
    if (tag === T_STRING16) return this.utf16(this.length(2))
    throw corrupt(`expected a string, found tag ${tag}`)
  }

  utf16(n: number): string {
    const buf = this.buf
    let pos = this.pos
    let s = ''
    for (let i = 0; i < n; i++) {
      s += String.fromCharCode(buf[pos]! | (buf[pos + 1]! << 8))
      pos += 2
    }
    this.pos = pos
    return s
  }

  value(depth: number): unknown {
    const tag = this.byte()
    switch (tag) {
      case T_UNDEFINED:
        return undefined
      case T_NULL:
        return null
      case T_FALSE:
        return false
      case T_TRUE:
        return true
      case T_INT: {
        const z = this.varint()
        if (z > 0xffffffff) throw corrupt('integer out of range')
        return z % 2 === 0 ? z / 2 : -(z + 1) / 2
      }
      case T_FLOAT:
        return this.float()
      case T_BIGINT: {
        const n = this.length(1)
        const digits = this.utf8(n)
        if (!/^-?\d+$/.test(digits)) throw corrupt('malformed bigint')
        return BigInt(digits)
      }
      case T_STRING:
        return this.utf8(this.length(1))
      case T_STRING16:
        return this.utf16(this.length(2))
      case T_DATE:
        return new Date(this.float())
      case T_REGEXP: {
        const source = this.string()
        const flags = this.string()
        try {
          return new RegExp(source, flags)
        } catch (error) {
          throw new DcacheError('E_INTEGRITY', 'dcache cannot decode a stored value: bad RegExp', {
            cause: error,
          })
        }
      }
      case T_ARRAY_BUFFER: {
        const n = this.length(1)
        const out = new ArrayBuffer(n)
        new Uint8Array(out).set(this.buf.subarray(this.pos, this.pos + n))
        this.pos += n
        return out
      }
      case T_VIEW:
        return this.view()
    }
    if (depth >= MAX_DEPTH) throw corrupt(`nested more than ${MAX_DEPTH} levels deep`)
    const next = depth + 1
    switch (tag) {
      case T_ARRAY: {
        const n = this.length(1)
        const arr: unknown[] = []
        for (let i = 0; i < n; i++) {
          if (this.pos < this.end && this.buf[this.pos] === T_HOLE) {
            this.pos++
            arr.length = i + 1
          } else {
            arr.push(this.value(next))
          }
        }
        return arr
      }
      case T_OBJECT: {
        const n = this.length(2)
        const obj: Record<string, unknown> = {}
        for (let i = 0; i < n; i++) {
          const key = this.string()
          const value = this.value(next)
          // Assignment to `__proto__` (and to a frozen prototype's keys) would not create an own
          // data property; defining it always does, and never touches Object.prototype.
          if (PROTO_KEYS[key] === true) {
            Object.defineProperty(obj, key, {
              value,
              writable: true,
              enumerable: true,
              configurable: true,
            })
          } else {
            obj[key] = value
          }
        }
        return obj
      }
      case T_NULL_OBJECT: {
        const n = this.length(2)
        const obj = Object.create(null) as Record<string, unknown>
        for (let i = 0; i < n; i++) {
          const key = this.string()
          obj[key] = this.value(next)
        }
        return obj
      }
      case T_MAP: {
        const n = this.length(2)
        const map = new Map<unknown, unknown>()
        for (let i = 0; i < n; i++) {
          const key = this.value(next)
          map.set(key, this.value(next))
        }
        return map
      }
      case T_SET: {
        const n = this.length(1)
        const set = new Set<unknown>()
        for (let i = 0; i < n; i++) set.add(this.value(next))
        return set
      }
    }
    throw corrupt(`unknown tag ${tag}`)
  }

  view(): ArrayBufferView {
    const kind = this.byte()
    if (kind >= VIEW_TYPES.length) throw corrupt(`unknown typed array kind ${kind}`)
    const n = this.length(1)
    const size = elementBytes(kind)
    if (n % size !== 0) throw corrupt('typed array length is not a multiple of its element size')
    const src = this.buf.subarray(this.pos, this.pos + n)
    this.pos += n
    if (kind === VIEW_BUFFER) return Buffer.from(src)
    // A fresh, aligned buffer: the input's offset may not be a multiple of the element size.
    const copy = new Uint8Array(n)
    copy.set(src)
    if (!LITTLE_ENDIAN) swapInPlace(copy, size)
    if (kind === VIEW_DATAVIEW) return new DataView(copy.buffer)
    const Ctor = VIEW_TYPES[kind] as new (buffer: ArrayBuffer) => ArrayBufferView
    return new Ctor(copy.buffer)
  }
}

/** `String.fromCharCode` with an exact argument count, which V8 builds without intermediates. */
function shortAscii(b: Uint8Array, p: number, n: number): string {
  const c = String.fromCharCode
  // prettier-ignore
  switch (n) {
    case 0: return ''
    case 1: return c(b[p]!)
    case 2: return c(b[p]!, b[p + 1]!)
    case 3: return c(b[p]!, b[p + 1]!, b[p + 2]!)
    case 4: return c(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!)
    case 5: return c(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!)
    case 6: return c(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!)
    case 7: return c(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!, b[p + 6]!)
    case 8: return c(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!, b[p + 6]!, b[p + 7]!)
    default:
      return c(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!, b[p + 6]!, b[p + 7]!) +
        shortAscii(b, p + 8, n - 8)
  }
}

/**
 * Decode bytes produced by {@link encodeValue}.
 *
 * Safe on hostile input: every length is checked against the remaining bytes before anything is
 * allocated, nesting is capped at 1000 levels, and keys such as `__proto__` become own data
 * properties, never touching `Object.prototype`.
 *
 * @throws {@link DcacheError} `E_INTEGRITY` on malformed, truncated or over-long input; it never
 * returns a partial value.
 *
 * @example
 * ```ts
 * const value = decodeValue(encodeValue(new Map([[1n, new Date(0)]])))
 * ```
 */
export function decodeValue(bytes: Uint8Array): unknown {
  if (bytes[0] === T_JSON) {
    // Only objects and arrays are stored as JSON: a cut or an extended text can never parse to
    // another value, since it must still open and close with the same kind of bracket.
    const first = bytes[1]
    const last = bytes[bytes.length - 1]
    if (bytes.length < 3 || (first !== 0x7b && first !== 0x5b)) throw corrupt('not a JSON object or array')
    if (last !== (first === 0x7b ? 0x7d : 0x5d)) throw corrupt('truncated, or trailing bytes after the value')
    // Invalid UTF-8 is corruption, not text with replacement characters. The tag byte is ASCII,
    // so checking the whole view checks the text; utf8Slice then decodes without a subarray.
    if (!isUtf8(bytes)) throw corrupt('invalid UTF-8')
    try {
      return JSON.parse(utf8Slice.call(bytes, 1, bytes.length) as string)
    } catch (error) {
      throw new DcacheError('E_INTEGRITY', 'dcache cannot decode a stored value', { cause: error })
    }
  }
  const reader = new Reader(bytes)
  let value: unknown
  try {
    value = reader.value(0)
  } catch (error) {
    if (DcacheError.is(error)) throw error
    // Anything else (a RangeError from an engine limit, say) still means the bytes are unusable.
    throw new DcacheError('E_INTEGRITY', 'dcache cannot decode a stored value', { cause: error })
  }
  if (reader.pos !== reader.end) throw corrupt('trailing bytes after the value')
  return value
}

const encoder = new TextEncoder()
/** Node's native UTF-8 decoder, callable on any Uint8Array (not only Buffers). */
const utf8Slice = (Buffer.prototype as unknown as { utf8Slice(this: Uint8Array, start: number, end: number): string }).utf8Slice

/**
 * `true` when `JSON.parse(JSON.stringify(value))` gives back exactly `value`: null, booleans,
 * strings, finite numbers other than -0, dense plain arrays and plain objects (Object.prototype)
 * of those, with no `undefined` inside and no `toJSON`. Anything else takes the binary format.
 */
function jsonKeepsExactly(value: unknown, depth: number): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true
    case 'number':
      return Number.isFinite(value) && (value !== 0 || 1 / value > 0)
    case 'object': {
      if (value === null) return true
      if (depth >= MAX_DEPTH) return false
      const proto: unknown = Object.getPrototypeOf(value)
      if (proto === Array.prototype) {
        const array = value as unknown[]
        if (!Array.isArray(array) || Object.keys(array).length !== array.length) return false
        for (let i = 0; i < array.length; i++) if (!jsonKeepsExactly(array[i], depth + 1)) return false
        return true
      }
      if (proto !== Object.prototype || Object.getOwnPropertySymbols(value).length > 0) return false
      const object = value as Record<string, unknown>
      if ('toJSON' in object) return false
      for (const key in object) {
        if (!Object.hasOwn(object, key)) return false
        if (!jsonKeepsExactly(object[key], depth + 1)) return false
      }
      return true
    }
    default:
      return false
  }
}
