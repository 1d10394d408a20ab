import type { OperationOptions } from './contract.js'
import { BackendError, type BackendOperation } from './errors.js'

/**
 * Every pending operation with the same deadline length, in start order. Their deadlines come in
 * the same order, so one timer armed for the oldest unsettled one serves them all: an operation
 * costs a link in a list, not a timer or an array slot of its own. The timer holds the process
 * open only while an operation is pending.
 */
class DeadlineQueue {
  readonly #timeout: number
  /** The oldest operation not passed over yet (it may be settled), and the newest. */
  #head: DeadlineOp | undefined
  #tail: DeadlineOp | undefined
  #pending = 0
  #timer: ReturnType<typeof setTimeout> | undefined
  /** The `setTimeout` that armed `#timer`: one armed under another clock (fake timers) is replaced. */
  #armedWith: typeof setTimeout | undefined

  constructor(timeout: number) {
    this.#timeout = timeout
  }

  add(op: DeadlineOp): void {
    if (this.#tail === undefined) this.#head = op
    else this.#tail.next = op
    this.#tail = op
    if (++this.#pending === 1) {
      if (this.#timer === undefined || this.#armedWith !== setTimeout) this.#arm(this.#timeout)
      else this.#timer.ref()
    }
  }

  /** Mark `op` settled; `false` when it had already timed out. */
  settle(op: DeadlineOp): boolean {
    if (op.done) return false
    op.done = true
    if (--this.#pending === 0) {
      this.#head = this.#tail = undefined
      this.#timer?.unref()
      return true
    }
    this.#head = passSettled(this.#head)
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
    let op = this.#head
    while (op !== undefined && (op.done || op.at <= now)) {
      if (!op.done) {
        op.done = true
        this.#pending--
        // May add operations (a listener that calls a cached function): they join the tail.
        op.expire(this.#timeout)
      }
      const next: DeadlineOp | undefined = op.next
      op.next = undefined
      op = next
    }
    if (this.#pending === 0) {
      this.#head = this.#tail = undefined
      return
    }
    this.#head = op
    this.#arm(op!.at - now)
  }
}

/** The first unsettled operation from `op` on; the settled ones passed over are unlinked. */
function passSettled(op: DeadlineOp | undefined): DeadlineOp | undefined {
  while (op !== undefined && op.done) {
    const next: DeadlineOp | undefined = op.next
    op.next = undefined
    op = next
  }
  return op
}

const queues = new Map<number, DeadlineQueue>()

/**
 * One backend operation under a deadline, and the options handed to the backend: its `signal`
 * aborts at the deadline and is created only if the backend reads it. Whoever settles the
 * operation first wins: {@link DeadlineOp.settle} returns `false` once the deadline has passed,
 * and `onExpire` is never called once it returned `true`.
 */
export class DeadlineOp implements OperationOptions {
  // Plain (TypeScript-private) fields: one is built per backend operation, on the hot path.
  /** `performance.now()` at which it times out. */
  readonly at: number
  /** Settled: answered, failed or timed out. */
  done = false
  /** The operation started after this one on the same queue. */
  next: DeadlineOp | undefined = undefined
  private readonly queue: DeadlineQueue
  private readonly backend: string
  private readonly operation: BackendOperation
  private readonly onExpire: (error: BackendError) => void
  private controller: AbortController | undefined = undefined

  constructor(backend: string, operation: BackendOperation, timeout: number, onExpire: (error: BackendError) => void) {
    let queue = queues.get(timeout)
    if (queue === undefined) queues.set(timeout, (queue = new DeadlineQueue(timeout)))
    this.queue = queue
    this.backend = backend
    this.operation = operation
    this.onExpire = onExpire
    this.at = performance.now() + timeout
    queue.add(this)
  }

  get signal(): AbortSignal {
    return (this.controller ??= new AbortController()).signal
  }

  /** Ends the wait; `false` when the deadline had already passed (the answer is then dropped). */
  settle(): boolean {
    return this.queue.settle(this)
  }

  /** `cause` as this operation's `BackendError` (kept as is when it already is one). */
  error(cause: unknown): BackendError {
    return cause instanceof BackendError ? cause : new BackendError(this.backend, this.operation, cause)
  }

  /** Called by the queue at the deadline. */
  expire(timeout: number): void {
    const error = new BackendError(this.backend, this.operation, new Error(`no answer within ${timeout} ms`), 'E_TIMEOUT')
    this.controller?.abort(error)
    this.onExpire(error)
  }
}

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
  return new Promise<T>((resolve, reject) => {
    const op = new DeadlineOp(backend, operation, timeout, reject)
    const fail = (cause: unknown): void => {
      if (op.settle()) reject(op.error(cause))
    }
    try {
      Promise.resolve(run(op)).then((value) => {
        if (op.settle()) resolve(value)
      }, fail)
    } catch (cause) {
      // a backend that throws synchronously instead of rejecting
      fail(cause)
    }
  })
}
