import type { StoredEntry } from '@dcache/core'

/** What a damage fault does to the bytes of a hit. */
export type Damage = 'corrupt' | 'truncate'

/** A damaged copy of `entry`; the inner backend's bytes are never touched. */
export function damageEntry(entry: StoredEntry | undefined, damage: Damage): StoredEntry | undefined {
  if (entry === undefined) return undefined
  const value = entry.value
  if (damage === 'truncate') return { value: value.slice(0, Math.floor(value.length / 2)), expiresAt: entry.expiresAt }
  const corrupted = value.slice()
  const middle = Math.floor(corrupted.length / 2)
  // An empty value has no bit to flip; it comes back unchanged.
  if (corrupted.length > 0) corrupted[middle] = (corrupted[middle] ?? 0) ^ 0x01
  return { value: corrupted, expiresAt: entry.expiresAt }
}
