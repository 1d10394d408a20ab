import { expect } from 'vitest'
import type { BackendSuite } from '../check.js'
import { expectMiss, expectValue, text } from './bytes.js'

/** The core aborts an operation when its deadline passes; an aborted signal must stop work. */
export const abortSuite: BackendSuite = {
  name: 'abort',
  checks: [
    {
      name: 'get rejects when its signal is already aborted',
      run: async ({ backend, key }) => {
        await backend.set({ key: key('value'), value: text('v'), expiresAt: null })
        await expect(backend.get(key('value'), { signal: AbortSignal.abort() })).rejects.toBeDefined()
      },
    },
    {
      name: 'getMany rejects when its signal is already aborted',
      run: async ({ backend, key }) => {
        await expect(backend.getMany([key('a'), key('b')], { signal: AbortSignal.abort() })).rejects.toBeDefined()
      },
    },
    {
      name: 'set rejects when its signal is already aborted, and stores nothing',
      run: async ({ backend, key }) => {
        const entry = { key: key('value'), value: text('v'), expiresAt: null }
        await expect(backend.set(entry, { signal: AbortSignal.abort() })).rejects.toBeDefined()
        expectMiss(await backend.get(key('value')), 'an aborted set must not store the entry')
      },
    },
    {
      name: 'delete rejects when its signal is already aborted',
      run: async ({ backend, key }) => {
        await backend.set({ key: key('value'), value: text('v'), expiresAt: null })
        await expect(backend.delete(key('value'), { signal: AbortSignal.abort() })).rejects.toBeDefined()
        // Deleting anyway would be harmless, so only the rejection is required; the key is still usable.
        await backend.delete(key('value'))
        expectMiss(await backend.get(key('value')))
      },
    },
    {
      name: 'an aborted call leaves the backend usable',
      run: async ({ backend, key }) => {
        await backend.get(key('value'), { signal: AbortSignal.abort() }).catch(() => {})
        await backend.set({ key: key('value'), value: text('after'), expiresAt: null })
        expectValue(await backend.get(key('value')), text('after'))
      },
    },
  ],
}
