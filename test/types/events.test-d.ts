// Compiles only if the public events are typed: each @ts-expect-error line must be an error.
import { Peer } from '../../dist/index.js';
import type { Channel, Message, PeerKitError, PeerState, PeerStats, Signal } from '../../dist/index.js';

const peer = new Peer({ iceServers: [], polite: true, channel: { ordered: false, maxRetransmits: 0 } });

peer.on('data', (data: Message) => data);
peer.on('signal', (signal: Signal) => peer.signal(signal));
peer.on('state', (state: PeerState) => state === 'reconnecting');
peer.on('error', (err: PeerKitError) => err.code === 'BAD_SIGNAL');
peer.on('track', (track: MediaStreamTrack, streams: readonly MediaStream[]) => [track, streams]);
peer.on('channel', (channel: Channel) => channel.on('progress', (p) => p.bytes / p.total));
const stats: Promise<PeerStats> = peer.getStats();
void stats;

// @ts-expect-error: no such event
peer.on('dat', () => undefined);
// @ts-expect-error: 'data' carries one message, not a number
peer.on('data', (data: number) => data);
// @ts-expect-error: 'state' is a string union
peer.on('state', (state: number) => state);
// @ts-expect-error: 'close' has no arguments
peer.emit('close', 1);
// @ts-expect-error: error codes are a closed set
peer.on('error', (err) => err.code === 'OOPS');
// @ts-expect-error: no such option
new Peer({ politeness: true });
// @ts-expect-error: channel events are typed too
peer.channel('x').on('mesage', () => undefined);
// @ts-expect-error: state is read-only
peer.state = 'closed';
