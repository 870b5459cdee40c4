// Longer than the ~300 lines a file aims for: it is the Peer's public surface, one TSDoc'd method
// per call (sendFile() added the last 20 lines), and each delegates to a module of its own.
import type { Channel, ChannelOptions } from '../data/channel.js';
import type { Sendable } from '../data/framing.js';
import { Emitter } from '../emitter.js';
import { PeerKitError } from '../errors.js';
import { listen } from '../util.js';
import { SIGNAL_VERSION, parseSignal } from '../signaling/signal.js';
import type { Signal } from '../signaling/signal.js';
import { Transfer } from '../transfer/transfer.js';
import type { SendFileOptions } from '../transfer/transfer.js';
import { channelsOf } from './channels.js';
import type { Channels } from './channels.js';
import type { PeerEvents } from './events.js';
import { PeerFiles } from './files.js';
import { watchHealth } from './health.js';
import type { ConnectionHealth } from './health.js';
import { watchGathering } from './gathering.js';
import { Negotiator } from './negotiator.js';
import { createConnection, logger, resolvePeerOptions } from './options.js';
import type { PeerOptions, ResolvedPeerOptions } from './options.js';
import { firstSeen, sendersOf } from './senders.js';
import type { Senders } from './senders.js';
import { derivePeerState } from './state.js';
import type { PeerState } from './state.js';
import type { PeerStats } from './stats.js';
import type { Verification } from './verification.js';

export type { PeerEvents } from './events.js';
export type { NetworkEvents, PeerOptions, WebRtcImplementation } from './options.js';

const noop = (): void => {};

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
export class Peer extends Emitter<PeerEvents> {
  /** Resolves when the Peer first connects; rejects with the reason if it fails or closes before. */
  readonly connected: Promise<void>;
  private readonly pc: RTCPeerConnection;
  private readonly options: ResolvedPeerOptions;
  private readonly negotiator: Negotiator;
  private readonly health: ConnectionHealth;
  private readonly senders: Senders;
  private readonly main: Channel;
  private readonly channels: Channels;
  private readonly log: (...args: unknown[]) => void;
  private inbox: Promise<unknown>;
  private current: PeerState = 'new';
  private wasConnected = false;
  private ending: Promise<void> | undefined;
  /** The Peer closes because its connection failed: nothing queued can go out any more. */
  private failed = false;
  private settle = { resolve: noop, reject: noop as (err: PeerKitError) => void };
  private readonly unwatch: () => void;
  private lastStats: PeerStats | undefined;
  /** @internal Its file transfers: see {@link PeerFiles}. */
  readonly files = new PeerFiles(this);

  /** @throws PeerKitError `UNSUPPORTED` without RTCPeerConnection, `BAD_ARGUMENT` for a bad option */
  constructor(options: PeerOptions = {}) {
    super();
    this.options = resolvePeerOptions(options);
    this.log = logger(options.debug);
    const pc = createConnection(this.options);
    this.pc = pc;
    this.connected = new Promise((resolve, reject) => (this.settle = { resolve, reject }));
    this.connected.catch(noop);
    this.senders = sendersOf(pc);
    this.negotiator = new Negotiator(pc, options.polite, { signal: (signal) => this.send$(signal), error: (err) => this.fail(err) });
    this.health = watchHealth(pc, this.options, {
      log: this.log,
      ping: () => this.main.ping(),
      changed: () => this.refresh(),
      fatal: (err) => this.die(err),
    });
    const newStreams = firstSeen((stream) => this.emit('stream', stream));
    const check = (): void => {
      this.log('ice', pc.iceConnectionState, pc.connectionState);
      this.health.check();
    };
    const [stopGathering, ready] = watchGathering(pc, options.iceTransportPolicy === 'relay', (err, fatal) => (fatal ? this.die(err) : this.fail(err)));
    this.inbox = ready;
    const stops = [
      stopGathering,
      listen(pc, {
        negotiationneeded: () => {
          this.log('negotiating');
          void ready.then(() => this.negotiator.negotiate());
        },
        icecandidate: ({ candidate }: RTCPeerConnectionIceEvent) => this.negotiator.trickle(candidate),
        iceconnectionstatechange: check,
        connectionstatechange: check,
        datachannel: ({ channel }: RTCDataChannelEvent) => {
          const adopted = this.channels.adoptRemote(channel);
          if (!this.files.take(adopted)) this.emit('channel', adopted);
        },
        track: ({ track, streams }: RTCTrackEvent) => {
          this.emit('track', track, streams);
          newStreams(streams);
        },
      }),
    ];
    this.unwatch = () => stops.forEach((stop) => stop());
    // Listeners are attached after the constructor returns.
    queueMicrotask(() => this.send$(this.negotiator.hello));
    this.channels = channelsOf(pc, this.options.channel, (ping) => this.health.heard(ping));
    this.main = this.channels.createDefault();
    this.main.on('open', () => {
      this.health.start();
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
    return this.channels.create(label, { ...this.options.channel, ...options });
  }

  /**
   * Sends a File or Blob on a channel of its own, in verified blocks, with backpressure that
   * leaves `send()` its share: the remote Peer gets a `transfer` event. The transfer resumes from
   * the last verified block across ICE restarts, and after either page reloads (see the README,
   * "File transfers"). The transfer code loads on first use, so the Transfer is `preparing` a
   * moment before it is `offered`.
   *
   * @throws PeerKitError `CLOSED` after `close()`, `BAD_ARGUMENT` when `file` is not a Blob
   */
  sendFile(file: Blob, options?: SendFileOptions): Transfer {
    this.assertOpen('sendFile()');
    const transfer = new Transfer(file, options);
    this.files.send(transfer);
    return transfer;
  }

  /** Sends a local media track to the remote Peer; renegotiates by itself. */
  addTrack(track: MediaStreamTrack, ...streams: MediaStream[]): void {
    this.assertOpen('addTrack()');
    this.senders.add(track, streams);
  }

  /** Stops sending a track added with `addTrack`; renegotiates by itself. Does not stop the track. */
  removeTrack(track: MediaStreamTrack): void {
    this.assertOpen('removeTrack()');
    this.senders.remove(track);
  }

  /** Swaps a sent track for another of the same kind without renegotiating (switching cameras). */
  replaceTrack(oldTrack: MediaStreamTrack, newTrack: MediaStreamTrack): Promise<void> {
    return this.later('replaceTrack()', () => this.senders.replace(oldTrack, newTrack));
  }

  /**
   * Restarts ICE on the same connection; channels stay open. The Peer does this by itself when
   * the connection fails or the network changes; call it after a change it cannot see.
   *
   * @returns resolves once the new ICE credentials are in use and connected; rejects with
   * `CLOSED` or, after `iceRestartTimeoutMs`, `TIMEOUT`
   */
  restartIce(): Promise<void> {
    return this.later('restartIce()', () => this.health.restartAndWait());
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
      // Loaded on first use, as few Peers are verified: it stays out of every user's bundle.
      const { verificationOf } = await import('./verification.js');
      return verificationOf(this.pc);
    });
  }

  /** Round-trip time, bitrates, bytes and whether the path is direct or relayed. */
  getStats(): Promise<PeerStats> {
    return this.later('getStats()', async () => {
      // Loaded on first use, like getVerification()'s code.
      const { summarizeStats } = await import('./stats.js');
      this.lastStats = summarizeStats(await this.pc.getStats(), this.lastStats);
      return this.lastStats;
    });
  }

  /**
   * Closes the Peer: lets queued messages go out (bounded by the channels' `closeTimeoutMs`),
   * closes the channels so the remote receives everything sent before, tells the remote with a
   * `bye` signal, and releases the connection. Idempotent; `close` is emitted once. When the
   * connection is not up, nothing can go out: `close` follows `state: 'closed'` at once. Tracks are
   * not stopped: they belong to whoever captured them.
   */
  close(): Promise<void> {
    if (!this.ending) {
      let release = noop;
      // Released only after `state: 'closed'` went out, so that `close` always comes after it.
      this.ending = new Promise<void>((resolve) => (release = resolve)).then(() => this.release());
      this.health.stop();
      this.settle.reject(new PeerKitError('CLOSED', 'Closed before connecting.'));
      this.refresh();
      release();
    }
    return this.ending;
  }

  private async take(message: unknown): Promise<void> {
    if (this.ending) return;
    const signal = parseSignal(message, this.options.maxSignalBytes);
    if (signal instanceof PeerKitError) return this.fail(signal);
    this.log('received', signal.kind, signal.kind === 'description' ? signal.type : '');
    if (signal.kind === 'bye') {
      this.settle.reject(new PeerKitError('CLOSED', 'The remote closed before connecting.'));
      return void this.close();
    }
    if (signal.kind === 'candidate') this.health.remoteCandidate();
    try {
      await this.negotiator.handle(signal);
    } catch (err) {
      this.fail(err instanceof PeerKitError ? err : new PeerKitError('NEGOTIATION_FAILED', 'A signal failed.', { cause: err }));
    }
  }

  private refresh(): void {
    const next = derivePeerState({
      closing: this.ending !== undefined,
      connection: this.pc.connectionState,
      channelOpen: this.main.state === 'open',
      wasConnected: this.wasConnected,
      silent: this.health.quiet,
    });
    if (next === this.current) return;
    this.current = next;
    this.log('state', next);
    this.emit('state', next);
    if (next === 'reconnecting') this.emit('reconnecting');
    if (next !== 'connected') return;
    if (this.wasConnected) return void this.emit('reconnect');
    this.wasConnected = true;
    this.health.connected();
    this.settle.resolve();
    this.emit('connect');
  }

  private async release(): Promise<void> {
    const closing = this.channels.closeAll();
    // Queued messages can only go out over a connection that is up, and one that failed is not
    // (ICE may still say `connected` when the remote went silent); otherwise waiting for them
    // would hold `close` back for closeTimeoutMs after the state said `closed`.
    if (this.pc.connectionState === 'connected' && !this.failed) await closing;
    this.emit('signal', { v: SIGNAL_VERSION, kind: 'bye' });
    const pc = this.pc;
    this.unwatch();
    pc.close();
    this.emit('close');
  }

  private send$(signal: Signal): void {
    if (!this.ending) this.emit('signal', signal);
  }

  private fail(err: PeerKitError): void {
    this.log('error', err.code, err.message);
    if (!this.ending) this.emit('error', err);
  }

  /** Fails for good: `connected` rejects with `err` (not `CLOSED`), `error` tells, and the Peer closes. */
  private die(err: PeerKitError): void {
    if (this.ending) return;
    this.failed = true;
    this.settle.reject(err);
    this.fail(err);
    void this.close();
  }

  private assertOpen(what: string): void {
    if (this.ending) throw new PeerKitError('CLOSED', `${what} after close().`);
  }

  private async later<T>(what: string, run: () => Promise<T>): Promise<T> {
    this.assertOpen(what);
    return run();
  }
}
