import { join } from 'node:path'
import { describeBackend } from '@dcache/backend-tests'
import Database from 'better-sqlite3'
import { afterAll } from 'vitest'
import { SqliteBackend } from '../src/index.js'
import { removeTempDirs, tempDir } from './helpers.js'

const path = join(await tempDir('conformance'), 'cache.sqlite')
const shared = new Database(':memory:')
afterAll(async () => {
  shared.close()
  await removeTempDirs()
})

// Expiry is checked against Date.now(), so a fake clock tests it without waiting.
describeBackend('SqliteBackend on its own file', {
  create: () => new SqliteBackend({ path }),
  createWithPrefix: (prefix) => new SqliteBackend({ path, prefix }),
  clock: 'fake',
})

describeBackend('SqliteBackend on a database the caller opened', {
  create: () => new SqliteBackend({ database: shared, table: 'cache_entries' }),
  createWithPrefix: (prefix) => new SqliteBackend({ database: shared, table: 'cache_entries', prefix }),
  clock: 'fake',
})
