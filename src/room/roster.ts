import type { Peer } from '../peer/peer.js';
import type { Member } from './member.js';
import { Strangers } from '../signaling/strangers.js';

/** Signals kept from senders not (yet) known, and how many such senders. */
const MAX_STRANGER_SIGNALS = 64;
const MAX_STRANGERS = 64;

/**
 * Who is in the room as this member sees it: members by their current id, found again by session
 * key when they come back under a new id, and the signals of strangers (ids a transport delivered
 * a message from before their arrival was handled).
 */
export class Roster {
  /** By current member id. A member in its rejoin grace stays under its old id. */
  readonly #members = new Map<string, Member>();
  readonly #strangers = new Strangers(MAX_STRANGERS, MAX_STRANGER_SIGNALS);

  /** The member now known by `id`. */
  get(id: string): Member | undefined {
    return this.#members.get(id);
  }

  /** Whether `member` is the one known by its id, i.e. it has not left or been replaced. */
  holds(member: Member): boolean {
    return this.#members.get(member.id) === member;
  }

  /** The members, in arrival order. A copy: the roster may change while it is walked. */
  all(): Member[] {
    return [...this.#members.values()];
  }

  /** The member with session key `key`, under whatever id it has now. */
  byKey(key: string): Member | undefined {
    return this.all().find((member) => member.key === key);
  }

  add(member: Member): void {
    this.#members.set(member.id, member);
  }

  /**
   * `member` came back as `id`: it is known by that id from now on.
   * @returns its previous id
   */
  rename(member: Member, id: string): string {
    const previousId = member.id;
    this.#members.delete(previousId);
    member.returned(id);
    this.#members.set(id, member);
    return previousId;
  }

  /** Forgets `member`, if it is still the one known by its id. */
  remove(member: Member): void {
    if (this.holds(member)) this.#members.delete(member.id);
  }

  /** The admitted members' Peers, by member id. */
  peers(): Map<string, Peer> {
    const peers = new Map<string, Peer>();
    for (const [id, member] of this.#members) if (member.peer !== undefined) peers.set(id, member.peer);
    return peers;
  }

  /** Keeps a payload from an unknown sender, within bounds, until it arrives. */
  holdStranger(from: string, payload: unknown): void {
    this.#strangers.hold(from, payload);
  }

  /** What `id` sent before it was known, oldest first; forgotten here. */
  takeStranger(id: string): unknown[] {
    return this.#strangers.take(id);
  }

  clear(): void {
    this.#members.clear();
    this.#strangers.clear();
  }
}
