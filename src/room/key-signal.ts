import { isRecord } from '../util.js';

/**
 * The message that hands a member's SFrame sender key to another member (`media: 'sfu'` with a
 * `secret`). It travels as a signal, sealed with the room secret for that one recipient like every
 * signal (see envelope.ts), so neither the signaling server nor the SFU can read it. Kept apart
 * from media-keys.ts so that a Room recognises it without loading the encryption code.
 *
 * `{ v: 1, kind: 'sframe-key', kid, epoch, m }`: `kid` the SFrame key id the sender now encrypts
 * under (a random 32-bit number), `epoch` the sender's key epoch, `m` 32 fresh random bytes as
 * lower-case hex, from which each recipient derives the SFrame base key with the room secret
 * (docs/protocol.md, "End-to-end encrypted media").
 */
export interface KeySignal {
  v: 1;
  kind: 'sframe-key';
  kid: number;
  epoch: number;
  m: string;
}

/** Whether a signal opened from a member is a key message rather than one for its Peer. */
export const isKeySignal = (signal: unknown): boolean => isRecord(signal) && signal.kind === 'sframe-key';

const count = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;

/** Reads a key message; `undefined` when it is malformed. */
export function parseKeySignal(raw: unknown): KeySignal | undefined {
  if (!isRecord(raw) || raw.v !== 1 || raw.kind !== 'sframe-key') return undefined;
  const { kid, epoch, m } = raw;
  if (!count(kid) || kid >= 2 ** 32 || !count(epoch) || typeof m !== 'string' || !/^[0-9a-f]{64}$/.test(m)) return undefined;
  return { v: 1, kind: 'sframe-key', kid, epoch, m };
}
