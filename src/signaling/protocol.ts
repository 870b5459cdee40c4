/**
 * The peerkit signaling protocol, version 1: the frames a client and the signaling server
 * (`peerkit-signal`) exchange over one WebSocket, their parsers and their encoder. Both sides
 * import this module, `WebSocketTransport` in the browser and the server through
 * `peerkit/protocol`, so the format is written once. README, "Signaling protocol", is the
 * normative text; this module must agree with it.
 *
 * Importable on its own for a compatible client or server: it needs neither a DOM nor Node.
 * @packageDocumentation
 */
import { isRecord } from '../util.js';

/** The only protocol version spoken: every frame carries it as `v`. */
export const PROTOCOL_VERSION = 1;

/** Longest room name accepted, in UTF-16 code units. */
export const MAX_ROOM_LENGTH = 256;

/**
 * Stable codes carried by `error` frames. A client treats a code it does not know as a generic
 * failure: a later server may add codes.
 */
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
  | 'DRAINING'
  | 'INTERNAL';

/** An ICE server entry, the shape of WebRTC's `RTCIceServer`, written out so Node needs no DOM types. */
export interface IceServer {
  /** One `stun:`/`turn:`/`turns:` URL, or several for the same server. */
  urls: string | string[];
  /** TURN username; absent for STUN. */
  username?: string;
  /** TURN password for `username`; absent for STUN. */
  credential?: string;
}

/**
 * The SFU endpoints of a member, in `joined` from a server started with `--janus`. URLs may be
 * relative to the server's HTTP origin (the WebSocket URL with `ws`/`wss` read as `http`/`https`).
 */
export interface SfuInfo {
  /** WHIP endpoint where this member publishes its own feed. */
  whip: string;
  /** WHEP endpoint prefix: a member's id appended to it plays that member's feed. */
  whep: string;
  /** Bearer token for both, when the server checks tokens. */
  token?: string;
}

/** A frame a client sends. `v` is added by {@link encodeFrame}. */
export type ClientFrame =
  | {
      /** Enter a room; the server answers `joined` or an `error` with `re: 'join'`. */
      type: 'join';
      /** Room name, 1 to {@link MAX_ROOM_LENGTH} characters. */
      room: string;
      /** Signed room token; only needed when the server checks tokens. */
      token?: string;
      /** Any JSON value the server shows the other members (in `hellos` and `member-joined`); absent when none. */
      hello?: unknown;
    }
  | {
      /** Relay `payload` to another member of the same room; only a failure is answered (`error`). */
      type: 'signal';
      /** Id of the member to relay to. */
      to: string;
      /** Any JSON value (`null` allowed); the server passes it on untouched. */
      payload: unknown;
    }
  | {
      /** Leave the room; the others get `member-left`, and the same connection may `join` again. */
      type: 'leave';
    }
  | {
      /** Heartbeat; the server answers `pong`. */
      type: 'ping';
    };

/** A frame the server sends. `v` is added by {@link encodeFrame}. */
export type ServerFrame =
  | {
      /** The answer to `join`: this member is in the room. */
      type: 'joined';
      /** The room joined. */
      room: string;
      /** This member's id, assigned by the server. */
      id: string;
      /** Ids of the other members present, in joining order. */
      members: string[];
      /** ICE servers to use; possibly empty. */
      iceServers: IceServer[];
      /** Member id to that member's `hello`; absent when no member present gave one. */
      hellos?: Record<string, unknown>;
      /** Where this member publishes and plays media through the server's SFU; only from a server that has one. */
      sfu?: SfuInfo;
    }
  | {
      /** Another member entered the room. */
      type: 'member-joined';
      /** The new member's id. */
      id: string;
      /** The joiner's `hello`; absent when it gave none. */
      hello?: unknown;
    }
  | {
      /** A member left the room or was disconnected. */
      type: 'member-left';
      /** The id of the member that left. */
      id: string;
    }
  | {
      /** A `signal` relayed from another member. */
      type: 'signal';
      /** The sender's id, set by the server (never taken from the client). */
      from: string;
      /** The sender's `payload`, as sent. */
      payload: unknown;
    }
  | {
      /** The answer to `ping`. */
      type: 'pong';
    }
  | {
      /** A refused frame or a server-side failure. */
      type: 'error';
      /** One of {@link ErrorCode} from this server; a string, since a later server may send others. */
      code: string;
      /** For humans; not stable. */
      message: string;
      /** The `type` of the client frame this answers; absent when it is not known. */
      re?: string;
      /** With `NO_SUCH_MEMBER`: the `to` of the refused `signal`. */
      to?: string;
    };

/**
 * Why a frame was refused. The server sends it back as an `error` frame ({@link errorFrame});
 * a client reads `BAD_FRAME` and `BAD_VERSION` from {@link parseServerFrame} as a broken server
 * and `UNKNOWN_TYPE` as a frame from a newer one.
 */
export class ProtocolError {
  constructor(
    /** What was wrong, sent as the `error` frame's `code`. */
    readonly code: ErrorCode,
    /** For humans; not stable. */
    readonly message: string,
    /** The `type` of the frame this answers, when it is known. */
    readonly re?: string,
  ) {}
}

/** Serialises a frame with the protocol version first, so a reader can check it before the rest. */
export function encodeFrame(frame: ClientFrame | ServerFrame): string {
  return JSON.stringify({ v: PROTOCOL_VERSION, ...frame });
}

/** The `error` frame that carries a refusal; `to` names the recipient a `signal` could not reach. */
export function errorFrame(error: ProtocolError, to?: string): ServerFrame {
  const frame: ServerFrame = { type: 'error', code: error.code, message: error.message };
  if (error.re !== undefined) frame.re = error.re;
  if (to !== undefined) frame.to = to;
  return frame;
}

/** Reads the JSON object of a text frame for `reader`: its fields, or why it is no frame of this version. */
function readFrame(text: unknown, reader: 'server' | 'client'): { fields: Record<string, unknown>; type: string } | ProtocolError {
  let raw: unknown;
  try {
    raw = typeof text === 'string' ? JSON.parse(text) : undefined;
  } catch {
    return new ProtocolError('BAD_FRAME', 'frame is not valid JSON');
  }
  if (raw === undefined) return new ProtocolError('BAD_FRAME', 'frames must be text');
  if (!isRecord(raw)) return new ProtocolError('BAD_FRAME', 'frame must be a JSON object');
  const type = typeof raw.type === 'string' ? raw.type : undefined;
  if (raw.v !== PROTOCOL_VERSION) {
    return new ProtocolError('BAD_VERSION', `unsupported protocol version; this ${reader} speaks v${PROTOCOL_VERSION}`, type);
  }
  if (type === undefined) return new ProtocolError('BAD_FRAME', 'frame needs a string "type"');
  return { fields: raw, type };
}

const unknownType = (type: string): ProtocolError => new ProtocolError('UNKNOWN_TYPE', `unknown frame type "${type.slice(0, 32)}"`, type.slice(0, 32));

/**
 * Parses one text frame from a client. Unknown extra fields are ignored so that later minor
 * additions stay compatible; a client-supplied `from` is one of them and never reaches a peer.
 */
export function parseClientFrame(text: string): ClientFrame | ProtocolError {
  const read = readFrame(text, 'server');
  if (read instanceof ProtocolError) return read;
  const { fields, type } = read;
  switch (type) {
    case 'join':
      return parseJoin(fields);
    case 'signal':
      if (typeof fields.to !== 'string' || fields.to.length === 0) {
        return new ProtocolError('BAD_FRAME', '"to" must be a member id', 'signal');
      }
      if (!('payload' in fields)) return new ProtocolError('BAD_FRAME', '"payload" is required', 'signal');
      return { type, to: fields.to, payload: fields.payload };
    case 'leave':
    case 'ping':
      return { type };
    default:
      return unknownType(type);
  }
}

function parseJoin(fields: Record<string, unknown>): ClientFrame | ProtocolError {
  const { room, token } = fields;
  if (typeof room !== 'string' || room.length === 0 || room.length > MAX_ROOM_LENGTH) {
    return new ProtocolError('BAD_FRAME', `"room" must be a string of 1 to ${MAX_ROOM_LENGTH} characters`, 'join');
  }
  if (token !== undefined && typeof token !== 'string') {
    return new ProtocolError('BAD_FRAME', '"token" must be a string', 'join');
  }
  const frame: ClientFrame = { type: 'join', room };
  if (token !== undefined) frame.token = token;
  if (fields.hello !== undefined) frame.hello = fields.hello;
  return frame;
}

const isString = (value: unknown): value is string => typeof value === 'string';
const isStringArray = (value: unknown): value is string[] => Array.isArray(value) && value.every(isString);
const isSfuInfo = (value: unknown): value is SfuInfo =>
  isRecord(value) && isString(value.whip) && isString(value.whep) && (value.token === undefined || isString(value.token));
const isIceServer = (value: unknown): value is IceServer => isRecord(value) && (isString(value.urls) || isStringArray(value.urls));

/**
 * Parses one frame from the server: the frame, or a {@link ProtocolError} that is `UNKNOWN_TYPE`
 * for a well-formed frame of a type this version does not know (a client ignores it) and
 * `BAD_FRAME` or `BAD_VERSION` for anything else. A `joined` without `iceServers` reads as an
 * empty list.
 */
export function parseServerFrame(text: unknown): ServerFrame | ProtocolError {
  const read = readFrame(text, 'client');
  if (read instanceof ProtocolError) return read;
  const { fields, type } = read;
  const { id, from, code, message, re, to } = fields;
  const bad = (needs: string): ProtocolError => new ProtocolError('BAD_FRAME', `a "${type}" frame needs ${needs}`, type);
  switch (type) {
    case 'joined': {
      const { room, members, iceServers = [], hellos, sfu } = fields;
      if (!isString(room) || !isString(id) || !isStringArray(members)) return bad('string room, id and members');
      if (!Array.isArray(iceServers) || !iceServers.every(isIceServer)) return bad('iceServers as a list of ICE servers');
      if (hellos !== undefined && !isRecord(hellos)) return bad('hellos as an object');
      if (sfu !== undefined && !isSfuInfo(sfu)) return bad('sfu as { whip, whep, token? } strings');
      const frame: ServerFrame = { type, room, id, members, iceServers };
      if (hellos !== undefined) frame.hellos = hellos;
      if (sfu !== undefined) frame.sfu = sfu;
      return frame;
    }
    case 'member-joined': {
      if (!isString(id)) return bad('a string id');
      const frame: ServerFrame = { type, id };
      if (fields.hello !== undefined) frame.hello = fields.hello;
      return frame;
    }
    case 'member-left':
      return isString(id) ? { type, id } : bad('a string id');
    case 'signal':
      return isString(from) && 'payload' in fields ? { type, from, payload: fields.payload } : bad('a string from and a payload');
    case 'pong':
      return { type };
    case 'error': {
      if (!isString(code) || !isString(message)) return bad('a string code and message');
      const frame: ServerFrame = { type, code, message };
      if (isString(re)) frame.re = re;
      if (isString(to)) frame.to = to;
      return frame;
    }
    default:
      return unknownType(type);
  }
}
