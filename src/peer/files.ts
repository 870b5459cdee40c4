import type { Channel } from '../data/channel.js';
import type { Message } from '../data/framing.js';
import { PeerKitError } from '../errors.js';
import { TRANSFER_LABEL } from '../transfer/transfer.js';
import type { Transfer } from '../transfer/transfer.js';
import type { Transfers } from '../transfer/transfers.js';
import type { Peer } from './peer.js';

/** The error of a transfer when its code could not be loaded (offline, a stale deployment). */
const unloaded = (cause: unknown): PeerKitError => new PeerKitError('UNSUPPORTED', 'The transfer code did not load.', { cause });

/**
 * The file transfers of one Peer. Their code (src/transfer/) is loaded with a dynamic import on
 * first use, the first `sendFile()` or the remote opening its transfer channel, so a Peer that
 * never transfers a file ships none of it. One Transfers is attached to a Peer at a time: the
 * Peer's own, or one from `createTransfers()` or a Room, which moves it to the Peers it rebuilds.
 */
export class PeerFiles {
  /** The Transfers attached to the Peer now; each one sets and clears this itself. */
  attached: Transfers | undefined;
  /** Where a Transfers comes from when none is attached; a Room gives the member's own. */
  provide: (() => Promise<Transfers>) | undefined;
  private loading: Promise<Transfers> | undefined;

  constructor(private readonly peer: Peer) {}

  /** Sends a Transfer made before the code loaded. */
  send(transfer: Transfer): void {
    this.use((transfers) => transfers.send(transfer), (err) => transfer.end('failed', err));
  }

  /** A channel the remote opened: true when it is the transfer channel, now the Transfers'. */
  take(channel: Channel): boolean {
    if (channel.label !== TRANSFER_LABEL) return false;
    // What arrives while the code loads is kept for it, in order.
    const held: Message[] = [];
    const hold = (message: Message): number => held.push(message);
    channel.on('message', hold);
    this.use(
      (transfers) => {
        channel.off('message', hold);
        transfers.adopt(channel, held);
      },
      (err) => this.peer.emit('error', err),
    );
    return true;
  }

  /** Runs `then` with the attached Transfers, loaded and made if need be. */
  private use(then: (transfers: Transfers) => void, fail: (err: PeerKitError) => void): void {
    if (this.attached) return then(this.attached);
    const peer = this.peer;
    this.loading ??=
      this.provide?.() ??
      import('../transfer/transfers.js').then(({ ownTransfers }) => this.attached ?? ownTransfers(peer));
    this.loading.then(then, (cause: unknown) => fail(unloaded(cause)));
  }
}
