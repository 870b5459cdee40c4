export { PeerKitError } from './errors.js';
export type { PeerKitErrorCode } from './errors.js';
export { Peer } from './peer/peer.js';
export type { NetworkEvents, PeerEvents, PeerOptions, WebRtcImplementation } from './peer/peer.js';
export type { PeerState } from './peer/state.js';
export type { CandidateSummary, PeerStats } from './peer/stats.js';
export type { Verification } from './peer/verification.js';
export { Channel } from './data/channel.js';
export type { ChannelEvents, ChannelOptions, ChannelState, Progress } from './data/channel.js';
export type { JsonValue, Message, Sendable } from './data/framing.js';
export { SIGNAL_VERSION, parseSignal } from './signaling/signal.js';
export type { ByeSignal, CandidateSignal, DescriptionSignal, HelloSignal, Signal } from './signaling/signal.js';
export type { JoinResult, SignalingTransport, TransportEvents, TransportState } from './signaling/transport.js';
export type { JoinOptions } from './signaling/transport.js';
export { WebSocketTransport } from './signaling/transports/websocket.js';
export type { WebSocketConstructorLike, WebSocketLike, WebSocketTransportOptions } from './signaling/transports/websocket.js';
export { BroadcastChannelTransport } from './signaling/transports/broadcast.js';
export type { BroadcastChannelTransportOptions } from './signaling/transports/broadcast.js';
export { MemoryHub, MemoryTransport } from './signaling/transports/memory.js';
export type { MemoryHubOptions } from './signaling/transports/memory.js';
export { Transfers, createTransfers } from './transfer/transfers.js';
export type { TransfersEvents, TransfersOptions } from './transfer/transfers.js';
export { Transfer } from './transfer/transfer.js';
export type { SendFileOptions, TransferEvents, TransferProgress, TransferState } from './transfer/transfer.js';
export { IncomingTransfer } from './transfer/incoming.js';
export type { AcceptOptions } from './transfer/incoming.js';
export { Room } from './room/room.js';
export type { RoomEncryption, RoomEvents, RoomMediaMode, RoomMediaState, RoomOptions, RoomState } from './room/room.js';
export {
  attach,
  getDisplayMedia,
  getUserMedia,
  isMuted,
  listDevices,
  mediaError,
  mute,
  onDeviceChange,
  switchDevice,
  unmute,
} from './media/index.js';
export type {
  AttachOptions,
  Attachment,
  CaptureSource,
  DeviceChangeOptions,
  DeviceList,
  MediaOptions,
  PlayOutcome,
  SwitchDeviceOptions,
  TrackReplacer,
} from './media/index.js';
export { play, publish, WhepSession, WhipSession } from './whip/index.js';
export type { FetchLike, PlayOptions, PublishOptions, MediaSessionOptions, MediaSessionState, WhepSessionEvents, WhipSessionEvents } from './whip/index.js';
