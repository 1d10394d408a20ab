import { expect } from 'vitest'
import type { BackendSuite } from '../check.js'

const REQUIRED_METHODS = ['get', 'getMany', 'set', 'delete'] as const
const OPTIONAL_METHODS = ['setMany', 'deleteMany', 'clear', 'prune', 'health', 'close'] as const

/** What the core reads off a backend before it uses it. */
export const shapeSuite: BackendSuite = {
  name: 'shape',
  checks: [
    {
      name: 'declares contract version 1',
      run: async ({ backend }) => {
        expect(backend.contract).toBe(1)
      },
    },
    {
      name: 'has a non-empty name',
      run: async ({ backend }) => {
        expect(typeof backend.name).toBe('string')
        expect(backend.name.length).toBeGreaterThan(0)
      },
    },
    {
      name: 'declares capabilities the core can rely on',
      run: async ({ backend }) => {
        const c = backend.capabilities
        expect(typeof c.nativeExpiry, 'nativeExpiry').toBe('boolean')
        expect(typeof c.nativeBatch, 'nativeBatch').toBe('boolean')
        expect(Number.isFinite(c.expiryResolution), 'expiryResolution is a finite number').toBe(true)
        expect(c.expiryResolution, 'expiryResolution (ms)').toBeGreaterThanOrEqual(1)
        expect(Number.isInteger(c.maxKeyBytes), 'maxKeyBytes is an integer').toBe(true)
        expect(c.maxKeyBytes, 'maxKeyBytes').toBeGreaterThanOrEqual(250)
        if (c.maxValueBytes !== undefined) {
          expect(Number.isInteger(c.maxValueBytes), 'maxValueBytes is an integer').toBe(true)
          expect(c.maxValueBytes, 'maxValueBytes').toBeGreaterThan(0)
        }
      },
    },
    {
      name: 'implements get, getMany, set and delete, and optional methods only as functions',
      run: async ({ backend }) => {
        const members = backend as unknown as Record<string, unknown>
        for (const method of REQUIRED_METHODS) expect(typeof members[method], method).toBe('function')
        for (const method of OPTIONAL_METHODS) {
          if (members[method] !== undefined) expect(typeof members[method], method).toBe('function')
        }
      },
    },
  ],
}
