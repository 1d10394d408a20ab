import { createHash } from 'node:crypto'
import { canonicalArgs, canonicalValue, digest } from './canonical.js'

/** Canonical strings up to this length key the memory tier directly, with no hashing. */
const MAX_INLINE_CANONICAL = 256

/** A user's custom key function: called with the cached function's `this` and arguments. */
export type KeyFunction = (this: unknown, ...args: never[]) => unknown

/**
 * The keys of one cached function: `dcache:<namespace>:<name>:<version>:<digest>`.
 * Each component is percent-encoded, so `:` in a name cannot make two identities collide.
 */
export class FunctionKeys {
  /** `dcache:<namespace>:<name>:<version>:`, the prefix of every key of this function. */
  readonly prefix: string
  readonly #key: KeyFunction | undefined

  constructor(namespace: string, name: string, version: string, key?: KeyFunction) {
    this.prefix = `dcache:${component(namespace)}:${component(name)}:${component(version)}:`
    this.#key = key
  }

  /** The canonical encoding of one call's arguments (or of the custom key's result). */
  canonical(thisArg: unknown, args: readonly unknown[]): string {
    if (this.#key === undefined) return canonicalArgs(args)
    return canonicalValue(Reflect.apply(this.#key, thisArg, args))
  }

  /**
   * Key of a call inside this function's memory space: the canonical string itself when short
   * (no hashing on the hot path), else `#` and its digest (canonical strings never start with `#`).
   */
  memorySuffix(canonical: string): string {
    return canonical.length <= MAX_INLINE_CANONICAL ? canonical : `#${digest(canonical)}`
  }

  /** The logical key: the one remote tiers store, echoed in envelopes and reported in events. */
  logicalKey(canonical: string): string {
    return this.prefix + digest(canonical)
  }

  /**
   * The prefix of this function's keys in a backend that accepts at most `maxKeyBytes`: the plain
   * prefix when the full key fits, else a hash of it (so prefix-scoped `clear` still works).
   */
  prefixFor(maxKeyBytes: number): string {
    const digestLength = 43
    if (Buffer.byteLength(this.prefix) + digestLength <= maxKeyBytes) return this.prefix
    return `dcache:h:${createHash('sha256').update(this.prefix).digest('base64url').slice(0, 32)}:`
  }
}

function component(value: string): string {
  return encodeURIComponent(value)
}
