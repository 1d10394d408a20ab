import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describeBackend } from '@dcache/backend-tests'
import { afterAll } from 'vitest'
import { FileSystemBackend } from '../src/index.js'

// The contract holds whichever way entry files are read; each mode gets a directory of its own.
for (const reads of ['sync', 'async'] as const) {
  const directory = mkdtempSync(path.join(os.tmpdir(), `dcache-fs-conformance-${reads}-`))
  afterAll(() => rmSync(directory, { recursive: true, force: true }))

  // Expiry and lock ttls are computed from Date.now(), so a fake clock tests them without waiting.
  describeBackend(`FileSystemBackend (reads: '${reads}')`, {
    create: () => new FileSystemBackend({ directory, reads }),
    createWithPrefix: (prefix) => new FileSystemBackend({ directory, prefix, reads }),
    clock: 'fake',
  })
}
