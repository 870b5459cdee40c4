/**
 * A Peer's state. `reconnecting` means the connection was up, dropped, and ICE is being
 * restarted on the same RTCPeerConnection (channels stay open through it).
 */
export type PeerState = 'new' | 'connecting' | 'connected' | 'reconnecting' | 'closed';

/** What a Peer's state is derived from. */
export interface StateInputs {
  closing: boolean;
  connection: RTCPeerConnectionState;
  /** Whether the default data channel is open. */
  channelOpen: boolean;
  /** Whether the Peer has been `connected` before. */
  wasConnected: boolean;
  /** Whether the remote has gone quiet though the connection says it is up (see Liveness). */
  silent: boolean;
}

/** Derives the Peer's state; nothing else stores it. */
export function derivePeerState({ closing, connection, channelOpen, wasConnected, silent }: StateInputs): PeerState {
  if (closing || connection === 'closed') return 'closed';
  if (connection === 'connected' && channelOpen && !silent) return 'connected';
  if (wasConnected) return 'reconnecting';
  return connection === 'new' ? 'new' : 'connecting';
}
