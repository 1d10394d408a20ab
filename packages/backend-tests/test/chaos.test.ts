import { afterEach, describe, expect, it, vi } from 'vitest'
import { ChaosBackend, ChaosError, MapBackend } from '../src/index.js'

const VALUE = Uint8Array.from({ length: 16 }, (_, i) => i * 3)

async function seeded(faults: ConstructorParameters<typeof ChaosBackend>[1] = {}) {
  const inner = new MapBackend()
  await inner.set({ key: 'k', value: VALUE, expiresAt: null })
  return new ChaosBackend(inner, faults)
}

function timers(): number {
  return process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length
}

function bitsDifferent(a: Uint8Array, b: Uint8Array): number {
  let bits = 0
  for (let i = 0; i < a.length; i++) {
    let x = (a[i] ?? 0) ^ (b[i] ?? 0)
    for (; x; x &= x - 1) bits++
  }
  return bits
}

afterEach(() => {
  vi.useRealTimers()
})

describe('ChaosBackend', () => {
  it('is named after the backend it wraps and shares its capabilities', () => {
    const inner = new MapBackend()
    const chaos = new ChaosBackend(inner)
    expect(chaos.name).toBe('chaos:map')
    expect(chaos.contract).toBe(1)
    expect(chaos.capabilities).toBe(inner.capabilities)
    expect(chaos.locks).toBe(inner.locks)
  })

  it('delegates everything while no fault is set', async () => {
    const chaos = await seeded()
    expect((await chaos.get('k'))?.value).toEqual(VALUE)
    await chaos.set({ key: 'other', value: VALUE, expiresAt: null })
    expect((await chaos.getMany(['k', 'other', 'missing'])).map((e) => e?.value)).toEqual([VALUE, VALUE, undefined])
  })

  describe('hang', () => {
    it('never settles on its own, and holds no timer while pending', async () => {
      const chaos = await seeded({ get: 'hang' })
      const before = timers()
      let settled = false
      void chaos.get('k').finally(() => (settled = true))
      expect(timers()).toBe(before)
      // Let every queued microtask and I/O callback run: a pending hang must still be pending.
      await new Promise<void>((resolve) => setImmediate(resolve))
      expect(settled).toBe(false)
    })

    it('rejects promptly when the signal aborts and leaves no active handles', async () => {
      const chaos = await seeded({ all: 'hang' })
      const before = process.getActiveResourcesInfo()
      const controller = new AbortController()
      const pending = [chaos.get('k', { signal: controller.signal }), chaos.set({ key: 'x', value: VALUE, expiresAt: null }, { signal: controller.signal })]
      const reason = new Error('deadline')
      controller.abort(reason)
      for (const call of pending) await expect(call).rejects.toBe(reason)
      expect(process.getActiveResourcesInfo()).toEqual(before)
    })

    it('rejects at once when the signal is already aborted', async () => {
      const chaos = await seeded({ delete: 'hang' })
      await expect(chaos.delete('k', { signal: AbortSignal.abort() })).rejects.toThrow()
    })
  })

  it('throw: throws synchronously from the method', async () => {
    const chaos = await seeded({ set: 'throw' })
    expect(() => chaos.set({ key: 'k', value: VALUE, expiresAt: null })).toThrow(ChaosError)
    expect((await chaos.get('k'))?.value).toEqual(VALUE)
  })

  it('reject: returns a rejected promise instead of throwing', async () => {
    const chaos = await seeded({ getMany: 'reject' })
    let call: Promise<unknown> | undefined
    expect(() => (call = chaos.getMany(['k']))).not.toThrow()
    await expect(call).rejects.toMatchObject({ name: 'ChaosError', operation: 'getMany', fault: 'reject' })
  })

  describe('slow', () => {
    it('delegates after the delay', async () => {
      vi.useFakeTimers()
      const chaos = await seeded({ get: { slow: 100 } })
      let result: Uint8Array | undefined
      void chaos.get('k').then((entry) => (result = entry?.value))
      await vi.advanceTimersByTimeAsync(99)
      expect(result).toBeUndefined()
      await vi.advanceTimersByTimeAsync(1)
      expect(result).toEqual(VALUE)
    })

    it('rejects as soon as the signal aborts and clears its timer', async () => {
      const chaos = await seeded({ set: { slow: 60_000 } })
      const before = timers()
      const controller = new AbortController()
      const call = chaos.set({ key: 'slow', value: VALUE, expiresAt: null }, { signal: controller.signal })
      expect(timers()).toBe(before + 1)
      controller.abort()
      await expect(call).rejects.toMatchObject({ name: 'AbortError' })
      expect(timers()).toBe(before)
      expect(await chaos.inner.get('slow')).toBeUndefined()
    })
  })

  describe('flaky', () => {
    async function outcomes(chaos: ChaosBackend, calls: number): Promise<boolean[]> {
      const results: boolean[] = []
      for (let i = 0; i < calls; i++) {
        results.push(await chaos.get('k').then(() => true, (error: unknown) => !(error instanceof ChaosError)))
      }
      return results
    }

    it('fails about the given share of calls', async () => {
      const results = await outcomes(await seeded({ get: { flaky: 0.3, seed: 7 } }), 1000)
      const failures = results.filter((ok) => !ok).length
      expect(failures).toBeGreaterThan(250)
      expect(failures).toBeLessThan(350)
    })

    it('repeats the same sequence for the same seed, and again after setFaults', async () => {
      const chaos = await seeded({ get: { flaky: 0.5, seed: 42 } })
      const first = await outcomes(chaos, 50)
      expect(await outcomes(await seeded({ get: { flaky: 0.5, seed: 42 } }), 50)).toEqual(first)
      expect(await outcomes(await seeded({ get: { flaky: 0.5, seed: 43 } }), 50)).not.toEqual(first)
      chaos.setFaults({ get: { flaky: 0.5, seed: 42 } })
      expect(await outcomes(chaos, 50)).toEqual(first)
    })

    it('never fails at probability 0 and always fails at 1', async () => {
      expect(await outcomes(await seeded({ get: { flaky: 0 } }), 20)).not.toContain(false)
      expect(await outcomes(await seeded({ get: { flaky: 1 } }), 20)).not.toContain(true)
    })
  })

  it('corrupt: flips exactly one bit of returned values, not of the stored ones', async () => {
    const chaos = await seeded({ get: 'corrupt', getMany: 'corrupt' })
    const single = (await chaos.get('k'))?.value ?? new Uint8Array()
    const [many, missing] = await chaos.getMany(['k', 'missing'])
    expect(single).toHaveLength(VALUE.length)
    expect(bitsDifferent(single, VALUE)).toBe(1)
    expect(bitsDifferent(many?.value ?? new Uint8Array(), VALUE)).toBe(1)
    expect(missing).toBeUndefined()
    expect((await chaos.inner.get('k'))?.value).toEqual(VALUE)
  })

  it('truncate: returns the first half of the bytes', async () => {
    const chaos = await seeded({ all: 'truncate' })
    expect((await chaos.get('k'))?.value).toEqual(VALUE.slice(0, VALUE.length / 2))
    expect((await chaos.getMany(['k']))[0]?.value).toEqual(VALUE.slice(0, VALUE.length / 2))
    // Damage faults under `all` leave writes alone.
    await chaos.set({ key: 'w', value: VALUE, expiresAt: null })
    expect((await chaos.inner.get('w'))?.value).toEqual(VALUE)
  })

  it('a fault for one operation wins over `all`, and others follow `all`', async () => {
    const chaos = await seeded({ all: 'reject', get: 'corrupt' })
    expect(bitsDifferent((await chaos.get('k'))?.value ?? new Uint8Array(), VALUE)).toBe(1)
    await expect(chaos.getMany(['k'])).rejects.toThrow(ChaosError)
    await expect(chaos.setMany([])).rejects.toThrow(ChaosError)
    await expect(chaos.health()).rejects.toThrow(ChaosError)
  })

  it('setFaults replaces every fault, and heal restores normal service', async () => {
    const chaos = await seeded({ get: 'reject', set: 'reject' })
    chaos.setFaults({ set: 'throw' })
    expect((await chaos.get('k'))?.value).toEqual(VALUE)
    expect(() => chaos.set({ key: 'k', value: VALUE, expiresAt: null })).toThrow(ChaosError)
    chaos.heal()
    expect(chaos.faults).toEqual({})
    await chaos.set({ key: 'k2', value: VALUE, expiresAt: null })
    await chaos.clear({ prefix: 'k2' })
    expect(await chaos.get('k2')).toBeUndefined()
  })

  it('counts calls per method, faulted or not', async () => {
    const chaos = await seeded({ delete: 'reject' })
    await chaos.get('k')
    await chaos.getMany(['k'])
    await chaos.get('k')
    await chaos.delete('k').catch(() => {})
    await chaos.close()
    expect(chaos.calls).toMatchObject({ get: 2, getMany: 1, delete: 1, set: 0, close: 1 })
    chaos.resetCalls()
    expect(chaos.calls.get).toBe(0)
  })
})
