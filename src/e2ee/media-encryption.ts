/**
 * End-to-end encryption of a page's RTP media with SFrame (RFC 9605), on encoded transforms in a
 * worker. What the Room's SFU mode uses; it works on any RTCRtpSender and RTCRtpReceiver.
 * @packageDocumentation
 */
import { Emitter } from '../emitter.js';
import { PeerKitError } from '../errors.js';
import { parseFromWorker, type ToWorker, type TransformOptions } from './messages.js';
import { type SFrameSuite, isSuite } from './sframe.js';
import { sframeWorkerSource } from './sframe-worker-source.js';

/**
 * Which browser API carries the frames to the worker: the standard `RTCRtpScriptTransform`
 * (Firefox, Chromium 141+, Safari) or Chromium's older encoded insertable streams
 * (`createEncodedStreams`), which need `encodedInsertableStreams: true` in the
 * RTCPeerConnection's configuration (see {@link encodedTransformConfig}).
 */
export type EncodedTransformApi = 'script-transform' | 'encoded-streams';

/** The part of Chromium's encoded insertable streams used here; not in TypeScript's DOM library. */
interface EncodedStreams {
  createEncodedStreams(): { readable: ReadableStream; writable: WritableStream };
}

function hasEncodedStreams(target: object): target is EncodedStreams {
  return 'createEncodedStreams' in target && typeof target.createEncodedStreams === 'function';
}

/** The encoded-transform API this engine has, the standard one first; `undefined` for none. */
export function detectEncodedTransformApi(): EncodedTransformApi | undefined {
  if (typeof RTCRtpScriptTransform === 'function') return 'script-transform';
  if (typeof RTCRtpSender === 'function' && hasEncodedStreams(RTCRtpSender.prototype)) return 'encoded-streams';
  return undefined;
}

/**
 * What an RTCPeerConnection's configuration must add for `api`: `encodedInsertableStreams: true`
 * for Chromium's encoded insertable streams, nothing for `RTCRtpScriptTransform`. Spread it into
 * the `config` of a Peer (or WHIP/WHEP session) that {@link MediaEncryption} will protect.
 */
export function encodedTransformConfig(api: EncodedTransformApi | undefined = detectEncodedTransformApi()): RTCConfiguration {
  // Chromium-only member, not in RTCConfiguration's typings:
  // https://github.com/w3c/webrtc-encoded-transform/blob/main/explainer.md
  return api === 'encoded-streams' ? ({ encodedInsertableStreams: true } as RTCConfiguration) : {};
}

const WORKER_OPTIONS: WorkerOptions = { type: 'module', name: 'peerkit-sframe' };

/**
 * Starts a worker from `source` through a `blob:` URL. The constructor resolves the URL at once
 * (HTML, "Worker(scriptURL)": URL parsing), so revoking it here frees the blob without breaking
 * the start.
 */
function startBlobWorker(source: string): Worker {
  const url = URL.createObjectURL(new Blob([source], { type: 'text/javascript' }));
  try {
    return new Worker(url, WORKER_OPTIONS);
  } finally {
    URL.revokeObjectURL(url);
  }
}

/**
 * Starts the SFrame worker: by default from the script bundled inside peerkit
 * (`sframe-worker-source.ts`) through a `blob:` URL, so that no bundler has to find, emit and
 * serve a worker file; from `url` where the page gives one. A worker script must be same-origin
 * with the page (HTML, "run a worker"): for a `url` on another origin (a CDN), a same-origin
 * `blob:` module imports it instead, which CORS allows.
 *
 * @throws PeerKitError `UNSUPPORTED` where the engine refuses to start it at once (some engines
 * throw for a CSP that forbids it; others report it later as an `error` event).
 */
function startWorker(url: URL | undefined): Worker {
  try {
    if (url === undefined) return startBlobWorker(sframeWorkerSource);
    if (globalThis.location === undefined || url.origin === globalThis.location.origin) return new Worker(url, WORKER_OPTIONS);
    return startBlobWorker(`import ${JSON.stringify(url.href)};`);
  } catch (err) {
    throw new PeerKitError('UNSUPPORTED', `The SFrame worker could not start: ${workerHint(url)}.`, { cause: err });
  }
}

/** What to check when the worker does not start or its script fails. */
function workerHint(url: URL | undefined): string {
  return url === undefined
    ? "it starts from a blob: URL, which the page's Content-Security-Policy must allow (worker-src blob:); createMediaEncryption can load peerkit's dist/sframe-worker.js from this origin instead (workerUrl)"
    : `check that ${url.href} serves peerkit's dist/sframe-worker.js (or dist/e2ee/sframe-worker.js beside its imports) and that the Content-Security-Policy allows it (worker-src)`;
}

/** Options of {@link createMediaEncryption}. */
export interface MediaEncryptionOptions {
  /** The SFrame cipher suite (RFC 9605 section 4.5). @default 'AES_128_GCM_SHA256_128' */
  suite?: SFrameSuite;
  /**
   * How long a replaced or removed key still decrypts, in ms: the overlap that lets a key change
   * reach senders and receivers at different moments without a gap in the picture.
   * @default 5000
   */
  overlapMs?: number;
  /** Force one encoded-transform API (tests, or a page that already uses one). @default the detected one */
  api?: EncodedTransformApi;
  /**
   * Where to load the worker script from instead of the copy bundled inside peerkit, which
   * starts from a `blob:` URL: only for a page whose Content-Security-Policy forbids `blob:`
   * workers. Serve `dist/sframe-worker.js` (one self-contained ES module) and allow it in
   * `worker-src`; another origin works where it sends CORS headers (it is then imported from a
   * `blob:` module, which the CSP must allow after all).
   * @default the bundled worker, from a `blob:` URL
   */
  workerUrl?: string | URL;
}

/** Events of a {@link MediaEncryption}. */
export interface MediaEncryptionEvents {
  /**
   * `DECRYPT_FAILED`: a receiver's frames do not decrypt (no key for their key id, a wrong key,
   * a wrong key) and are dropped. Once per receiver until it {@link MediaEncryptionEvents.recover | recovers}.
   * `UNSUPPORTED`, without a receiver: the worker script failed to load or run (a CSP without
   * `worker-src blob:`, a wrong `workerUrl`); no frames pass. The message says what to check.
   */
  error: [error: PeerKitError, receiver: RTCRtpReceiver | undefined];
  /** A receiver that failed decrypts again. */
  recover: [receiver: RTCRtpReceiver];
}

function checkKeyId(keyId: unknown): asserts keyId is number {
  if (typeof keyId !== 'number' || !Number.isSafeInteger(keyId) || keyId < 0) {
    throw new PeerKitError('BAD_ARGUMENT', `A key id must be a non-negative safe integer, got ${String(keyId)}.`);
  }
}

/**
 * SFrame encryption of the frames of RTCRtpSenders and decryption of those of RTCRtpReceivers,
 * in one worker with one key store. Made by {@link createMediaEncryption}.
 *
 * Frames are `clear prefix | SFrame header | AES-GCM ciphertext and tag`: the prefix is the
 * codec bytes the network needs (see `codec.ts`), authenticated as SFrame metadata. A sender
 * without its key drops its frames; a receiver drops frames it cannot decrypt.
 *
 * @example
 * ```ts
 * const e2ee = createMediaEncryption({ suite: 'AES_128_GCM_SHA256_128' });
 * const peer = new Peer({ config: encodedTransformConfig() });
 * e2ee.setKey(1, keyBytes); // frames after it wait while the key is derived
 * e2ee.protectSender(peer.connection.addTrack(track, stream), 1);
 * peer.connection.addEventListener('track', (e) => e2ee.protectReceiver(e.receiver));
 * e2ee.on('error', (err) => console.warn(err.code)); // 'DECRYPT_FAILED'
 * ```
 */
export class MediaEncryption extends Emitter<MediaEncryptionEvents> {
  /** The encoded-transform API in use. */
  readonly api: EncodedTransformApi;
  /** The SFrame cipher suite. */
  readonly suite: SFrameSuite;
  private readonly worker: Worker;
  private readonly senders = new Map<RTCRtpSender, number>();
  private readonly receivers = new Map<RTCRtpReceiver, number>();
  private readonly byId = new Map<number, RTCRtpReceiver>();
  private nextId = 1;
  private closed = false;

  /** @internal Use {@link createMediaEncryption}. */
  constructor(api: EncodedTransformApi, suite: SFrameSuite, overlapMs: number, workerUrl: string | URL | undefined) {
    super();
    this.api = api;
    this.suite = suite;
    const url = workerUrl === undefined ? undefined : new URL(workerUrl, globalThis.location?.href);
    this.worker = startWorker(url);
    this.worker.addEventListener('message', (event) => this.onWorkerMessage(event.data));
    this.worker.addEventListener('error', (event) => {
      const what = event.message || 'its script did not load';
      this.emit('error', new PeerKitError('UNSUPPORTED', `The SFrame worker failed (${what}): ${workerHint(url)}.`, { cause: event.error }), undefined);
    });
    this.post({ type: 'init', suite, overlapMs });
  }

  /**
   * Encrypts everything `sender` sends under `keyId`; called again for the same sender, switches
   * its key id. Frames are dropped, never sent in the clear, while `keyId` has no key.
   */
  protectSender(sender: RTCRtpSender, keyId: number): void {
    this.checkOpen();
    checkKeyId(keyId);
    const kid = BigInt(keyId);
    const known = this.senders.get(sender);
    if (known !== undefined) return this.post({ type: 'sender-key', id: known, kid });
    const kind = sender.track?.kind;
    if (kind !== 'audio' && kind !== 'video') throw new PeerKitError('BAD_ARGUMENT', 'protectSender needs a sender with an audio or video track.');
    const id = this.nextId++;
    this.senders.set(sender, id);
    this.attach(sender, { id, role: 'sender', kind, kid });
  }

  /** Decrypts everything `receiver` receives, with whichever key id each frame names. */
  protectReceiver(receiver: RTCRtpReceiver): void {
    this.checkOpen();
    if (this.receivers.has(receiver)) return;
    const kind = receiver.track.kind;
    if (kind !== 'audio' && kind !== 'video') throw new PeerKitError('BAD_ARGUMENT', 'protectReceiver needs an audio or video receiver.');
    const id = this.nextId++;
    this.receivers.set(receiver, id);
    this.byId.set(id, receiver);
    this.attach(receiver, { id, role: 'receiver', kind });
  }

  /**
   * Sets the base key of `keyId` (RFC 9605's `base_key`, at least 16 bytes of secret; SFrame
   * derives the AES key and salt from it and the key id). Setting a key id again replaces its key:
   * the old one still decrypts for `overlapMs`.
   */
  setKey(keyId: number, keyBytes: Uint8Array): void {
    this.checkOpen();
    checkKeyId(keyId);
    if (!(keyBytes instanceof Uint8Array) || keyBytes.length < 16) throw new PeerKitError('BAD_ARGUMENT', 'An SFrame base key must be a Uint8Array of at least 16 bytes.');
    this.post({ type: 'set-key', kid: BigInt(keyId), key: keyBytes.slice() });
  }

  /** Stops encrypting with `keyId` at once (its senders drop frames) and decrypting after the overlap. */
  removeKey(keyId: number): void {
    this.checkOpen();
    checkKeyId(keyId);
    this.post({ type: 'remove-key', kid: BigInt(keyId) });
  }

  /** Stops the worker: protected senders and receivers pass no more frames. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.worker.terminate();
    this.removeAllListeners();
  }

  private attach(target: RTCRtpSender | RTCRtpReceiver, options: TransformOptions): void {
    if (this.api === 'script-transform') {
      target.transform = new RTCRtpScriptTransform(this.worker, options);
      return;
    }
    if (!hasEncodedStreams(target)) throw new PeerKitError('UNSUPPORTED', 'This engine has no createEncodedStreams on RTCRtpSender/RTCRtpReceiver.');
    const { readable, writable } = target.createEncodedStreams();
    this.post({ type: 'streams', options, readable, writable }, [readable, writable]);
  }

  private post(message: ToWorker, transfer: Transferable[] = []): void {
    this.worker.postMessage(message, transfer);
  }

  private checkOpen(): void {
    if (this.closed) throw new PeerKitError('CLOSED', 'This MediaEncryption is closed.');
  }

  private onWorkerMessage(raw: unknown): void {
    const message = parseFromWorker(raw);
    const receiver = message && this.byId.get(message.id);
    if (!message || !receiver) return;
    if (message.type === 'decrypt-recovered') this.emit('recover', receiver);
    else this.emit('error', new PeerKitError('DECRYPT_FAILED', `Frames from a ${receiver.track.kind} receiver do not decrypt and are dropped: ${message.reason}`), receiver);
  }
}

/**
 * Starts SFrame media encryption for this page.
 *
 * @throws PeerKitError `UNSUPPORTED` where the engine has neither `RTCRtpScriptTransform` nor
 * Chromium's encoded insertable streams (or lacks the `api` asked for), or refuses at once to
 * start the worker (a CSP without `worker-src blob:`: pass `workerUrl`); `BAD_ARGUMENT` for an
 * unknown suite or a negative `overlapMs`.
 */
export function createMediaEncryption(options: MediaEncryptionOptions = {}): MediaEncryption {
  const suite = options.suite ?? 'AES_128_GCM_SHA256_128';
  if (!isSuite(suite)) throw new PeerKitError('BAD_ARGUMENT', `Unknown SFrame cipher suite ${String(suite)}.`);
  const overlapMs = options.overlapMs ?? 5000;
  if (typeof overlapMs !== 'number' || !(overlapMs >= 0)) throw new PeerKitError('BAD_ARGUMENT', `overlapMs must be a number of ms >= 0, got ${String(overlapMs)}.`);
  const detected = detectEncodedTransformApi();
  const api = options.api ?? detected;
  const available = api === 'encoded-streams' ? typeof RTCRtpSender === 'function' && hasEncodedStreams(RTCRtpSender.prototype) : api === detected;
  if (api === undefined || !available) {
    throw new PeerKitError('UNSUPPORTED', 'End-to-end media encryption needs encoded transforms (RTCRtpScriptTransform, or createEncodedStreams in Chromium); this engine has neither.');
  }
  return new MediaEncryption(api, suite, overlapMs, options.workerUrl);
}
