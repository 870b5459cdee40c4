import type { EventEmitter } from 'eventemitter3';
import type { PeerKitError } from '../errors.js';

/** Where a transport is in its life. */
export type TransportState = 'idle' | 'connecting' | 'joined' | 'reconnecting' | 'closed';

/** What a transport learns when it (re)joins a room. */
export interface JoinResult {
  /** This member's id, assigned by the transport (by the server, for WebSocketTransport). */
  selfId: string;
  /** The other members present at the moment of joining. */
  members: string[];
  /** ICE servers handed out by the signaling server, if it has any to give. */
  iceServers?: RTCIceServer[];
  /** The `hello` each present member joined with, by id, for those that gave one. */
  hellos?: Record<string, unknown>;
  /**
   * Where this member publishes and plays media through the server's SFU, as absolute URLs; only
   * from a server that has one (peerkit-signal `--janus`). `Room` with `media: 'sfu'` needs it.
   */
  sfu?: {
    /** WHIP endpoint where this member publishes its own feed. */
    whip: string;
    /** WHEP endpoint prefix: a member's id, URL-encoded, appended to it plays that member's feed. */
    whep: string;
    /** Bearer token for both; absent when the server checks no tokens. */
    token?: string;
  };
}

/** What a member presents when joining. */
export interface JoinOptions {
  /**
   * Any JSON value the other members receive with this member's arrival, before any signal
   * (a display name, a public key). Transports carry it and never look inside.
   */
  hello?: unknown;
}

/** Events every transport emits. */
export interface TransportEvents {
  /** The state changed. */
  state: [state: TransportState];
  /**
   * Joined the room, first time or again after reconnecting; `members` is the full list then,
   * so a listener can reconcile who is still there.
   */
  joined: [result: JoinResult];
  /** Another member arrived, with the `hello` it joined with, if any. */
  'member-joined': [id: string, hello: unknown];
  /** Another member left or vanished. */
  'member-left': [id: string];
  /** A payload another member sent to this one. Transports never look inside it. */
  message: [from: string, payload: unknown];
  /** A failure after `join()` resolved (a refused frame, a lost server). */
  error: [error: PeerKitError];
}

/**
 * Carries opaque payloads between the members of one room. Implement it in one file to bring
 * your own signaling (MQTT, Firebase, Matrix...): extend eventemitter3's
 * `EventEmitter<TransportEvents>` and fill in the four members below. Peer and Room never
 * depend on anything else.
 */
export interface SignalingTransport extends EventEmitter<TransportEvents> {
  /** The current state. */
  readonly state: TransportState;
  /**
   * Joins `room`; resolves once this member has an id. Call it once per transport. A transport
   * emits `member-joined` for a member before any `message` from it.
   */
  join(room: string, options?: JoinOptions): Promise<JoinResult>;
  /**
   * Sends `payload` (any JSON value) to member `to`. While reconnecting, payloads are queued
   * (bounded); a payload that cannot be carried surfaces as an `error` event. A payload for a
   * member no longer in the room is dropped without an error: it may have left while the payload
   * was under way.
   */
  send(to: string, payload: unknown): void;
  /** Leaves the room and releases everything; idempotent. */
  close(): Promise<void>;
}
