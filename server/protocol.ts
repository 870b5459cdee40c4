/**
 * The peerkit signaling wire protocol, version 1: the frames, their parser and their encoder.
 * docs/protocol.md is the normative text; this file must agree with it.
 */

/** The only protocol version this server speaks. */
export const PROTOCOL_VERSION = 1;

/** Longest room name accepted, in UTF-16 code units. */
export const MAX_ROOM_LENGTH = 256;

/** Stable codes carried by `error` frames. */
export type ErrorCode =
  | 'BAD_FRAME'
  | 'BAD_VERSION'
  | 'FRAME_TOO_LARGE'
  | 'UNKNOWN_TYPE'
  | 'NOT_JOINED'
  | 'ALREADY_JOINED'
  | 'NO_SUCH_MEMBER'
  | 'ROOM_FULL'
  | 'RATE_LIMITED'
  | 'UNAUTHORIZED'
  | 'SHUTTING_DOWN'
  | 'INTERNAL';

/** A frame a client may send, after validation. */
export type ClientFrame =
  | { type: 'join'; room: string; token?: string; hello?: unknown }
  | { type: 'signal'; to: string; payload: unknown }
  | { type: 'leave' }
  | { type: 'ping' };

/** An ICE server entry, the shape of WebRTC's `RTCIceServer`. */
export interface IceServer {
  urls: string | string[];
  username?: string;
  credential?: string;
}

/** A frame this server sends. `v` is added by {@link encodeFrame}. */
export type ServerFrame =
  | {
      type: 'joined';
      room: string;
      id: string;
      members: string[];
      iceServers: IceServer[];
      hellos?: Record<string, unknown>;
    }
  | { type: 'member-joined'; id: string; hello?: unknown }
  | { type: 'member-left'; id: string }
  | { type: 'signal'; from: string; payload: unknown }
  | { type: 'pong' }
  | { type: 'error'; code: ErrorCode; message: string; re?: string; to?: string };

/** A refusal: becomes an `error` frame sent back to the client. */
export class ProtocolError {
  constructor(
    readonly code: ErrorCode,
    readonly message: string,
    /** The `type` of the client frame this answers, when it is known. */
    readonly re?: string,
  ) {}
}

/** Serialises a server frame with the protocol version first. */
export function encodeFrame(frame: ServerFrame): string {
  return JSON.stringify({ v: PROTOCOL_VERSION, ...frame });
}

/** Builds the `error` frame for a refusal. */
export function errorFrame(error: ProtocolError, to?: string): ServerFrame {
  const frame: ServerFrame = { type: 'error', code: error.code, message: error.message };
  if (error.re !== undefined) frame.re = error.re;
  if (to !== undefined) frame.to = to;
  return frame;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Parses one text frame from a client. Unknown extra fields are ignored so that later minor
 * additions stay compatible; a client-supplied `from` is one of them and never reaches a peer.
 */
export function parseClientFrame(text: string): ClientFrame | ProtocolError {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return new ProtocolError('BAD_FRAME', 'frame is not valid JSON');
  }
  if (!isRecord(raw)) return new ProtocolError('BAD_FRAME', 'frame must be a JSON object');
  const type = typeof raw.type === 'string' ? raw.type : undefined;
  if (raw.v !== PROTOCOL_VERSION) {
    return new ProtocolError('BAD_VERSION', `unsupported protocol version; this server speaks v${PROTOCOL_VERSION}`, type);
  }
  if (type === undefined) return new ProtocolError('BAD_FRAME', 'frame needs a string "type"');
  switch (type) {
    case 'join':
      return parseJoin(raw);
    case 'signal':
      return parseSignal(raw);
    case 'leave':
      return { type: 'leave' };
    case 'ping':
      return { type: 'ping' };
    default:
      return new ProtocolError('UNKNOWN_TYPE', `unknown frame type "${type.slice(0, 32)}"`, type.slice(0, 32));
  }
}

function parseJoin(raw: Record<string, unknown>): ClientFrame | ProtocolError {
  const { room, token } = raw;
  if (typeof room !== 'string' || room.length === 0 || room.length > MAX_ROOM_LENGTH) {
    return new ProtocolError('BAD_FRAME', `"room" must be a string of 1 to ${MAX_ROOM_LENGTH} characters`, 'join');
  }
  if (token !== undefined && typeof token !== 'string') {
    return new ProtocolError('BAD_FRAME', '"token" must be a string', 'join');
  }
  const frame: ClientFrame = { type: 'join', room };
  if (token !== undefined) frame.token = token;
  if (raw.hello !== undefined) frame.hello = raw.hello;
  return frame;
}

function parseSignal(raw: Record<string, unknown>): ClientFrame | ProtocolError {
  if (typeof raw.to !== 'string' || raw.to.length === 0) {
    return new ProtocolError('BAD_FRAME', '"to" must be a member id', 'signal');
  }
  if (!('payload' in raw)) return new ProtocolError('BAD_FRAME', '"payload" is required', 'signal');
  return { type: 'signal', to: raw.to, payload: raw.payload };
}
