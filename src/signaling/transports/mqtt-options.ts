/**
 * The options of {@link MqttTransport}, their defaults and checks. Internal except for the
 * options type, which `peerkit/mqtt` exports.
 * @packageDocumentation
 */
import { PeerKitError } from '../../errors.js';
import { assertDurations } from './checks.js';
import { politeDefaults } from './polite.js';

/** Options for {@link MqttTransport}. */
export interface MqttTransportOptions {
  /** Broker user name. @default undefined */
  username?: string;
  /** Broker password. @default undefined */
  password?: string;
  /**
   * MQTT protocol version: 4 is MQTT 3.1.1, 5 is MQTT 5.0. With 5, the broker also drops a
   * stale presence by itself (message expiry).
   * @default 4
   */
  protocolVersion?: 4 | 5;
  /**
   * MQTT keep-alive, in seconds. A member that vanishes without closing (a crashed tab, a lost
   * network) is reported gone when the broker gives up on it: at most 1.5 times this after its
   * last packet (MQTT 3.1.1 section 3.1.2.10), through its last will; brokers may check later
   * (Mosquitto 2.0.11 over WebSocket: 1.6 to over 2 times, measured).
   * @default 20
   */
  keepaliveSeconds?: number;
  /**
   * First segment of every topic; the room's hash follows it.
   * @default 'peerkit/'
   */
  prefix?: string;
  /**
   * Interval at which each member refreshes its retained presence, in ms. Only stale presences
   * left behind by a broker that crashed with persistence on depend on it (the last will covers
   * everything else), so it is long.
   * @default 300000
   */
  announceIntervalMs?: number;
  /** Upper bound of the first reconnect delay, in ms (full jitter). @default 500 */
  minDelayMs?: number;
  /** Largest reconnect delay, in ms. @default 10000 */
  maxDelayMs?: number;
  /** How long one connection attempt may take, in ms. @default 10000 */
  connectTimeoutMs?: number;
  /** Payloads kept while not joined or over the rate limit; beyond it they are dropped with an `error`. @default 256 */
  maxQueue?: number;
  /**
   * Signals per second to one member, sent and accepted, after a burst of `signalBurst`.
   * Above it, ours wait and theirs are dropped with an `error` (`RATE_LIMITED`).
   * @default 20
   */
  signalsPerSecond?: number;
  /** Signals to one member at once before `signalsPerSecond` applies. @default 100 */
  signalBurst?: number;
}

/** The options with every default filled in. @internal */
export type ResolvedMqttOptions = Required<Omit<MqttTransportOptions, 'username' | 'password'>> & Pick<MqttTransportOptions, 'username' | 'password'>;

/**
 * Copies the options and fills in the defaults.
 * @throws PeerKitError `BAD_ARGUMENT` for a negative option, another protocol version, or a
 * prefix with MQTT wildcards.
 * @internal
 */
export function resolveMqttOptions(options: MqttTransportOptions): ResolvedMqttOptions {
  if (options.protocolVersion !== undefined && options.protocolVersion !== 4 && options.protocolVersion !== 5) {
    throw new PeerKitError('BAD_ARGUMENT', 'protocolVersion must be 4 (MQTT 3.1.1) or 5');
  }
  const resolved: ResolvedMqttOptions = {
    protocolVersion: options.protocolVersion ?? 4,
    keepaliveSeconds: options.keepaliveSeconds ?? 20,
    prefix: options.prefix ?? 'peerkit/',
    announceIntervalMs: options.announceIntervalMs ?? 300_000,
    ...politeDefaults(options),
  };
  assertDurations(resolved);
  if (/[#+]/.test(resolved.prefix)) throw new PeerKitError('BAD_ARGUMENT', 'prefix must not contain MQTT wildcards (+, #)');
  if (options.username !== undefined) resolved.username = options.username;
  if (options.password !== undefined) resolved.password = options.password;
  return resolved;
}
