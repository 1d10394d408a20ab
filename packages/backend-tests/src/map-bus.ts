import type { BusFacet, OperationOptions } from '@dcache/core'

type Listener = (message: Uint8Array) => void

/** Subscribers per channel, shared by instances over one store. */
export type ChannelTable = Map<string, Set<Listener>>

/** In-process pub/sub. Delivery is asynchronous and each subscriber gets its own copy. */
export class MapBus implements BusFacet {
  readonly #channels: ChannelTable
  readonly #prefix: string

  constructor(channels: ChannelTable, prefix: string) {
    this.#channels = channels
    this.#prefix = prefix
  }

  async publish(channel: string, message: Uint8Array, options?: OperationOptions): Promise<void> {
    options?.signal?.throwIfAborted()
    const listeners = [...(this.#channels.get(this.#prefix + channel) ?? [])]
    const copy = message.slice()
    // Asynchronous like a real bus, so callers cannot come to rely on synchronous delivery.
    queueMicrotask(() => {
      for (const listener of listeners) listener(copy.slice())
    })
  }

  async subscribe(channel: string, onMessage: Listener): Promise<() => Promise<void>> {
    const name = this.#prefix + channel
    // A wrapper per subscription, so subscribing one function twice needs two unsubscribes.
    const listener: Listener = (message) => onMessage(message)
    const listeners = this.#channels.get(name) ?? new Set()
    listeners.add(listener)
    this.#channels.set(name, listeners)
    return async () => {
      listeners.delete(listener)
      if (listeners.size === 0 && this.#channels.get(name) === listeners) this.#channels.delete(name)
    }
  }
}
