/**
 * A circuit breaker per backend: after `threshold` consecutive failures the backend is skipped
 * for `cooldown` ms, then one call probes it; success closes the circuit, failure re-opens it.
 * It keeps a dead backend from costing every call a full deadline.
 */
export class CircuitBreaker {
  #failures = 0
  #openUntil = 0
  #probing = false

  constructor(
    readonly threshold = 5,
    readonly cooldown = 500,
  ) {}

  /** `true` when the next call may go to the backend. */
  allow(): boolean {
    if (this.#failures < this.threshold) return true
    if (this.#probing || Date.now() < this.#openUntil) return false
    this.#probing = true
    return true
  }

  /** Record a successful call. */
  success(): void {
    this.#failures = 0
    this.#probing = false
  }

  /** Record a failed call. */
  failure(): void {
    this.#failures++
    this.#probing = false
    if (this.#failures >= this.threshold) this.#openUntil = Date.now() + this.cooldown
  }

  /** `true` while calls are being skipped. */
  get open(): boolean {
    return this.#failures >= this.threshold && (this.#probing || Date.now() < this.#openUntil)
  }
}

const breakers = new WeakMap<object, CircuitBreaker>()

/** The breaker shared by every function that uses `backend`. */
export function breakerFor(backend: object): CircuitBreaker {
  let breaker = breakers.get(backend)
  if (breaker === undefined) breakers.set(backend, (breaker = new CircuitBreaker()))
  return breaker
}
