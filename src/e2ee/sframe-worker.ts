/**
 * The SFrame worker: runs the encrypt (sender) or decrypt (receiver) transform on every encoded
 * frame, for `RTCRtpScriptTransform` (the `rtctransform` event) and for Chromium's encoded
 * insertable streams (streams posted by the page). One worker per `MediaEncryption`, so every
 * sender shares one key store and one counter. It imports nothing but peerkit's own relative
 * modules, so that the build can bundle it into one script (`sframe-worker-source.ts`), which
 * `media-encryption.ts` starts as an ES module worker.
 * @packageDocumentation
 */
import { PeerKitError } from '../errors.js';
import { clearBytes, join, openFrame, sealFrame } from './codec.js';
import { KeyStore } from './key-store.js';
import { parseToWorker, parseTransformOptions, type FromWorker, type TransformOptions } from './messages.js';

/** The part of an encoded audio or video frame this worker uses. */
interface EncodedFrame {
  data: ArrayBuffer;
  getMetadata(): { mimeType?: string };
}

/** `RTCRtpScriptTransformer` (W3C webrtc-encoded-transform): not in TypeScript's DOM library. */
interface ScriptTransformer {
  readonly readable: ReadableStream<EncodedFrame>;
  readonly writable: WritableStream<EncodedFrame>;
  readonly options: unknown;
  generateKeyFrame?(): Promise<void>;
  sendKeyFrameRequest?(): Promise<void>;
}

/** The worker global, as far as this file uses it (the project compiles against the DOM library). */
interface WorkerScope {
  addEventListener(type: 'message', listener: (event: MessageEvent) => void): void;
  addEventListener(type: 'rtctransform', listener: (event: Event & { transformer: ScriptTransformer }) => void): void;
  postMessage(message: FromWorker): void;
}

const scope = globalThis as unknown as WorkerScope;
let resolveStore: (store: KeyStore) => void = () => undefined;
const storeReady = new Promise<KeyStore>((resolve) => {
  resolveStore = resolve;
});
/**
 * The key store once the key changes sent so far are applied, one after the other in the order
 * the page sent them. It never rejects: a change that fails must not stop the ones after it, or
 * the frames that wait for it.
 */
let keyChanges: Promise<KeyStore> = storeReady;

/** Queues `change` after the key changes before it. */
function changeKeys(change: (store: KeyStore) => unknown): void {
  keyChanges = keyChanges.then(async (store) => {
    try {
      await change(store);
    } catch {
      // The page checked the key before sending it; a change that fails anyway is dropped, so
      // that the ones after it still apply.
    }
    return store;
  });
}
/** The key id each sender encrypts with, by the page's id for it. */
const senderKeys = new Map<number, bigint>();
/** Receivers whose last frame failed, with the transformer that can ask for a key frame. */
const failing = new Map<number, ScriptTransformer | undefined>();
/** Senders that dropped frames for want of a key, with the transformer that can make a key frame. */
const starved = new Map<number, ScriptTransformer | undefined>();

function report(message: FromWorker): void {
  scope.postMessage(message);
}

function codecOf(frame: EncodedFrame, options: TransformOptions): string {
  const mimeType = frame.getMetadata().mimeType;
  // Firefox's frame metadata has no mimeType (yet); a Room negotiates Opus and VP8 alone for
  // encrypted media (media-keys.ts), so that is what such a frame is.
  return typeof mimeType === 'string' ? mimeType : options.kind === 'audio' ? 'audio/opus' : 'video/vp8';
}

async function encrypt(store: KeyStore, frame: EncodedFrame, options: TransformOptions, transformer: ScriptTransformer | undefined): Promise<boolean> {
  const kid = senderKeys.get(options.id);
  // Never send a frame in the clear: without its key, a sender's frames are dropped.
  if (kid === undefined || !store.canEncrypt(kid)) {
    starved.set(options.id, transformer);
    return false;
  }
  const data = new Uint8Array(frame.data);
  const { prefix, plaintext } = sealFrame(codecOf(frame, options), data);
  frame.data = join(prefix, await store.encrypt(kid, prefix, plaintext)).buffer as ArrayBuffer;
  return true;
}

async function decrypt(store: KeyStore, frame: EncodedFrame, options: TransformOptions, transformer: ScriptTransformer | undefined): Promise<boolean> {
  const data = new Uint8Array(frame.data);
  const codec = codecOf(frame, options);
  const prefix = data.subarray(0, clearBytes(codec, data));
  try {
    const plaintext = await store.decrypt(prefix, data.subarray(prefix.length));
    if (!plaintext) return false;
    const opened = openFrame(codec, prefix, plaintext);
    if (!opened) throw new PeerKitError('DECRYPT_FAILED', 'The VP8 frame tag inside the ciphertext disagrees with the clear one.');
    frame.data = opened.buffer as ArrayBuffer;
  } catch (error) {
    // Dropped, never passed on: the decoder must not see ciphertext as if it were a picture.
    if (!failing.has(options.id)) report({ type: 'decrypt-failed', id: options.id, reason: error instanceof Error ? error.message : String(error) });
    failing.set(options.id, transformer);
    return false;
  }
  if (failing.delete(options.id)) report({ type: 'decrypt-recovered', id: options.id });
  return true;
}

function run(options: TransformOptions, readable: ReadableStream<EncodedFrame>, writable: WritableStream<EncodedFrame>, transformer?: ScriptTransformer): void {
  if (options.role === 'sender' && options.kid !== undefined) senderKeys.set(options.id, options.kid);
  const step = options.role === 'sender' ? encrypt : decrypt;
  const transform = new TransformStream<EncodedFrame, EncodedFrame>({
    async transform(frame, controller) {
      // A key set before this frame arrived is used for it, though deriving it takes a moment: a
      // worker that starts late (a workerUrl on another origin) found frames queued before its
      // first key was derived, and reported them as DECRYPT_FAILED.
      const store = await keyChanges;
      if (await step(store, frame, options, transformer)) controller.enqueue(frame);
    },
  });
  // The pipe ends when the sender or receiver stops; nothing to report then.
  readable.pipeThrough(transform).pipeTo(writable).catch(() => undefined);
}

/** After a key arrives, the frames that follow need a key frame to start decoding from. */
function askForKeyFrames(): void {
  for (const transformer of starved.values()) void transformer?.generateKeyFrame?.().catch(() => undefined);
  starved.clear();
  for (const transformer of failing.values()) void transformer?.sendKeyFrameRequest?.().catch(() => undefined);
}

scope.addEventListener('rtctransform', (event) => {
  const { transformer } = event;
  const options = parseTransformOptions(transformer.options);
  if (options) run(options, transformer.readable, transformer.writable, transformer);
});

scope.addEventListener('message', (event) => {
  const message = parseToWorker(event.data);
  if (!message) throw new PeerKitError('BAD_MESSAGE', 'The SFrame worker received a message it does not know.');
  switch (message.type) {
    case 'init':
      resolveStore(new KeyStore(message.suite, { overlapMs: message.overlapMs }));
      return;
    case 'set-key':
      changeKeys(async (store) => {
        await store.setKey(message.kid, message.key);
        askForKeyFrames();
      });
      return;
    case 'remove-key':
      changeKeys((store) => store.removeKey(message.kid));
      return;
    case 'sender-key':
      senderKeys.set(message.id, message.kid);
      return;
    case 'streams':
      run(message.options, message.readable, message.writable);
  }
});
