import { PeerKitError } from '../../errors.js';
import { assertDurations } from './checks.js';
import { politeDefaults } from './polite.js';

/** Options for {@link NostrTransport}. */
export interface NostrTransportOptions {
  /** The relays' `wss:` URLs. Every event goes to each; each event received is used once. */
  relays: string[];
  /**
   * Event kind; ephemeral (20000-29999), so relays pass the events on and never store them.
   * @default 20172
   */
  kind?: number;
  /**
   * Interval of the presence beat each member sends, in ms. Nostr has no last will, so a member
   * that vanishes without a goodbye is noticed only by its silence.
   * @default 30000
   */
  heartbeatMs?: number;
  /** Silence after which a member is taken for gone, in ms. @default 75000 */
  timeoutMs?: number;
  /**
   * Longest wait, after this member's announcement, for the answers of those present, in ms.
   * The wait is four times the first relay's round trip, within 500 ms and this; members that
   * answer later still arrive, as `member-joined`.
   * @default 2000
   */
  discoveryMs?: number;
  /** How long `join()` waits for a relay to serve the room before it fails, in ms. @default 10000 */
  connectTimeoutMs?: number;
  /** Upper bound of the first delay before reconnecting to a relay, in ms (full jitter). @default 500 */
  minDelayMs?: number;
  /** Largest delay before reconnecting to a relay, in ms. @default 10000 */
  maxDelayMs?: number;
  /** Payloads kept while no relay is up or over the rate limit. @default 256 */
  maxQueue?: number;
  /** Signals per second to and from one member, after a burst of `signalBurst`. @default 20 */
  signalsPerSecond?: number;
  /** Signals to or from one member at once before `signalsPerSecond` applies. @default 100 */
  signalBurst?: number;
  /**
   * Answer NIP-42 AUTH challenges, with this session's throwaway key (it says nothing about the
   * user), so relays that serve authenticated clients only can be used.
   * @default true
   */
  auth?: boolean;
}

/** The options with every default filled in. @internal */
export type ResolvedNostrOptions = Required<NostrTransportOptions>;

/**
 * Copies the options and fills in the defaults.
 * @throws PeerKitError `BAD_ARGUMENT` without a `ws:`/`wss:` relay URL, with a kind that is not
 * ephemeral, or with a negative option; `UNSUPPORTED` where no `WebSocket` exists.
 * @internal
 */
export function resolveNostrOptions(options: NostrTransportOptions): ResolvedNostrOptions {
  const relays = options?.relays;
  if (!Array.isArray(relays) || relays.length === 0 || !relays.every((url) => typeof url === 'string' && /^wss?:\/\//.test(url))) {
    throw new PeerKitError('BAD_ARGUMENT', 'NostrTransport needs relays: a list of ws:// or wss:// URLs');
  }
  if (typeof WebSocket === 'undefined') throw new PeerKitError('UNSUPPORTED', 'no global WebSocket here');
  const resolved: ResolvedNostrOptions = {
    relays: [...new Set(relays)],
    kind: options.kind ?? 20172,
    heartbeatMs: options.heartbeatMs ?? 30_000,
    timeoutMs: options.timeoutMs ?? 75_000,
    discoveryMs: options.discoveryMs ?? 2000,
    ...politeDefaults(options),
    auth: options.auth ?? true,
  };
  assertDurations(resolved);
  const { kind } = resolved;
  if (!Number.isInteger(kind) || kind < 20000 || kind > 29999) {
    throw new PeerKitError('BAD_ARGUMENT', `kind must be an ephemeral kind (20000-29999), got ${kind}`);
  }
  return resolved;
}
