import type { BackendSuite } from './check.js'
import { abortSuite } from './suite/abort.js'
import { batchSuite } from './suite/batch.js'
import { busSuite } from './suite/bus.js'
import { clearSuite } from './suite/clear.js'
import { expirySuite } from './suite/expiry.js'
import { keysSuite } from './suite/keys.js'
import { lifecycleSuite } from './suite/lifecycle.js'
import { locksSuite } from './suite/locks.js'
import { maintenanceSuite } from './suite/maintenance.js'
import { prefixSuite } from './suite/prefix.js'
import { shapeSuite } from './suite/shape.js'
import { tagsSuite } from './suite/tags.js'
import { valuesSuite } from './suite/values.js'

/**
 * Every sub-suite of the conformance suite, in the order {@link describeBackend} registers them.
 * Exposed so a check can be run on its own with {@link runCheck}.
 *
 * @example
 * ```ts
 * const values = backendSuites.find((suite) => suite.name === 'values')
 * ```
 */
export const backendSuites: readonly BackendSuite[] = [
  shapeSuite,
  valuesSuite,
  batchSuite,
  expirySuite,
  clearSuite,
  keysSuite,
  maintenanceSuite,
  abortSuite,
  lifecycleSuite,
  prefixSuite,
  locksSuite,
  tagsSuite,
  busSuite,
]
