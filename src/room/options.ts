import { PeerKitError } from '../errors.js';
import type { PeerOptions } from '../peer/peer.js';
import type { SignalingTransport } from '../signaling/transport.js';

/** Options of {@link Room.join}; Peer options apply to every member's Peer. */
export interface RoomOptions extends Omit<PeerOptions, 'polite' | 'iceServers'> {
  /** Carries the signals: WebSocketTransport, BroadcastChannelTransport, MemoryTransport or your own. */
  transport: SignalingTransport;
  /**
   * STUN and TURN servers. When absent, the list the signaling server hands out on joining is
   * used, else none.
   * @default undefined
   */
  iceServers?: RTCIceServer[];
  /** Local media sent to every member, present and future. More can be added with `addStream`. @default undefined */
  stream?: MediaStream;
  /**
   * Any JSON value the others receive before connecting to this member (a display name, say):
   * the second argument of their `member` event and of their `admit`.
   * @default undefined
   */
  hello?: unknown;
  /**
   * Decides, before any connection is made, whether to connect to a member; a member refused
   * here is never connected and its signals are dropped. An `admit` that throws refuses.
   * @default every member is admitted
   */
  admit?: (id: string, hello: unknown) => boolean | Promise<boolean>;
  /**
   * A secret shared by the members, out of band: every signal and hello is then encrypted end to
   * end (AES-256-GCM, key from PBKDF2 over the secret and the room name), so the signaling server
   * and the transport see only ciphertext and routing fields. A member with another secret is
   * never connected; `join()` rejects with `UNAUTHORIZED` when no member present can be read.
   * @default undefined
   */
  secret?: string;
  /**
   * PBKDF2 iterations for the room key; every member must use the same number.
   * @default 600000
   */
  kdfIterations?: number;
  /**
   * How long a member that dropped off the signaling server while its Peer is still connected
   * is given to come back (it gets a new id then, and keeps its Peer), in ms. Data keeps flowing
   * meanwhile; after it, the Peer is closed.
   * @default 15000
   */
  rejoinGraceMs?: number;
  /**
   * Where media goes. `mesh`: every member sends its stream to every other member. `sfu`: each
   * member publishes its stream once to the signaling server's SFU (WHIP) and plays the others'
   * feeds from it (WHEP): one upload per member whatever the room's size, but the SFU sees the
   * media. Data (`room.send`) stays end to end either way. `sfu` needs a transport that gives SFU
   * endpoints (`WebSocketTransport` to `peerkit-signal --janus`), else `join()` fails with
   * `UNSUPPORTED`; `stream` then holds at most one audio and one video track. `auto`: a mesh while
   * the room has at most {@link meshLimit} members, the SFU beyond, and back to the mesh when it
   * shrinks to the limit; the media moves without anyone re-joining (see {@link Room.media} and
   * the `mode` event). Every member of the room must use the same `media` and `meshLimit`; with
   * a transport that gives no SFU endpoints, `auto` stays a mesh.
   * @default 'mesh'
   */
  media?: 'mesh' | 'sfu' | 'auto';
  /**
   * With a `secret`, and `media: 'sfu'` (or `'auto'` while on the SFU), whether media through the
   * SFU is end-to-end encrypted (SFrame, RFC 9605, in a worker on encoded transforms), so the SFU
   * forwards frames it cannot read. Where the engine has no encoded transforms, `join()` then fails with `UNSUPPORTED`;
   * `false` accepts media the SFU can read instead (`room.encryption.media` is `'hop-by-hop'`).
   * No effect in a mesh, or without a secret.
   * @default true
   */
  e2ee?: boolean;
  /**
   * With `media: 'auto'`: the most members (this one included, as presence counts them) whose
   * media goes member to member; one more, and it moves to the SFU. Each member uploads its stream
   * once per other member in a mesh, so past 4 or so most laptops give out.
   * @default 4
   */
  meshLimit?: number;
}

/** {@link RoomOptions.meshLimit}'s default. */
export const DEFAULT_MESH_LIMIT = 4;

/** {@link RoomOptions.rejoinGraceMs}'s default. */
export const DEFAULT_REJOIN_GRACE_MS = 15_000;

/**
 * Checks what {@link Room.join} was given, before anything is started.
 * @throws PeerKitError `BAD_ARGUMENT` naming the first thing wrong
 */
export function checkRoomOptions(name: unknown, options: RoomOptions | undefined): void {
  if (typeof name !== 'string' || name.length === 0) throw new PeerKitError('BAD_ARGUMENT', 'a room needs a non-empty name');
  const transport = options?.transport;
  if (typeof transport?.join !== 'function' || typeof transport.send !== 'function' || typeof transport.on !== 'function') {
    throw new PeerKitError('BAD_ARGUMENT', 'options.transport must be a SignalingTransport');
  }
  if (options?.admit !== undefined && typeof options.admit !== 'function') {
    throw new PeerKitError('BAD_ARGUMENT', 'options.admit must be a function');
  }
  if (options?.media !== undefined && options.media !== 'mesh' && options.media !== 'sfu' && options.media !== 'auto') {
    throw new PeerKitError('BAD_ARGUMENT', `options.media must be 'mesh', 'sfu' or 'auto', got ${String(options.media)}`);
  }
  const limit = options?.meshLimit;
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) {
    throw new PeerKitError('BAD_ARGUMENT', `options.meshLimit must be a positive integer, got ${String(limit)}`);
  }
  if (options?.e2ee !== undefined && typeof options.e2ee !== 'boolean') {
    throw new PeerKitError('BAD_ARGUMENT', 'options.e2ee must be a boolean');
  }
  if (options?.secret !== undefined && (typeof options.secret !== 'string' || options.secret.length === 0)) {
    throw new PeerKitError('BAD_ARGUMENT', 'options.secret must be a non-empty string');
  }
}

/**
 * The one place Room options become Peer options: everything a Peer understands passes through,
 * the Room's own options stay behind, and the Room decides the ICE servers and the polite side.
 */
export function peerOptionsOf(options: RoomOptions, iceServers: RTCIceServer[], polite: boolean): PeerOptions {
  const {
    transport: _transport,
    stream: _stream,
    hello: _hello,
    admit: _admit,
    rejoinGraceMs: _grace,
    iceServers: _iceServers,
    secret: _secret,
    kdfIterations: _iterations,
    media: _media,
    e2ee: _e2ee,
    meshLimit: _meshLimit,
    ...peerOptions
  } = options;
  return { ...peerOptions, iceServers, polite };
}
