import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describeBackend } from '@dcache/backend-tests'
import { afterAll } from 'vitest'
import { FileSystemBackend } from '../src/index.js'

const directory = mkdtempSync(path.join(os.tmpdir(), 'dcache-fs-conformance-'))
afterAll(() => rmSync(directory, { recursive: true, force: true }))

// Expiry and lock ttls are computed from Date.now(), so a fake clock tests them without waiting.
describeBackend('FileSystemBackend', {
  create: () => new FileSystemBackend({ directory }),
  createWithPrefix: (prefix) => new FileSystemBackend({ directory, prefix }),
  clock: 'fake',
})
