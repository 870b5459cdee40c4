import { isRecord } from '../util.js';

/**
 * The message that hands a member's SFrame sender key to another member (`media: 'sfu'` with a
 * `secret`). It travels as a signal, sealed with the room secret for that one recipient like every
 * signal (see envelope.ts), so neither the signaling server nor the SFU can read it. Kept apart
 * from media-keys.ts (which parses it) so that a Room recognises it without loading the encryption
 * code.
 *
 * `{ v: 1, kind: 'sframe-key', kid, epoch, m }`: `kid` the SFrame key id the sender now encrypts
 * under (a random 32-bit number), `epoch` the sender's key epoch, `m` 32 fresh random bytes as
 * lower-case hex, from which each recipient derives the SFrame base key with the room secret
 * (docs/protocol.md, section 8.6). `r: 1` on the first key a member sends to a member it has just
 * admitted asks for the recipient's key in return: one that removed this member and admitted it
 * again has forgotten the key it was given, while this member may see no change at all.
 */
export interface KeySignal {
  v: 1;
  kind: 'sframe-key';
  kid: number;
  epoch: number;
  m: string;
  r?: 1;
}

/** Whether a signal opened from a member is a key message rather than one for its Peer. */
export const isKeySignal = (signal: unknown): boolean => isRecord(signal) && signal.kind === 'sframe-key';
