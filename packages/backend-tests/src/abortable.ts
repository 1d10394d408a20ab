function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError')
}

/**
 * A promise that never settles unless `signal` aborts. It holds no timer or handle, so a hung
 * call does not keep the process alive.
 */
export function never<T>(signal: AbortSignal | undefined): Promise<T> {
  return new Promise<T>((_, reject) => {
    if (signal?.aborted) return reject(abortReason(signal))
    signal?.addEventListener('abort', () => reject(abortReason(signal)), { once: true })
  })
}

/** Resolves after `ms` milliseconds, or rejects as soon as `signal` aborts (clearing the timer). */
export function delay(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(abortReason(signal))
    const onAbort = () => {
      clearTimeout(timer)
      reject(abortReason(signal as AbortSignal))
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
