// What every scenario caches: the same function result, on the same hot keys.

/** Keys a hit scenario cycles through. */
export const HOT_KEYS = 1_000

/** The wrapped function's result: a small object, 101 bytes as JSON. */
export interface User {
  readonly id: number
  readonly name: string
  readonly email: string
  readonly tags: readonly string[]
  readonly score: number
  readonly active: boolean
}

/** The function every implementation caches: returns a fresh ~100 B object. */
export function user(id: number): User {
  return { id, name: 'Ada Lovelace', email: 'ada@example.com', tags: ['math', 'poetry'], score: 98.5, active: true }
}

/** The same, as an async function. */
export async function loadUser(id: number): Promise<User> {
  return user(id)
}

/** A list of users whose JSON is about `bytes` long: the larger values of scenario G. */
export function users(bytes: number): User[] {
  const count = Math.max(1, Math.round(bytes / (JSON.stringify(user(1_000)).length + 1)))
  return Array.from({ length: count }, (_, i) => user(1_000 + i))
}
