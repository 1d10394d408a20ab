/**
 * Names for parts of a value, shared by the key encoder and the codec so that both describe the
 * same argument the same way in their errors (`args[0].user["first name"]`, `Map<key #2>`).
 */

/** The name of the class whose prototype is `proto`, or `''` when it has none or hides it. */
export function constructorName(proto: unknown): string {
  try {
    const ctor: unknown = (proto as { constructor?: unknown } | null)?.constructor
    if (typeof ctor === 'function' && typeof ctor.name === 'string') return ctor.name
  } catch {
    // A throwing `constructor` getter is the object's business: name the class as anonymous.
  }
  return ''
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/

/** `.name` for identifiers, `["other key"]` for anything else. */
export function propertySegment(key: string): string {
  return IDENTIFIER.test(key) ? '.' + key : `[${JSON.stringify(key)}]`
}

/** A Map key as it reads in a path: primitives as written, objects by position. */
export function describeKey(key: unknown, index: number): string {
  if (typeof key === 'string') return JSON.stringify(key)
  if (typeof key === 'number' || typeof key === 'boolean') return String(key)
  if (typeof key === 'bigint') return `${key}n`
  if (key === null || key === undefined) return String(key)
  return `<key #${index}>`
}
