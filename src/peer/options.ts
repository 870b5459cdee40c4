import { CHANNEL_DEFAULTS } from '../data/channel.js';
import type { ChannelOptions, ResolvedChannelOptions } from '../data/channel.js';
import { PeerKitError } from '../errors.js';
import { isPositive } from '../util.js';

/** WebRTC classes for environments without them as globals (Node: `@roamhq/wrtc`). */
export interface WebRtcImplementation {
  /** The RTCPeerConnection class to build connections with. */
  RTCPeerConnection: typeof RTCPeerConnection;
}

/**
 * Where a Peer hears that the network changed. `window` fires `online` and `offline`;
 * `connection` (the Network Information API's `navigator.connection`) fires `change`.
 */
export interface NetworkEvents {
  /** Fires `online` and `offline`. */
  window?: EventTarget;
  /** Fires `change` when the network in use changes. */
  connection?: EventTarget;
}

/** Options of a Peer; each instance keeps its own copy. */
export interface PeerOptions {
  /** STUN and TURN servers. No server is contacted unless listed here. @default [] */
  iceServers?: RTCIceServer[];
  /** `relay` sends everything through TURN, hiding each side's IP address from the other. @default 'all' */
  iceTransportPolicy?: RTCIceTransportPolicy;
  /**
   * Whether this side yields when both offer at once. Set it on one side only, or on neither:
   * then a random tie-breaker carried in the first signals decides.
   * @default undefined
   */
  polite?: boolean;
  /** Defaults for every channel of this Peer, the default channel included. @default {} */
  channel?: ChannelOptions;
  /** Other RTCPeerConnection settings (certificates, bundlePolicy...). @default {} */
  config?: RTCConfiguration;
  /** WebRTC classes to use instead of the globals, e.g. `@roamhq/wrtc` in Node. @default globalThis */
  wrtc?: WebRtcImplementation;
  /** Logs negotiation steps: `true` for `console.debug`, or a function of your own. @default false */
  debug?: boolean | ((...args: unknown[]) => void);
  /** The longest signal (JSON text or SDP) accepted, in characters. @default 262144 */
  maxSignalBytes?: number;
  /**
   * How long a Peer may take to connect the first time, in ms. Past it, it fails with
   * `CONNECT_TIMEOUT` (on `error`, and `connected` rejects with it) and closes. 0 waits forever.
   * @default 30000
   */
  connectTimeoutMs?: number;
  /** How long a `disconnected` connection is given to heal before ICE restarts, in ms. @default 3000 */
  disconnectedGraceMs?: number;
  /**
   * ICE restarts tried in a row before the Peer gives up with `ICE_FAILED` and closes. Only a
   * connection that was up is restarted: one that fails before it ever connected fails at once.
   * @default 3
   */
  maxIceRestarts?: number;
  /** How long one ICE restart may take before the next is tried, in ms. @default 15000 */
  iceRestartTimeoutMs?: number;
  /**
   * How long the remote may send nothing, pings included, before a connected Peer counts as
   * disconnected (then `disconnectedGraceMs` and ICE restart follow). Both sides ping every second
   * on the default channel: Firefox would otherwise report a dead path only after about 30 s, when
   * ICE consent expires (https://www.rfc-editor.org/rfc/rfc7675#section-5.1).
   * 0 turns pinging and the watch off. @default 6000
   */
  silenceMs?: number;
  /**
   * Where network changes are heard: `online` and a `connection` `change` restart ICE at once on
   * a connected Peer, `offline` makes it `reconnecting` at once. `false` ignores the network.
   * @default { window: globalThis, connection: navigator.connection } (where they exist)
   */
  network?: NetworkEvents | false;
}

/** The numeric options and their defaults. */
const DEFAULTS = {
  maxSignalBytes: 262144,
  connectTimeoutMs: 30000,
  disconnectedGraceMs: 3000,
  maxIceRestarts: 3,
  iceRestartTimeoutMs: 15000,
  silenceMs: 6000,
};

/** A Peer's options with every default filled in. */
export type ResolvedPeerOptions = Omit<PeerOptions, keyof typeof DEFAULTS | 'channel'> &
  typeof DEFAULTS & { channel: ResolvedChannelOptions };

/**
 * Copies the options and fills in the defaults; an option given as `undefined` takes its default.
 *
 * @throws PeerKitError `BAD_ARGUMENT` for a number option that is negative or not a number
 */
export function resolvePeerOptions(options: PeerOptions): ResolvedPeerOptions {
  const numbers = { ...DEFAULTS };
  for (const name of Object.keys(DEFAULTS) as (keyof typeof DEFAULTS)[]) {
    const value: unknown = options[name];
    if (value === undefined) continue;
    if (!isPositive(value) && (value !== 0 || name === 'maxSignalBytes')) {
      throw new PeerKitError('BAD_ARGUMENT', `options.${name} must be a number >= ${name === 'maxSignalBytes' ? 1 : 0}.`);
    }
    numbers[name] = value;
  }
  return { ...options, ...numbers, channel: { ...CHANNEL_DEFAULTS, ...options.channel } };
}

/** The `debug` option as a function. */
export function logger(debug: PeerOptions['debug']): (...args: unknown[]) => void {
  if (typeof debug === 'function') return debug;
  return debug ? (...args) => console.debug('[peerkit]', ...args) : () => undefined;
}

/**
 * The RTCPeerConnection the options describe.
 *
 * @throws PeerKitError `UNSUPPORTED` where there is no RTCPeerConnection
 */
export function createConnection(options: PeerOptions): RTCPeerConnection {
  const Connection = options.wrtc?.RTCPeerConnection ?? globalThis.RTCPeerConnection;
  if (typeof Connection !== 'function') {
    throw new PeerKitError('UNSUPPORTED', 'No RTCPeerConnection; in Node, pass { wrtc } from @roamhq/wrtc.');
  }
  return new Connection({ ...options.config, iceServers: options.iceServers ?? [], iceTransportPolicy: options.iceTransportPolicy ?? 'all' });
}
