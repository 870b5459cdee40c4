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

import { MemoryHub, MemoryTransport, Room, WebSocketTransport } from '../../dist/index.js';
import type { RoomEncryption, RoomState, SignalingTransport } from '../../dist/index.js';

const transport: SignalingTransport = new MemoryTransport(new MemoryHub());
void new WebSocketTransport('ws://127.0.0.1:8787', { token: (room: string) => room });
void Room.join('typed', { transport, hello: { name: 'Ada' }, admit: async (id: string, hello: unknown) => id !== '' && hello !== null }).then((room) => {
  room.on('member', (p: Peer, id: string, hello: unknown) => [p, id, hello]);
  room.on('data', (data: Message, from: string) => [data, from]);
  room.on('track', (track: MediaStreamTrack, streams: readonly MediaStream[], from: string) => [track, streams, from]);
  room.on('state', (state: RoomState) => state === 'reconnecting');
  room.on('mode', (mode: 'mesh' | 'sfu') => mode === room.media);
  // @ts-expect-error: the mode is 'mesh' or 'sfu', never 'auto'
  room.on('mode', (mode: 'auto') => mode);
  room.on('rejoin', (p: Peer, id: string, previousId: string) => [p, id, previousId]);
  room.on('rebuild', (p: Peer, id: string) => [p, id]);
  // @ts-expect-error: 'rebuild' gives the new Peer first, then the member id
  room.on('rebuild', (id: string, p: Peer) => [id, p]);
  room.on('error', (err: PeerKitError, from: string | undefined) => [err.code, from]);
  room.on('encryption', (encryption: RoomEncryption) => encryption.media === 'e2ee' && encryption.keyEpoch > 0);
  const { media }: RoomEncryption = room.encryption;
  // @ts-expect-error: only 'e2ee' and 'hop-by-hop'
  void (media === 'sframe');
  // @ts-expect-error: e2ee is a boolean
  void Room.join('typed', { transport, media: 'sfu', secret: 's', e2ee: 'no' });
  // @ts-expect-error: no such Room event
  room.on('members', () => undefined);
  // @ts-expect-error: 'leave' carries the member id
  room.on('leave', (id: number) => id);
  // @ts-expect-error: a Room needs a transport
  void Room.join('typed', { hello: 1 });
  // @ts-expect-error: meshLimit is a number
  void Room.join('typed', { transport, media: 'auto', meshLimit: '4' });
  // @ts-expect-error: selfId is read-only
  room.selfId = 'me';
  transport.on('member-joined', (id: string, hello: unknown) => [id, hello]);
  // @ts-expect-error: transport events are typed too
  transport.on('member-join', () => undefined);
});

import { attach, getUserMedia, listDevices, mute } from '../../dist/index.js';
import type { Attachment, DeviceList, Verification } from '../../dist/index.js';

void getUserMedia({ video: true }).then((stream: MediaStream) => {
  const view: Attachment = attach(document.createElement('video'), stream, { local: true });
  void view.playing;
  mute(stream.getTracks()[0]!);
});
void listDevices().then((devices: DeviceList) => devices.videoinput.map((d) => d.deviceId));
void peer.getVerification().then((v: Verification) => v.sas.length === 6);
// @ts-expect-error: attach needs an element and a stream
attach(new MediaStream());
