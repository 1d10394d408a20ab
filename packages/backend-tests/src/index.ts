/**
 * The conformance suite for dcache backends (`describeBackend`), and test doubles for failure
 * tests of the core: {@link ChaosBackend} injects faults into any backend, {@link MapBackend} is
 * a minimal correct backend to wrap.
 *
 * @packageDocumentation
 */
export type { BackendCheck, BackendFactory, BackendSuite, CheckContext, PrefixedBackendFactory, SuiteName } from './check.js'
export type { ClockMode, TestClock } from './clock.js'
export type { DescribeBackendOptions, SkippedSuite } from './describe-backend.js'
export { describeBackend } from './describe-backend.js'
export type { CheckOutcome, RunCheckOptions } from './run-check.js'
export { runCheck } from './run-check.js'
export { backendSuites } from './suites.js'
export { ChaosBackend } from './chaos-backend.js'
export type {
  ChaosCallCounts,
  ChaosCallName,
  ChaosFault,
  ChaosFaults,
  ChaosOperation,
  FailureFault,
  ReadFault,
} from './faults.js'
export { ChaosError } from './faults.js'
export type { MapBackendOptions } from './map-backend.js'
export { MapBackend } from './map-backend.js'
