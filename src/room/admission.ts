import { PeerKitError } from '../errors.js';
import { refusalError } from './envelope.js';
import type { JoinResult } from '../signaling/transport.js';
import type { Envelopes, OpenedHello, Presence } from './envelope.js';
import type { Member } from './member.js';
import type { RoomOptions } from './options.js';

/** What admission needs from its Room. */
export interface AdmissionContext {
  envelopes: Envelopes;
  admit: RoomOptions['admit'];
  /** Whether `member` is still worth deciding about: present, and the room not leaving. */
  current(member: Member): boolean;
  /** Reports a refusal or a failing `admit` about `member`. */
  error(error: PeerKitError, member: Member): void;
}

/**
 * Decides whether to connect to `member`: its hello must open (with the room secret, if any) and
 * the user's `admit` must say yes; an `admit` that throws refuses. Sets `member.hello`.
 *
 * @param known - the hello already opened when joining, so it is not opened twice
 * @returns true when the member is admitted and still current
 */
export async function decideAdmission(context: AdmissionContext, member: Member, presence: Presence, known: OpenedHello | undefined): Promise<boolean> {
  // A task later, so that `member` events for those present at joining reach listeners added
  // right after `await Room.join()`; their signals wait in the inbox meanwhile.
  await new Promise((resolve) => setTimeout(resolve, 0));
  const opened = known ?? (await context.envelopes.openHello(presence));
  if (!('hello' in opened)) {
    if (context.current(member)) context.error(refusalError(member.id, opened.refusal), member);
    return false;
  }
  member.hello = opened.hello;
  let admitted = true;
  if (context.admit !== undefined) {
    try {
      admitted = (await context.admit(member.id, member.hello)) === true;
    } catch (cause) {
      admitted = false;
      context.error(new PeerKitError('BAD_ARGUMENT', 'options.admit threw; the member is refused', { cause }), member);
    }
  }
  return admitted && context.current(member);
}

/**
 * With a secret, a room where no member present can be read means the secret is wrong.
 * @returns the hellos opened, in the order of `result.members`, so they are not opened twice
 * @throws PeerKitError `UNAUTHORIZED` when members are present and none can be read
 */
export async function checkSecret(envelopes: Envelopes, result: JoinResult, room: string): Promise<OpenedHello[] | undefined> {
  if (!envelopes.sealed || result.members.length === 0) return undefined;
  const opened = await Promise.all(result.members.map((id) => envelopes.openHello(envelopes.read(id, result.hellos?.[id]))));
  if (opened.some((outcome) => 'hello' in outcome)) return opened;
  throw new PeerKitError('UNAUTHORIZED', `none of the ${result.members.length} members of room ${room} could be read with this secret; it is not the room's`);
}
