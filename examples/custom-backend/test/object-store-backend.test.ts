import { describeBackend } from '@dcache/backend-tests'
import { ObjectStoreBackend } from '../src/object-store-backend.js'

// Expiry is computed from Date.now(), so a fake clock tests it without waiting.
describeBackend('ObjectStoreBackend', { create: () => new ObjectStoreBackend(), clock: 'fake' })
