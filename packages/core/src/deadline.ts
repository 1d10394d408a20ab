import { BackendError, type BackendOperation } from './errors.js'

/**
 * Run one backend operation with a deadline. The operation gets an `AbortSignal` that fires at
 * the deadline; the returned promise settles by then at the latest, with a `BackendError`
 * (`E_TIMEOUT` or `E_BACKEND`) on failure. The timer is always cleared, and a late rejection
 * from the backend is absorbed, so nothing leaks and nothing is left unhandled.
 */
export function withDeadline<T>(
  backend: string,
  operation: BackendOperation,
  timeout: number,
  run: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const controller = new AbortController()
    const timer = setTimeout(() => {
      const error = new BackendError(backend, operation, new Error(`no answer within ${timeout} ms`), 'E_TIMEOUT')
      controller.abort(error)
      reject(error)
    }, timeout)
    const fail = (cause: unknown): void => {
      clearTimeout(timer)
      reject(cause instanceof BackendError ? cause : new BackendError(backend, operation, cause))
    }
    let pending: Promise<T>
    try {
      pending = run(controller.signal)
    } catch (cause) {
      // a backend that throws synchronously instead of rejecting
      fail(cause)
      return
    }
    Promise.resolve(pending).then((value) => {
      clearTimeout(timer)
      resolve(value)
    }, fail)
  })
}
