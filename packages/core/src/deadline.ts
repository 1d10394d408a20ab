import type { OperationOptions } from './contract.js'
import { BackendError, type BackendOperation } from './errors.js'

/** One operation waiting for its backend, in the queue of its deadline length. */
interface Pending {
  /** `performance.now()` at which it times out. */
  readonly at: number
  /** Settled: answered, failed or timed out. */
  done: boolean
  /** Times it out: aborts its signal and rejects its promise. */
  readonly expire: () => void
}

/**
 * Every pending operation with the same deadline length, in start order. Their deadlines come in
 * the same order, so one timer armed for the oldest unsettled one serves them all: an operation
 * costs an array slot, not a timer of its own. The timer holds the process open only while an
 * operation is pending.
 */
class DeadlineQueue {
  readonly #timeout: number
  readonly #ops: Pending[] = []
  #head = 0
  #pending = 0
  #timer: ReturnType<typeof setTimeout> | undefined
  /** The `setTimeout` that armed `#timer`: one armed under another clock (fake timers) is replaced. */
  #armedWith: typeof setTimeout | undefined

  constructor(timeout: number) {
    this.#timeout = timeout
  }

  add(op: Pending): void {
    this.#ops.push(op)
    if (++this.#pending === 1) {
      if (this.#timer === undefined || this.#armedWith !== setTimeout) this.#arm(this.#timeout)
      else this.#timer.ref()
    }
  }

  /** Mark `op` settled; `false` when it had already timed out. */
  settle(op: Pending): boolean {
    if (op.done) return false
    op.done = true
    if (--this.#pending === 0) {
      this.#ops.length = 0
      this.#head = 0
      this.#timer?.unref()
      return true
    }
    const ops = this.#ops
    while (this.#head < ops.length && ops[this.#head]!.done) this.#head++
    return true
  }

  #arm(delay: number): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#armedWith = setTimeout
    this.#timer = setTimeout(this.#fire, Math.max(1, Math.ceil(delay)))
    if (this.#pending === 0) this.#timer.unref()
  }

  readonly #fire = (): void => {
    this.#timer = undefined
    const now = performance.now()
    const ops = this.#ops
    while (this.#head < ops.length) {
      const op = ops[this.#head]!
      if (!op.done) {
        if (op.at > now) break
        op.done = true
        this.#pending--
        op.expire()
      }
      this.#head++
    }
    if (this.#pending === 0) {
      ops.length = 0
      this.#head = 0
      return
    }
    if (this.#head > 1_024) {
      ops.splice(0, this.#head)
      this.#head = 0
    }
    this.#arm(ops[this.#head]!.at - now)
  }
}

const queues = new Map<number, DeadlineQueue>()

/**
 * Run one backend operation with a deadline. The operation gets options whose `signal` aborts at
 * the deadline (created only if the backend reads it); the returned promise settles by then at
 * the latest, with a `BackendError` (`E_TIMEOUT` or `E_BACKEND`) on failure. A late answer or
 * rejection from the backend is absorbed, so nothing leaks and nothing is left unhandled.
 */
export function withDeadline<T>(
  backend: string,
  operation: BackendOperation,
  timeout: number,
  run: (options: OperationOptions) => Promise<T>,
): Promise<T> {
  let queue = queues.get(timeout)
  if (queue === undefined) queues.set(timeout, (queue = new DeadlineQueue(timeout)))
  const deadlines = queue
  return new Promise<T>((resolve, reject) => {
    let controller: AbortController | undefined
    const op: Pending = {
      at: performance.now() + timeout,
      done: false,
      expire: () => {
        const error = new BackendError(backend, operation, new Error(`no answer within ${timeout} ms`), 'E_TIMEOUT')
        controller?.abort(error)
        reject(error)
      },
    }
    const options: OperationOptions = {
      get signal() {
        return (controller ??= new AbortController()).signal
      },
    }
    deadlines.add(op)
    const fail = (cause: unknown): void => {
      if (deadlines.settle(op)) reject(cause instanceof BackendError ? cause : new BackendError(backend, operation, cause))
    }
    let pending: Promise<T>
    try {
      pending = run(options)
    } catch (cause) {
      // a backend that throws synchronously instead of rejecting
      fail(cause)
      return
    }
    Promise.resolve(pending).then((value) => {
      if (deadlines.settle(op)) resolve(value)
    }, fail)
  })
}
