/**
 * The messages between the page and the SFrame worker. Internal: both ends are peerkit's.
 * @internal
 * @packageDocumentation
 */
import { isRecord } from '../util.js';
import { isSuite, type SFrameSuite } from './sframe.js';

/** What one transform does and to which stream it belongs. */
export interface TransformOptions {
  /** The page's id for this sender or receiver, echoed in reports. */
  readonly id: number;
  readonly role: 'sender' | 'receiver';
  readonly kind: 'audio' | 'video';
  /** The key id a sender encrypts with. */
  readonly kid?: bigint;
}

/** From the page to the worker. */
export type ToWorker =
  | { readonly type: 'init'; readonly suite: SFrameSuite; readonly overlapMs: number }
  | { readonly type: 'set-key'; readonly kid: bigint; readonly key: Uint8Array }
  | { readonly type: 'remove-key'; readonly kid: bigint }
  | { readonly type: 'sender-key'; readonly id: number; readonly kid: bigint }
  | { readonly type: 'streams'; readonly options: TransformOptions; readonly readable: ReadableStream; readonly writable: WritableStream };

/** From the worker to the page: a receiver started or stopped failing to decrypt. */
export type FromWorker =
  | { readonly type: 'decrypt-failed'; readonly id: number; readonly reason: string }
  | { readonly type: 'decrypt-recovered'; readonly id: number };

/** Reads transform options from `RTCRtpScriptTransformer.options` or a `streams` message. */
export function parseTransformOptions(raw: unknown): TransformOptions | undefined {
  if (!isRecord(raw) || typeof raw.id !== 'number') return undefined;
  const { role, kind } = raw;
  if (role !== 'sender' && role !== 'receiver') return undefined;
  if (kind !== 'audio' && kind !== 'video') return undefined;
  const base: TransformOptions = { id: raw.id, role, kind };
  return typeof raw.kid === 'bigint' ? { ...base, kid: raw.kid } : base;
}

/** Parses a message the page sent to the worker. */
export function parseToWorker(raw: unknown): ToWorker | undefined {
  if (!isRecord(raw)) return undefined;
  switch (raw.type) {
    case 'init':
      return isSuite(raw.suite) && typeof raw.overlapMs === 'number' ? { type: 'init', suite: raw.suite, overlapMs: raw.overlapMs } : undefined;
    case 'set-key':
      return typeof raw.kid === 'bigint' && raw.key instanceof Uint8Array ? { type: 'set-key', kid: raw.kid, key: raw.key } : undefined;
    case 'remove-key':
      return typeof raw.kid === 'bigint' ? { type: 'remove-key', kid: raw.kid } : undefined;
    case 'sender-key':
      return typeof raw.id === 'number' && typeof raw.kid === 'bigint' ? { type: 'sender-key', id: raw.id, kid: raw.kid } : undefined;
    case 'streams': {
      const options = parseTransformOptions(raw.options);
      return options && raw.readable instanceof ReadableStream && raw.writable instanceof WritableStream
        ? { type: 'streams', options, readable: raw.readable, writable: raw.writable }
        : undefined;
    }
    default:
      return undefined;
  }
}

/** Parses a message the worker sent to the page. */
export function parseFromWorker(raw: unknown): FromWorker | undefined {
  if (!isRecord(raw) || typeof raw.id !== 'number') return undefined;
  if (raw.type === 'decrypt-recovered') return { type: 'decrypt-recovered', id: raw.id };
  if (raw.type === 'decrypt-failed' && typeof raw.reason === 'string') return { type: 'decrypt-failed', id: raw.id, reason: raw.reason };
  return undefined;
}
