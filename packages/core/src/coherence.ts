import type { BusFacet } from './contract.js'
import type { MemoryKey } from './memory.js'
import type { ResolvedTier } from './options.js'
import { publishOn, type TierReporter } from './remote-tier.js'

/** The bus channel every dcache process listens on (the backend adds its own prefix). */
const CHANNEL = 'dcache:coherence'
/** How long to wait before subscribing again after a failed subscription, in ms. */
const RESUBSCRIBE_DELAY = 1_000

/** What a process announces: `o` who wrote, `p` the function's key prefix, `k` the memory key and `d` the digest (both `null`: the whole function). */
interface Notice {
  readonly o: string
  readonly p: string
  readonly k: MemoryKey | null
  readonly d: string | null
}

/** A pending wait for a notice, from {@link Coherence.expect}. */
export interface Expectation {
  /** Resolves `true` when the notice arrives (or already has), `false` after `ms`; then stops listening. */
  wait(ms: number): Promise<boolean>
  /** Stop listening without waiting. */
  cancel(): void
}

/** A cached function listening for notices about its key prefix. */
interface Member {
  readonly origin: string
  /** Another writer changed `memoryKey` (`null`: every key of the function). */
  evict(memoryKey: MemoryKey | null, digest: string | null): void
  /** The bus dropped: notices may have been lost. */
  busDown(): void
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** One subscription per bus, shared by every function of this process; dispatches by key prefix. */
class BusRouter {
  readonly #bus: BusFacet
  readonly #members = new Map<string, Set<Member>>()
  #up = false

  constructor(bus: BusFacet) {
    this.#bus = bus
    bus.watch?.((connected) => this.#setUp(connected))
    this.#subscribe()
  }

  /** `true` while notices are being received. */
  get up(): boolean {
    return this.#up
  }

  join(prefix: string, member: Member): void {
    let members = this.#members.get(prefix)
    if (members === undefined) this.#members.set(prefix, (members = new Set()))
    members.add(member)
  }

  #subscribe(): void {
    this.#bus.subscribe(CHANNEL, (message) => this.#deliver(message)).then(
      () => this.#setUp(true),
      () => setTimeout(() => this.#subscribe(), RESUBSCRIBE_DELAY).unref(),
    )
  }

  #setUp(connected: boolean): void {
    const wasUp = this.#up
    this.#up = connected
    if (wasUp && !connected) for (const members of this.#members.values()) for (const member of members) member.busDown()
  }

  #deliver(message: Uint8Array): void {
    let notice: Notice
    try {
      notice = JSON.parse(decoder.decode(message)) as Notice
    } catch {
      return // not ours: another program on the same channel
    }
    const members = this.#members.get(notice.p)
    if (members === undefined) return
    for (const member of members) if (member.origin !== notice.o) member.evict(notice.k, notice.d)
  }
}

const routers = new WeakMap<BusFacet, BusRouter>()

/**
 * Cache coherence for one cached function: announces its writes and invalidations on the bus of
 * `tier`, and evicts from its memory tiers what other writers announce. While the bus is down,
 * `up` is `false` and the function keeps memory entries only briefly (its `staleness`).
 */
export class Coherence {
  readonly #tier: ResolvedTier
  readonly #prefix: string
  readonly #router: BusRouter | undefined
  readonly #origin = crypto.randomUUID()
  /** Callers waiting for another process's notice about a key (`lock` waiters). */
  readonly #expected = new Map<MemoryKey, Set<() => void>>()

  /**
   * Announces on `tier`'s bus. With a `member` (a function with memory tiers, or one that waits
   * under `lock`), it also listens.
   */
  constructor(tier: ResolvedTier, prefix: string, member: Omit<Member, 'origin'> | undefined) {
    this.#tier = tier
    this.#prefix = prefix
    if (member === undefined) return
    const bus = tier.backend.bus as BusFacet
    let router = routers.get(bus)
    if (router === undefined) routers.set(bus, (router = new BusRouter(bus)))
    this.#router = router
    router.join(prefix, {
      origin: this.#origin,
      evict: (memoryKey, digest) => {
        member.evict(memoryKey, digest)
        this.#arrived(memoryKey)
      },
      busDown: member.busDown.bind(member),
    })
  }

  /** `true` while other writers' notices reach this process. */
  get up(): boolean {
    return this.#router?.up ?? false
  }

  /** Tell the other processes that `memoryKey` changed (`null`: the whole function). Never rejects. */
  announce(memoryKey: MemoryKey | null, digest: string | null, report: TierReporter): Promise<void> {
    return publishOn(this.#tier, CHANNEL, this.notice(memoryKey, digest), report)
  }

  /** The message {@link announce} publishes on {@link Coherence.channel}, for a backend that sends it itself. */
  notice(memoryKey: MemoryKey | null, digest: string | null): Uint8Array {
    const notice: Notice = { o: this.#origin, p: this.#prefix, k: memoryKey, d: digest }
    return encoder.encode(JSON.stringify(notice))
  }

  /** The bus channel of the notices. */
  static readonly channel = CHANNEL

  /**
   * Start listening for another process's notice about `memoryKey`, before the step that the
   * notice could overtake. `undefined` when notices are not being received: poll instead.
   */
  expect(memoryKey: MemoryKey): Expectation | undefined {
    if (!this.up) return undefined
    let arrived = false
    let wake: (() => void) | undefined
    const onNotice = () => {
      arrived = true
      wake?.()
    }
    let waiting = this.#expected.get(memoryKey)
    if (waiting === undefined) this.#expected.set(memoryKey, (waiting = new Set()))
    waiting.add(onNotice)
    const cancel = () => {
      wake = undefined
      waiting.delete(onNotice)
      if (waiting.size === 0 && this.#expected.get(memoryKey) === waiting) this.#expected.delete(memoryKey)
    }
    const wait = (ms: number) =>
      new Promise<boolean>((resolve) => {
        if (arrived) {
          cancel()
          resolve(true)
          return
        }
        const timer = setTimeout(() => {
          cancel()
          resolve(false)
        }, ms)
        wake = () => {
          clearTimeout(timer)
          cancel()
          resolve(true)
        }
      })
    return { wait, cancel }
  }

  #arrived(memoryKey: MemoryKey | null): void {
    const keys = memoryKey === null ? [...this.#expected.keys()] : [memoryKey]
    for (const key of keys) for (const onNotice of [...(this.#expected.get(key) ?? [])]) onNotice()
  }
}
