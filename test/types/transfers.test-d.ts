// Compiles only if the transfer API is typed: each @ts-expect-error line must be an error.
import { Peer, createTransfers } from '../../dist/index.js';
import type { IncomingTransfer, Transfer, TransferProgress, TransferState } from '../../dist/index.js';

const transfers = createTransfers(new Peer(), { blockSize: 1 << 20 });
const t: Transfer = transfers.sendFile(new File([], 'a'), { meta: { album: 'trip' } });
t.on('progress', ({ bytes, total, bytesPerSecond, etaMs }: TransferProgress) => bytes / total + bytesPerSecond + etaMs);
t.on('state', (state: TransferState) => state === 'paused');
const done: Promise<void> = t.done;
void done;
transfers.on('transfer', async (incoming: IncomingTransfer) => {
  const file: File = await incoming.accept();
  const none: undefined = await incoming.accept({ sink: new WritableStream<Uint8Array>() });
  return [file, none, incoming.resumedFrom, incoming.meta];
});

// @ts-expect-error: no such event
transfers.on('transfers', () => undefined);
// @ts-expect-error: progress carries an object, not a number
t.on('progress', (bytes: number) => bytes);
// @ts-expect-error: a transfer state is a closed set
t.on('state', (state) => state === 'stalled');
// @ts-expect-error: no such option
createTransfers(new Peer(), { blocksize: 1 });
// @ts-expect-error: sendFile takes a Blob
transfers.sendFile('not a file');

// peer.sendFile(), room.sendFile() and their `transfer` events.
declare const room: import('../../dist/index.js').Room;
const peer = new Peer();
const fromPeer: Transfer = peer.sendFile(new Blob(['x']), { name: 'x.txt' });
peer.on('transfer', (incoming: IncomingTransfer) => incoming.reject());
const toOne: Transfer = room.sendFile(new Blob(['x']), 'member-id', { meta: 1 });
const toAll: Map<string, Transfer> = room.sendFile(new Blob(['x']));
room.on('transfer', (incoming: IncomingTransfer, from: string) => [incoming.name, from]);
void [fromPeer, toOne, toAll];
// @ts-expect-error: sendFile takes a Blob
peer.sendFile('not a file');
// @ts-expect-error: to one member, one Transfer, not a Map
const wrong: Map<string, Transfer> = room.sendFile(new Blob(['x']), 'member-id');
// @ts-expect-error: the Room's transfer event names the sender as a string
room.on('transfer', (incoming: IncomingTransfer, from: number) => [incoming, from]);
void wrong;
