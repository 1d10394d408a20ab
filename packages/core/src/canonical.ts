/**
 * Canonical key encoding: turns a cached function's arguments into a string that is equal for
 * equal arguments and different for different ones, in every process, run and machine.
 *
 * Format. Every value encodes to a self-delimiting token (no token is a prefix of another), so the
 * concatenation of an argument list's tokens is unambiguous without separators:
 *
 * | value                     | token                                                            |
 * | ------------------------- | ---------------------------------------------------------------- |
 * | `undefined`, array hole   | `u`                                                              |
 * | `null` / `true` / `false` | `z` / `t` / `f`                                                  |
 * | number                    | `n` + `String(n)` + `;` (`n-0;` for -0, `nNaN;`, `n-Infinity;`)  |
 * | bigint                    | `b` + decimal digits + `;`                                       |
 * | string                    | `s` + length in UTF-16 code units + `:` + the code units as-is   |
 * | array                     | `a` + length + `:` + each element                                |
 * | plain / null-proto object | `o` + key count + `:` + (key as a string token + value)…         |
 * | class instance            | `c` + constructor name (string token) + the object body above    |
 * | object with `toJSON()`    | `j` + constructor name (string token) + token of `toJSON()`      |
 * | Date                      | `d` + `String(getTime())` + `;`                                  |
 * | Map / Set                 | `m` / `e` + size + `:` + entry tokens sorted by code unit order  |
 * | typed array, DataView     | `v` + type name (string token) + byte length + `:` + bytes       |
 * | ArrayBuffer               | `y` + byte length + `:` + bytes                                  |
 * | RegExp                    | `r` + source (string token) + flags (string token)               |
 * | boxed primitive           | `x` + token of its primitive value                               |
 *
 * Object keys are sorted by UTF-16 code unit order (the default `Array.prototype.sort`), which is
 * locale-independent. Bytes are written one char per byte (latin1), little-endian for multi-byte
 * element types whatever the host's byte order. `Number.prototype.toString` is exactly specified by
 * ECMAScript (shortest round-tripping digits), so number tokens do not vary between engines.
 *
 * The token list of `canonicalArgs([v])` equals `canonicalValue(v)`: a `key` function returning
 * `v` keys the same entry as calling with the single argument `v`.
 *
 * @packageDocumentation
 */

import { hash } from 'node:crypto'
import { DcacheTypeError } from './errors.js'
import { constructorName, describeKey, propertySegment } from './value-path.js'

/** Deeper nesting than this is almost always a bug (or a structure that is not data). */
const MAX_DEPTH = 1000

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

const objectProto = Object.prototype
const toStringTag = Object.prototype.toString

/**
 * Thrown inside the encoder when a value cannot be keyed. It collects path segments as the stack
 * unwinds, so the happy path never builds a path string.
 */
class Unkeyable {
  readonly reason: string
  readonly segments: string[] = []
  constructor(reason: string) {
    this.reason = reason
  }
}

/**
 * Canonical, type-tagged, length-prefixed string encoding of an argument list.
 *
 * Two argument lists give the same string exactly when they hold the same data: object key order
 * and Map/Set insertion order do not matter, types do (`1`, `'1'`, `1n` and `true` all differ), and
 * so do `-0`, `undefined` versus `null`, and a missing argument versus `undefined`.
 *
 * Class instances are keyed by constructor name and their own enumerable string-keyed properties:
 * private fields (`#x`), closures and symbol-keyed properties are not seen, so two instances that
 * differ only in such state share a key. Objects with a `toJSON()` method (URL, Decimal…) are keyed
 * by its result.
 *
 * @throws {@link DcacheTypeError} `E_UNKEYABLE_ARGUMENT` for functions, symbols, circular
 * references, promises and other thenables, WeakMap, WeakSet and WeakRef; the message names the
 * argument path, e.g. `args[1].user.onClick`.
 *
 * @example
 * ```ts
 * canonicalArgs(['user', 42, { page: 2 }]) // 's4:usern42;o1:s4:pagen2;'
 * ```
 */
export function canonicalArgs(args: readonly unknown[]): string {
  let out = ''
  // Primitives are encoded inline: most argument lists are ids and flags, and this loop allocates
  // nothing but the result string.
  for (let i = 0; i < args.length; i++) {
    const v = args[i]
    switch (typeof v) {
      case 'string':
        out += 's' + v.length + ':' + v
        break
      case 'number':
        out += v === 0 && 1 / v < 0 ? 'n-0;' : 'n' + v + ';'
        break
      case 'boolean':
        out += v ? 't' : 'f'
        break
      case 'undefined':
        out += 'u'
        break
      case 'bigint':
        out += 'b' + v + ';'
        break
      default:
        if (v === null) out += 'z'
        else out += encodeRoot(v, `args[${i}]`, true)
    }
  }
  return out
}

/**
 * Canonical encoding of a single value, with the same rules as {@link canonicalArgs}. Used for the
 * result of a user's custom `key` function.
 *
 * @throws {@link DcacheTypeError} `E_UNKEYABLE_ARGUMENT`, naming the path inside the key (`key()…`).
 *
 * @example
 * ```ts
 * canonicalValue({ b: 2, a: 1 }) === canonicalValue({ a: 1, b: 2 }) // true
 * ```
 */
export function canonicalValue(value: unknown): string {
  return encodeRoot(value, 'key()', false)
}

/**
 * SHA-256 of the canonical string's UTF-16 code units (so lone surrogates are hashed exactly, not
 * replaced as UTF-8 would), as base64url without padding: always 43 characters.
 *
 * @example
 * ```ts
 * const key = `${namespace}:${digest(canonicalArgs(args))}`
 * ```
 */
export function digest(canonical: string): string {
  // One-shot `hash` skips the Hash object that `createHash` builds: ~40% faster on short keys.
  return hash('sha256', Buffer.from(canonical, 'utf16le'), 'base64url')
}

function encodeRoot(value: unknown, root: string, isArgs: boolean): string {
  try {
    return encode(value, [], 0)
  } catch (error) {
    if (!(error instanceof Unkeyable)) throw error
    const path = root + error.segments.reverse().join('')
    const hint = isArgs
      ? 'Pass a `key` option that returns plain data.'
      : 'Make the `key` function return plain data.'
    throw new DcacheTypeError(
      'E_UNKEYABLE_ARGUMENT',
      `dcache cannot build a key from ${path}: ${error.reason}. ${hint}`,
    )
  }
}

function encodeString(s: string): string {
  return 's' + s.length + ':' + s
}

/** `ancestors` holds the objects currently being encoded above `value`, to detect cycles. */
function encode(value: unknown, ancestors: object[], depth: number): string {
  switch (typeof value) {
    case 'string':
      return 's' + value.length + ':' + value
    case 'number':
      return value === 0 && 1 / value < 0 ? 'n-0;' : 'n' + value + ';'
    case 'boolean':
      return value ? 't' : 'f'
    case 'undefined':
      return 'u'
    case 'bigint':
      return 'b' + value + ';'
    case 'function':
      throw new Unkeyable('it is a function')
    case 'symbol':
      throw new Unkeyable('it is a symbol')
  }
  if (value === null) return 'z'
  const obj = value as object
  if (ancestors.includes(obj)) throw new Unkeyable('it is a circular reference')
  if (depth >= MAX_DEPTH) throw new Unkeyable(`it is nested more than ${MAX_DEPTH} levels deep`)
  ancestors.push(obj)
  const out = encodeObject(obj, ancestors, depth + 1)
  ancestors.pop()
  return out
}

function encodeObject(obj: object, ancestors: object[], depth: number): string {
  if (Array.isArray(obj)) {
    let out = 'a' + obj.length + ':'
    for (let i = 0; i < obj.length; i++) {
      try {
        out += encode(obj[i], ancestors, depth)
      } catch (error) {
        throw withSegment(error, `[${i}]`)
      }
    }
    return out
  }
  const proto: unknown = Object.getPrototypeOf(obj)
  if (proto === objectProto || proto === null) return encodeProperties('o', obj, ancestors, depth)

  if (obj instanceof Date) return 'd' + obj.getTime() + ';'
  if (obj instanceof Map) return encodeMap(obj, ancestors, depth)
  if (obj instanceof Set) return encodeSet(obj, ancestors, depth)
  if (ArrayBuffer.isView(obj)) {
    // The tag names the view's type, so a Buffer (a Uint8Array subclass) keys like a Uint8Array.
    const type = toStringTag.call(obj).slice(8, -1)
    return 'v' + encodeString(type) + bytesToken(obj, obj instanceof DataView ? 1 : elementSize(obj))
  }
  if (obj instanceof ArrayBuffer) return 'y' + bytesToken(new Uint8Array(obj), 1)
  if (obj instanceof RegExp) return 'r' + encodeString(obj.source) + encodeString(obj.flags)
  if (
    obj instanceof Number ||
    obj instanceof String ||
    obj instanceof Boolean ||
    obj instanceof BigInt
  ) {
    try {
      return 'x' + encode(obj.valueOf(), ancestors, depth)
    } catch (error) {
      throw withSegment(error, '.valueOf()')
    }
  }
  if (obj instanceof Promise) throw new Unkeyable('it is a Promise')
  if (obj instanceof WeakMap) throw new Unkeyable('it is a WeakMap')
  if (obj instanceof WeakSet) throw new Unkeyable('it is a WeakSet')
  if (obj instanceof WeakRef) throw new Unkeyable('it is a WeakRef')
  if (obj instanceof Symbol) throw new Unkeyable('it is a symbol')

  const record = obj as Record<string, unknown>
  if (typeof record.then === 'function') throw new Unkeyable('it is a thenable (a Promise-like)')
  const name = constructorName(proto)
  if (typeof record.toJSON === 'function') {
    try {
      return 'j' + encodeString(name) + encode(record.toJSON(), ancestors, depth)
    } catch (error) {
      throw withSegment(error, '.toJSON()')
    }
  }
  return encodeProperties('c' + encodeString(name) + 'o', obj, ancestors, depth)
}

function encodeProperties(
  tag: string,
  obj: object,
  ancestors: object[],
  depth: number,
): string {
  const keys = Object.keys(obj).sort()
  const record = obj as Record<string, unknown>
  let out = tag + keys.length + ':'
  for (const key of keys) {
    try {
      out += 's' + key.length + ':' + key + encode(record[key], ancestors, depth)
    } catch (error) {
      throw withSegment(error, propertySegment(key))
    }
  }
  return out
}

function encodeMap(map: Map<unknown, unknown>, ancestors: object[], depth: number): string {
  const entries: string[] = []
  let i = 0
  for (const [k, v] of map) {
    let key: string
    try {
      key = encode(k, ancestors, depth)
    } catch (error) {
      throw withSegment(error, `.keys()[${i}]`)
    }
    try {
      entries.push(key + encode(v, ancestors, depth))
    } catch (error) {
      throw withSegment(error, `.get(${describeKey(k, i)})`)
    }
    i++
  }
  // Entry tokens are self-delimiting, so sorting them compares maps as multisets of entries.
  return 'm' + entries.length + ':' + entries.sort().join('')
}

function encodeSet(set: Set<unknown>, ancestors: object[], depth: number): string {
  const items: string[] = []
  let i = 0
  for (const v of set) {
    try {
      items.push(encode(v, ancestors, depth))
    } catch (error) {
      throw withSegment(error, `.values()[${i}]`)
    }
    i++
  }
  return 'e' + items.length + ':' + items.sort().join('')
}

function elementSize(view: ArrayBufferView): number {
  return (view as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT
}

function bytesToken(view: ArrayBufferView, elementBytes: number): string {
  let bytes = Buffer.from(view.buffer, view.byteOffset, view.byteLength)
  if (!LITTLE_ENDIAN && elementBytes > 1) {
    bytes = Buffer.from(bytes)
    if (elementBytes === 2) bytes.swap16()
    else if (elementBytes === 4) bytes.swap32()
    else bytes.swap64()
  }
  return bytes.length + ':' + bytes.toString('latin1')
}

function withSegment(error: unknown, segment: string): unknown {
  if (error instanceof Unkeyable) error.segments.push(segment)
  return error
}

