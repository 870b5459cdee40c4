import type { Emitter } from '../emitter.js';
import { PeerKitError } from '../errors.js';
import type { Peer } from '../peer/peer.js';
import { Transfer, checkFile } from '../transfer/transfer.js';
import type { SendFileOptions } from '../transfer/transfer.js';
import type { Transfers } from '../transfer/transfers.js';
import type { RoomEvents } from './events.js';
import type { Member } from './member.js';

/**
 * The file transfers of a Room: one Transfers per member, made on first use (the transfer code
 * loads then), attached to each Peer the Room makes for that member. A rebuilt Peer gets the same
 * Transfers, so transfers under way resume on it from the last verified block; `peer.sendFile()`
 * on a member's Peer goes through it too.
 */
export class RoomFiles {
  private readonly transfers = new Map<Member, Promise<Transfers>>();

  constructor(
    private readonly events: Emitter<RoomEvents>,
    private readonly members: () => Iterable<Member>,
  ) {}

  /** A new Peer of a member, its first or a rebuilt one: transfers go through it from now on. */
  wire(peer: Peer): void {
    for (const member of this.members()) {
      if (member.peer !== peer) continue;
      peer.files.provide = () => this.of(member, peer);
      void this.transfers.get(member)?.then((transfers) => transfers.attach(peer));
    }
  }

  /**
   * Sends `file` to member `to`, or to every admitted member, each on a Transfer of its own.
   * Each waits for its member's Peer while the Room rebuilds it.
   *
   * @returns the Transfer to each member, by id
   */
  send(file: Blob, to: string | undefined, options: SendFileOptions | undefined): Map<string, Transfer> {
    // Checked here too, so that a bad argument is refused even when no one is there.
    checkFile(file);
    const sent = new Map<string, Transfer>();
    for (const member of this.members()) {
      const peer = member.peer;
      if ((to !== undefined && to !== member.id) || peer === undefined || member.refused) continue;
      const transfer = new Transfer(file, options);
      // Through the member's Transfers (see wire()), even while its Peer is being rebuilt.
      peer.files.send(transfer);
      sent.set(member.id, transfer);
    }
    return sent;
  }

  /** `member` is gone, or this Room left: what was being sent to it fails with `CLOSED`; partial files it sent here stay resumable. */
  forget(member: Member): void {
    const transfers = this.transfers.get(member);
    this.transfers.delete(member);
    void transfers?.then((t) => t.close(new PeerKitError('CLOSED', `Member ${member.id} is no longer in the room, or this member left it.`)));
  }

  private of(member: Member, peer: Peer): Promise<Transfers> {
    let made = this.transfers.get(member);
    if (made === undefined) {
      made = import('../transfer/transfers.js').then(({ createTransfers }) => {
        const transfers = createTransfers(member.peer ?? peer);
        transfers.on('transfer', (incoming) => this.events.emit('transfer', incoming, member.id));
        transfers.on('error', (error) => this.events.emit('error', error, member.id));
        return transfers;
      });
      this.transfers.set(member, made);
    }
    return made;
  }
}
