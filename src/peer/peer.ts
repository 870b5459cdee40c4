import { EventEmitter } from 'eventemitter3';
import { CHANNEL_DEFAULTS, Channel, FRAMED_PROTOCOL } from '../data/channel.js';
import type { ChannelOptions, ResolvedChannelOptions } from '../data/channel.js';
import type { Message, Sendable } from '../data/framing.js';
import { PeerKitError } from '../errors.js';
import { SIGNAL_VERSION, parseSignal } from '../signaling/signal.js';
import type { Signal } from '../signaling/signal.js';
import { IceRestarter } from './ice-restart.js';
import { watchGathering } from './ice-servers.js';
import { Liveness } from './liveness.js';
import { Negotiator } from './negotiator.js';
import { derivePeerState } from './state.js';
import type { PeerState } from './state.js';
import { summarizeStats } from './stats.js';
import type { PeerStats } from './stats.js';
import { fingerprintsOf, shortAuthString } from './verification.js';
import type { Verification } from './verification.js';

/** WebRTC classes for environments without them as globals (Node: `@roamhq/wrtc`). */
export interface WebRtcImplementation {
  RTCPeerConnection: typeof RTCPeerConnection;
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
  /** How long a `disconnected` connection is given to heal before ICE restarts, in ms. @default 3000 */
  disconnectedGraceMs?: number;
  /** ICE restarts tried in a row before the Peer gives up with `ICE_FAILED` and closes. @default 3 */
  maxIceRestarts?: number;
  /** How long one ICE restart may take before the next is tried, in ms. @default 15000 */
  iceRestartTimeoutMs?: number;
  /**
   * How long the remote may send nothing, pings included, before a connected Peer counts as
   * disconnected (then `disconnectedGraceMs` and ICE restart follow). Both sides ping every second
   * on the default channel: Firefox would otherwise report a dead path only after about 30 s.
   * 0 turns pinging and the watch off. @default 6000
   */
  silenceMs?: number;
}

/** Events of a Peer. */
export interface PeerEvents {
  /** A signal for the remote Peer: deliver it to `remote.signal()` by any means. */
  signal: [signal: Signal];
  /** The default channel opened: `send()` delivers from now on. Once per Peer. */
  connect: [];
  /** A message arrived on the default channel. */
  data: [data: Message];
  /** The remote side opened a channel with `peer.channel()`. */
  channel: [channel: Channel];
  /** A remote media track arrived, with the streams the remote added it to. */
  track: [track: MediaStreamTrack, streams: readonly MediaStream[]];
  /** A remote MediaStream was seen for the first time. */
  stream: [stream: MediaStream];
  /** The state changed. */
  state: [state: PeerState];
  /** The connection dropped; ICE is restarting while the channels stay open. */
  reconnecting: [];
  /** The connection is back after `reconnecting`. */
  reconnect: [];
  /** Something went wrong that no call is waiting for. The Peer carries on unless it also closes. */
  error: [error: PeerKitError];
  /** The Peer closed, from either side. Once per Peer. */
  close: [];
}

const DEFAULTS = {
  maxSignalBytes: 262144,
  disconnectedGraceMs: 3000,
  maxIceRestarts: 3,
  iceRestartTimeoutMs: 15000,
  silenceMs: 6000,
};

const noop = (): void => {};

const ufragOf = (description: RTCSessionDescription | null): string | undefined =>
  /a=ice-ufrag:(\S+)/.exec(description?.sdp ?? '')?.[1];

/**
 * One RTCPeerConnection to one remote Peer: perfect negotiation, trickle ICE, ICE restart, a
 * default data channel, named channels and media tracks. It knows nothing of transports: what it
 * emits on `signal` must reach the remote's `signal()`, by whatever means.
 *
 * @example
 * ```ts
 * const a = new Peer();
 * const b = new Peer();
 * a.on('signal', (msg) => b.signal(msg));
 * b.on('signal', (msg) => a.signal(msg));
 * b.on('data', (data) => console.log(data)); // 'hello'
 * await a.connected;
 * await a.send('hello');
 * ```
 */
export class Peer extends EventEmitter<PeerEvents> {
  /** Resolves when the Peer first connects; rejects if it closes before. */
  readonly connected: Promise<void>;
  private readonly pc: RTCPeerConnection;
  private readonly options: PeerOptions & typeof DEFAULTS & { channel: ResolvedChannelOptions };
  private readonly negotiator: Negotiator;
  private readonly restarter: IceRestarter;
  private readonly liveness: Liveness;
  /** Whether ICE was restarted since the remote went silent (see {@link iceHealth}). */
  private restartedInSilence = false;
  private readonly main: Channel;
  private readonly channels = new Set<Channel>();
  private readonly senders = new Map<MediaStreamTrack, RTCRtpSender>();
  private readonly streams = new Set<string>();
  private readonly log: (...args: unknown[]) => void;
  private inbox: Promise<void> = Promise.resolve();
  private current: PeerState = 'new';
  private wasConnected = false;
  private ending: Promise<void> | undefined;
  private settle = { resolve: noop, reject: noop as (err: PeerKitError) => void };
  private readonly unwatch: () => void;
  private lastStats: PeerStats | undefined;

  constructor(options: PeerOptions = {}) {
    super();
    this.options = { ...DEFAULTS, ...options, channel: { ...CHANNEL_DEFAULTS, ...options.channel } };
    const debug = options.debug;
    this.log = typeof debug === 'function' ? debug : debug ? (...args) => console.debug('[peerkit]', ...args) : noop;
    const Connection = options.wrtc?.RTCPeerConnection ?? globalThis.RTCPeerConnection;
    if (typeof Connection !== 'function') {
      throw new PeerKitError('UNSUPPORTED', 'This environment has no RTCPeerConnection; in Node, pass { wrtc } from @roamhq/wrtc.');
    }
    this.connected = new Promise((resolve, reject) => (this.settle = { resolve, reject }));
    this.connected.catch(noop);
    const pc = new Connection({
      ...options.config,
      iceServers: options.iceServers ?? [],
      iceTransportPolicy: options.iceTransportPolicy ?? 'all',
    });
    this.pc = pc;
    this.negotiator = new Negotiator(pc, options.polite, {
      signal: (signal) => this.send$(signal),
      error: (err) => this.fail(err),
    });
    this.restarter = new IceRestarter(
      { graceMs: this.options.disconnectedGraceMs, maxAttempts: this.options.maxIceRestarts, attemptTimeoutMs: this.options.iceRestartTimeoutMs },
      () => {
        this.log('restarting ICE');
        if (this.liveness.silent) this.restartedInSilence = true;
        pc.restartIce();
      },
      () => {
        this.fail(new PeerKitError('ICE_FAILED', `The connection failed and ${this.options.maxIceRestarts} ICE restarts did not bring it back.`));
        void this.close();
      },
      () => this.iceHealth(),
    );
    this.liveness = new Liveness(
      this.options.silenceMs,
      () => this.main.ping(),
      () => {
        this.log(this.liveness.silent ? 'the remote went silent' : 'the remote is heard again');
        this.restartedInSilence = false;
        this.checkIce();
      },
    );
    this.unwatch = watchGathering(pc, options.iceTransportPolicy === 'relay', (err, fatal) => {
      if (!fatal) return this.fail(err);
      this.settle.reject(err);
      this.fail(err);
      void this.close();
    });
    pc.onnegotiationneeded = () => {
      this.log('negotiation needed');
      void this.negotiator.negotiate();
    };
    pc.onicecandidate = ({ candidate }) => {
      // An empty candidate marks the end of a generation; the remote does not need it.
      if (!candidate?.candidate) return;
      const init: RTCIceCandidateInit = { candidate: candidate.candidate, sdpMid: candidate.sdpMid, sdpMLineIndex: candidate.sdpMLineIndex };
      if (candidate.usernameFragment) init.usernameFragment = candidate.usernameFragment;
      this.send$({ v: SIGNAL_VERSION, kind: 'candidate', candidate: init });
    };
    pc.oniceconnectionstatechange = () => {
      this.log('ice', pc.iceConnectionState);
      this.checkIce();
    };
    pc.onconnectionstatechange = () => this.refresh();
    pc.ondatachannel = ({ channel }) => {
      const adopted = this.adopt(channel, { ...this.options.channel, raw: channel.protocol !== FRAMED_PROTOCOL });
      this.emit('channel', adopted);
    };
    pc.ontrack = ({ track, streams }) => {
      this.emit('track', track, streams);
      for (const stream of streams) {
        if (this.streams.has(stream.id)) continue;
        this.streams.add(stream.id);
        this.emit('stream', stream);
      }
    };
    // Listeners are attached after the constructor returns.
    queueMicrotask(() => this.send$(this.negotiator.hello));
    // Both sides create the default channel out of band with the same id, so it exists from the
    // first offer and never races an in-band announcement.
    const { maxRetransmits: _retransmits, maxPacketLifeTime: _lifetime, ...reliable } = this.options.channel;
    this.main = this.open('peerkit', { ...reliable, ordered: true, raw: false, id: 0 });
    this.main.on('open', () => {
      this.liveness.start();
      this.refresh();
    });
    this.main.on('message', (data) => this.emit('data', data));
    this.main.on('error', (err) => this.fail(err));
    this.main.on('close', () => void this.close());
  }

  /** The current state; `state` events announce each change. */
  get state(): PeerState {
    return this.current;
  }

  /** Whether this side yields on an offer collision; `undefined` until the remote's `hello` arrives. */
  get polite(): boolean | undefined {
    return this.negotiator.polite;
  }

  /** The underlying connection, for what this class does not cover. Do not close it directly. */
  get connection(): RTCPeerConnection {
    return this.pc;
  }

  /**
   * Takes a signal the remote Peer emitted: a `Signal` or its JSON text. Signals are applied
   * strictly in the order given. A malformed one is reported on `error` (`BAD_SIGNAL`) and
   * skipped; the Peer carries on. Signals arriving after `close()` are dropped, as the remote may
   * still be trickling candidates.
   */
  signal(message: Signal | string): void {
    if (this.ending) return;
    this.inbox = this.inbox.then(() => this.take(message));
  }

  /** Sends on the default channel. See {@link Channel.send}. */
  send(data: Sendable): Promise<void> {
    return this.main.send(data);
  }

  /**
   * Opens a named channel; the remote Peer gets it on its `channel` event (unless `id` is set,
   * in which case both sides call this with the same id).
   *
   * @throws PeerKitError `CLOSED` after `close()`, `BAD_ARGUMENT` when the browser refuses the options
   */
  channel(label: string, options: ChannelOptions = {}): Channel {
    this.assertOpen('channel()');
    return this.open(label, { ...this.options.channel, ...options });
  }

  /** Sends a local media track to the remote Peer; renegotiates by itself. */
  addTrack(track: MediaStreamTrack, ...streams: MediaStream[]): void {
    this.assertOpen('addTrack()');
    if (this.senders.has(track)) throw new PeerKitError('BAD_ARGUMENT', `Track ${track.id} is already being sent.`);
    this.senders.set(track, this.wrap(() => this.pc.addTrack(track, ...streams)));
  }

  /** Stops sending a track added with `addTrack`; renegotiates by itself. Does not stop the track. */
  removeTrack(track: MediaStreamTrack): void {
    this.assertOpen('removeTrack()');
    const sender = this.sender(track);
    this.wrap(() => this.pc.removeTrack(sender));
    this.senders.delete(track);
  }

  /** Swaps a sent track for another of the same kind without renegotiating (switching cameras). */
  async replaceTrack(oldTrack: MediaStreamTrack, newTrack: MediaStreamTrack): Promise<void> {
    this.assertOpen('replaceTrack()');
    const sender = this.sender(oldTrack);
    try {
      await sender.replaceTrack(newTrack);
    } catch (err) {
      throw new PeerKitError('BAD_ARGUMENT', 'The browser refused the replacement track.', { cause: err });
    }
    this.senders.delete(oldTrack);
    this.senders.set(newTrack, sender);
  }

  /**
   * Restarts ICE on the same connection; channels stay open. The Peer does this by itself when
   * the connection fails; call it after a known network change.
   *
   * @returns resolves once the new ICE credentials are in use and connected; rejects with
   * `CLOSED` or, after `iceRestartTimeoutMs`, `TIMEOUT`
   */
  restartIce(): Promise<void> {
    return this.later('restartIce()', async () => {
      const before = ufragOf(this.pc.localDescription);
      const done = new Promise<void>((resolve, reject) => {
        const check = (): void => {
          const ice = this.pc.iceConnectionState;
          if (this.ending) finish(new PeerKitError('CLOSED', 'The Peer closed during the ICE restart.'));
          else if (this.pc.signalingState === 'stable' && ufragOf(this.pc.localDescription) !== before && (ice === 'connected' || ice === 'completed')) finish();
        };
        const timer = setTimeout(
          () => finish(new PeerKitError('TIMEOUT', `The ICE restart did not complete within ${this.options.iceRestartTimeoutMs} ms.`)),
          this.options.iceRestartTimeoutMs,
        );
        const finish = (err?: PeerKitError): void => {
          clearTimeout(timer);
          this.pc.removeEventListener('signalingstatechange', check);
          this.pc.removeEventListener('iceconnectionstatechange', check);
          this.off('close', check);
          if (err) reject(err);
          else resolve();
        };
        this.pc.addEventListener('signalingstatechange', check);
        this.pc.addEventListener('iceconnectionstatechange', check);
        this.once('close', check);
      });
      this.pc.restartIce();
      await done;
    });
  }

  /**
   * Both DTLS fingerprints and a six-digit short authentication string derived from them. Two
   * people who see the same `sas` on both ends are connected to each other, whatever the
   * signaling path did; a different string means someone substituted fingerprints in between.
   *
   * @returns resolves once the Peer is connected; rejects with `CLOSED`, or `UNSUPPORTED` where
   * the SDP carries no fingerprint or WebCrypto is missing
   */
  getVerification(): Promise<Verification> {
    return this.later('getVerification()', async () => {
      await this.connected;
      const local = fingerprintsOf(this.pc.localDescription?.sdp).join(', ');
      const remote = fingerprintsOf(this.pc.remoteDescription?.sdp).join(', ');
      if (local === '' || remote === '' || globalThis.crypto?.subtle === undefined) {
        throw new PeerKitError('UNSUPPORTED', 'no DTLS fingerprint in the descriptions, or no WebCrypto to hash them');
      }
      return { local, remote, sas: await shortAuthString(local, remote) };
    });
  }

  /** Round-trip time, bitrates, bytes and whether the path is direct or relayed. */
  getStats(): Promise<PeerStats> {
    return this.later('getStats()', async () => {
      this.lastStats = summarizeStats(await this.pc.getStats(), this.lastStats);
      return this.lastStats;
    });
  }

  /**
   * Closes the Peer: lets queued messages go out (bounded by the channels' `closeTimeoutMs`),
   * closes the channels so the remote receives everything sent before, tells the remote with a
   * `bye` signal, and releases the connection. Idempotent; `close` is emitted once. Tracks are not
   * stopped: they belong to whoever captured them.
   */
  close(): Promise<void> {
    if (!this.ending) {
      this.ending = this.release();
      this.restarter.stop();
      this.liveness.stop();
      this.settle.reject(new PeerKitError('CLOSED', 'The Peer closed before it connected.'));
      this.refresh();
    }
    return this.ending;
  }

  private async take(message: unknown): Promise<void> {
    if (this.ending) return;
    const signal = parseSignal(message, this.options.maxSignalBytes);
    if (signal instanceof PeerKitError) return this.fail(signal);
    this.log('received', signal.kind, signal.kind === 'description' ? signal.type : '');
    if (signal.kind === 'bye') return void this.close();
    try {
      await this.negotiator.handle(signal);
    } catch (err) {
      this.fail(err instanceof PeerKitError ? err : new PeerKitError('NEGOTIATION_FAILED', 'Applying a signal failed.', { cause: err }));
    }
  }

  private open(label: string, options: ResolvedChannelOptions): Channel {
    const init: RTCDataChannelInit = { ordered: options.ordered, protocol: options.raw ? options.protocol : FRAMED_PROTOCOL };
    if (options.maxRetransmits !== undefined) init.maxRetransmits = options.maxRetransmits;
    if (options.maxPacketLifeTime !== undefined) init.maxPacketLifeTime = options.maxPacketLifeTime;
    if (options.id !== undefined) Object.assign(init, { negotiated: true, id: options.id });
    return this.adopt(this.wrap(() => this.pc.createDataChannel(label, init)), options);
  }

  private adopt(dc: RTCDataChannel, options: ResolvedChannelOptions): Channel {
    const channel = new Channel(dc, options, () => this.pc.sctp?.maxMessageSize, () => this.liveness.heard());
    this.channels.add(channel);
    channel.once('close', () => this.channels.delete(channel));
    return channel;
  }

  private refresh(): void {
    const next = derivePeerState({
      closing: this.ending !== undefined,
      connection: this.pc.connectionState,
      channelOpen: this.main.state === 'open',
      wasConnected: this.wasConnected,
      silent: this.liveness.silent,
    });
    if (next === this.current) return;
    this.current = next;
    this.log('state', next);
    this.emit('state', next);
    if (next === 'reconnecting') this.emit('reconnecting');
    if (next !== 'connected') return;
    if (this.wasConnected) return void this.emit('reconnect');
    this.wasConnected = true;
    this.settle.resolve();
    this.emit('connect');
  }

  private async release(): Promise<void> {
    await Promise.all([...this.channels].map((channel) => channel.close()));
    this.emit('signal', { v: SIGNAL_VERSION, kind: 'bye' });
    const pc = this.pc;
    this.unwatch();
    pc.onnegotiationneeded = pc.onicecandidate = pc.oniceconnectionstatechange = pc.onconnectionstatechange = null;
    pc.ondatachannel = pc.ontrack = null;
    pc.close();
    this.emit('close');
  }

  /**
   * The ICE state, except that a silent remote overrules ICE's claim to be connected until one
   * restart was tried. After that ICE is believed again: a restart cannot hurry SCTP, which may
   * wait out its retransmission backoff before anything flows, and giving up on silence alone
   * would close a connection that is coming back. The Peer stays `reconnecting` meanwhile.
   */
  private iceHealth(): RTCIceConnectionState {
    const state = this.pc.iceConnectionState;
    const up = state === 'connected' || state === 'completed';
    return up && this.liveness.silent && !this.restartedInSilence ? 'disconnected' : state;
  }

  /** Feeds the restart policy the ICE state as {@link iceHealth} sees it. */
  private checkIce(): void {
    // A Peer closing has stopped restarting; late ICE events must not start it again.
    if (!this.ending) this.restarter.update(this.iceHealth());
    this.refresh();
  }

  private send$(signal: Signal): void {
    if (!this.ending) this.emit('signal', signal);
  }

  private fail(err: PeerKitError): void {
    this.log('error', err.code, err.message);
    if (!this.ending) this.emit('error', err);
  }

  private sender(track: MediaStreamTrack): RTCRtpSender {
    const sender = this.senders.get(track);
    if (!sender) throw new PeerKitError('BAD_ARGUMENT', `Track ${track.id} was not added to this Peer.`);
    return sender;
  }

  private wrap<T>(call: () => T): T {
    try {
      return call();
    } catch (err) {
      throw new PeerKitError('BAD_ARGUMENT', err instanceof Error ? err.message : 'The browser refused the call.', { cause: err });
    }
  }

  private assertOpen(what: string): void {
    if (this.ending) throw new PeerKitError('CLOSED', `${what} was called after close().`);
  }

  private async later<T>(what: string, run: () => Promise<T>): Promise<T> {
    this.assertOpen(what);
    return run();
  }
}
