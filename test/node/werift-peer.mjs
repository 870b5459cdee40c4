// A peer that speaks docs/protocol.md, written from that document alone on werift (a WebRTC stack
// in TypeScript, with no libwebrtc inside), so that test/node/werift-interop.test.mjs can show
// that a stranger to peerkit's code interoperates with it. Section numbers below are the
// document's. Each part is only as large as the test needs, and says what it leaves out.
import { createCipheriv, createDecipheriv, createHash, pbkdf2, randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { EventEmitter, once } from 'node:events';
import { promisify } from 'node:util';
import { RTCPeerConnection } from 'werift';
import { WebSocket } from 'ws';

const isRecord = (value) => typeof value === 'object' && value !== null && !Array.isArray(value);

// ---- Section 6: frames --------------------------------------------------------------------

export const HEADER_BYTES = 13;

/** Frame kinds, section 6.1. */
export const Kind = Object.freeze({ STRING: 0, ARRAY_BUFFER: 1, TYPED_ARRAY: 2, JSON: 3, BLOB: 4, CLOSE: 5, PING: 6 });

/** Builds one frame: the 13-byte header, then the chunk. */
export function encodeFrame(kind, id, offset, total, chunk = Buffer.alloc(0)) {
  const frame = Buffer.alloc(HEADER_BYTES + chunk.length);
  frame.writeUInt8(kind, 0);
  frame.writeUInt32BE(id, 1);
  frame.writeUInt32BE(offset, 5);
  frame.writeUInt32BE(total, 9);
  Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length).copy(frame, HEADER_BYTES);
  return frame;
}

/** Reads one frame's header; undefined for a frame shorter than the header. */
export function decodeFrame(frame) {
  if (frame.length < HEADER_BYTES) return undefined;
  return {
    kind: frame.readUInt8(0),
    id: frame.readUInt32BE(1),
    offset: frame.readUInt32BE(5),
    total: frame.readUInt32BE(9),
    chunk: frame.subarray(HEADER_BYTES),
  };
}

/** The frame size for the remote's `max-message-size` (section 6.2): 0 means no limit. */
export function frameBytes(maxMessageSize) {
  const max = maxMessageSize === 0 ? Infinity : maxMessageSize;
  return Math.max(16384, Math.min(max, 262144));
}

/** The remote's `a=max-message-size` (RFC 8841), 65536 when the SDP has none. */
export function maxMessageSizeOf(sdp) {
  const match = /^a=max-message-size:(\d+)\r?$/m.exec(sdp ?? '');
  return match === null ? 65536 : Number(match[1]);
}

const CLOSE_TIMEOUT_MS = 5000;
const MAX_MESSAGE_BYTES = 1 << 28;

/**
 * A framed data channel (section 6) over a werift RTCDataChannel: chunking to the remote's
 * `max-message-size`, reassembly by offset, pings, and the close handshake. Reliable channels
 * only: this peer never opens another kind.
 *
 * Events: `message` (value, kind): a whole message, decoded as its kind says (a string, a parsed
 * JSON value, or a Buffer for kinds 1, 2 and 4); `ping`; `dropped` (reason): a frame or message
 * refused as the document requires; `close`.
 */
export class FramedChannel extends EventEmitter {
  /** Messages this side sent, which is the id of the next one (section 6.2). */
  sent = 0;
  /** Messages received whole, counted for the close handshake (section 6.4). */
  received = 0;
  pings = 0;
  #dc;
  #maxMessageSize;
  #partial = new Map();
  /** The id of the remote's close frame, once it came. */
  #remoteSent;
  #closed;
  #finish;
  #stateClosed = false;
  /** Stream resets seen for this channel's id, one per direction. */
  #resets = 0;
  #lateTimer;

  /** `maxMessageSize` returns the remote's `max-message-size`, read when a message is sent. */
  constructor(dc, maxMessageSize) {
    super();
    this.#dc = dc;
    this.#maxMessageSize = maxMessageSize;
    let finish;
    this.#closed = new Promise((resolve) => (finish = resolve)).then(() => {
      clearTimeout(this.#lateTimer);
      this.#partial.clear();
      this.emit('close');
    });
    this.#finish = finish;
    const { unSubscribe } = dc.stateChanged.subscribe((state) => {
      if (state === 'open') this.#watchResets();
      if (state !== 'closed') return;
      unSubscribe();
      this.#stateClosed = true;
      this.#lateTimer = setTimeout(finish, CLOSE_TIMEOUT_MS);
      this.#maybeFinish();
    });
    if (dc.readyState === 'open') this.#watchResets();
    dc.onMessage.subscribe((data) => this.#receive(data));
  }

  /**
   * werift calls a channel closed as soon as one direction of its stream is reset, but RFC 8831
   * section 6.7 closes a channel when both are: closing the connection in between would leave the
   * remote's own reset unanswered, and the remote waiting out its close timeout. So `closed()`
   * waits for the second reset too (or for the association to end).
   */
  #watchResets() {
    const association = this.#dc.sctp.sctp;
    const resets = association.onReconfigStreams.subscribe((ids) => {
      if (ids.includes(this.#dc.id)) this.#resets += 1;
      this.#maybeFinish();
    });
    const ended = association.stateChanged.closed.subscribe(() => {
      this.#resets = 2;
      this.#maybeFinish();
    });
    this.#closed.then(() => {
      resets.unSubscribe();
      ended.unSubscribe();
    });
  }

  #maybeFinish() {
    if (this.#stateClosed && this.#resets >= 2) this.#finish();
  }

  get label() {
    return this.#dc.label;
  }

  get protocol() {
    return this.#dc.protocol;
  }

  get state() {
    return this.#dc.readyState;
  }

  /** Resolves when the channel opens (at once if it is open); rejects if it closes first. */
  async opened() {
    if (this.#dc.readyState === 'open') return;
    await new Promise((resolve, reject) => {
      const { unSubscribe } = this.#dc.stateChanged.subscribe((state) => {
        if (state === 'open') resolve(unSubscribe());
        if (state === 'closed') reject(new Error(`channel ${this.label} closed before it opened`), unSubscribe());
      });
    });
  }

  /** Resolves when the channel has closed, from either side. */
  closed() {
    return this.#closed;
  }

  sendString(text) {
    this.send(Kind.STRING, Buffer.from(text, 'utf8'));
  }

  sendJson(value) {
    this.send(Kind.JSON, Buffer.from(JSON.stringify(value), 'utf8'));
  }

  /** Sends one message of `kind` as frames of at most the remote's `max-message-size`. */
  send(kind, bytes) {
    if (this.#dc.readyState !== 'open') throw new Error(`channel ${this.label} is ${this.#dc.readyState}`);
    const id = this.sent;
    this.sent = (this.sent + 1) >>> 0;
    const step = frameBytes(this.#maxMessageSize()) - HEADER_BYTES;
    let offset = 0;
    do {
      const end = Math.min(bytes.length, offset + step);
      this.#dc.send(encodeFrame(kind, id, offset, bytes.length, bytes.subarray(offset, end)));
      offset = end;
    } while (offset < bytes.length);
  }

  ping() {
    if (this.#dc.readyState === 'open') this.#dc.send(encodeFrame(Kind.PING, 0, 0, 0));
  }

  /**
   * The closer's side of the handshake (section 6.4): a close frame counting the messages sent,
   * then the remote resets the stream once it holds them all; after the timeout this side resets.
   */
  async close(timeoutMs = CLOSE_TIMEOUT_MS) {
    if (this.#dc.readyState === 'open') {
      this.#dc.send(encodeFrame(Kind.CLOSE, this.sent, 0, 0));
      let timer;
      const late = new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs, 'timeout')));
      const outcome = await Promise.race([this.#closed, late]);
      clearTimeout(timer);
      if (outcome !== 'timeout') return;
    }
    if (this.#dc.readyState !== 'closed') this.#dc.close();
    await this.#closed;
  }

  /** Closes at once with a stream reset, as on `bye` (no handshake: the remote is gone). */
  reset() {
    if (this.#dc.readyState !== 'closed') this.#dc.close();
  }

  #drop(reason) {
    this.emit('dropped', reason);
  }

  #receive(data) {
    if (typeof data === 'string') return this.#drop('a string message on a framed channel');
    const frame = decodeFrame(data);
    if (frame === undefined) return this.#drop('a frame shorter than its header');
    const { kind, id, offset, total, chunk } = frame;
    if (kind === Kind.PING) {
      this.pings += 1;
      return this.emit('ping');
    }
    if (kind === Kind.CLOSE) {
      this.#remoteSent = id;
      return this.#maybeClose();
    }
    if (kind > Kind.PING) return this.#drop(`kind ${kind}`);
    if (total > MAX_MESSAGE_BYTES) return this.#drop(`a message of ${total} bytes`);
    if (offset + chunk.length > total) return this.#drop('a chunk past the end of its message');
    if (offset === 0 && chunk.length === total) return this.#deliver(kind, Buffer.from(chunk));
    let partial = this.#partial.get(id);
    if (partial !== undefined && (partial.kind !== kind || partial.bytes.length !== total)) {
      this.#partial.delete(id);
      return this.#drop(`message ${id} changed its kind or total`);
    }
    if (partial === undefined) {
      partial = { kind, bytes: Buffer.alloc(total), got: 0 };
      this.#partial.set(id, partial);
    }
    chunk.copy(partial.bytes, offset);
    partial.got += chunk.length;
    if (partial.got < total) return;
    this.#partial.delete(id);
    this.#deliver(kind, partial.bytes);
  }

  #deliver(kind, bytes) {
    // Counted before decoding: a message that does not decode still counts (section 6.4).
    this.received = (this.received + 1) >>> 0;
    if (kind === Kind.STRING) this.emit('message', bytes.toString('utf8'), kind);
    else if (kind === Kind.JSON) {
      let value;
      try {
        value = JSON.parse(bytes.toString('utf8'));
      } catch {
        this.#drop('JSON that does not parse');
      }
      if (value !== undefined) this.emit('message', value, kind);
    } else this.emit('message', bytes, kind);
    this.#maybeClose();
  }

  /** The receiver's side of the handshake: reset once every message counted has arrived. */
  #maybeClose() {
    if (this.#remoteSent !== undefined && this.received === this.#remoteSent) this.#dc.close();
  }
}

// ---- A STUN server that answers no -------------------------------------------------------

const STUN_COOKIE = 0x2112a442;

/**
 * werift asks stun.l.google.com when it is given no STUN server, even with `iceServers: []`
 * (https://github.com/shinyoshiaki/werift-webrtc/issues/691), and holds setLocalDescription up
 * to 5 s for the answer. A test must contact nothing outside the
 * machine, so each WeriftPeer is given this one, on loopback, which answers every Binding request
 * at once with error 400: gathering ends in milliseconds, with host candidates only, as
 * `iceServers: []` gives a browser. Resolves to `{ urls, close() }`.
 */
export async function startStunRefuser() {
  const socket = createSocket('udp4');
  socket.on('message', (request, from) => {
    if (request.length < 20 || request.readUInt16BE(0) !== 0x0001 || request.readUInt32BE(4) !== STUN_COOKIE) return;
    const reason = Buffer.from('Bad Request', 'utf8');
    // ERROR-CODE (RFC 8489 section 14.8): 2 zero bytes, class 4, number 0, reason padded to 4 bytes.
    const attribute = Buffer.alloc(4 + 4 + Math.ceil(reason.length / 4) * 4);
    attribute.writeUInt16BE(0x0009, 0);
    attribute.writeUInt16BE(4 + reason.length, 2);
    attribute.writeUInt8(4, 6);
    attribute.writeUInt8(0, 7);
    reason.copy(attribute, 8);
    const header = Buffer.alloc(20);
    header.writeUInt16BE(0x0111, 0);
    header.writeUInt16BE(attribute.length, 2);
    request.copy(header, 4, 4, 20);
    socket.send(Buffer.concat([header, attribute]), from.port, from.address);
  });
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  return {
    urls: `stun:127.0.0.1:${socket.address().port}`,
    close: () => new Promise((resolve) => socket.close(resolve)),
  };
}

// ---- Sections 3 and 4: signals and negotiation --------------------------------------------

export const MAX_TB = Number.MAX_SAFE_INTEGER;
const MAX_SIGNAL_CHARS = 262144;
const MAX_EARLY_CANDIDATES = 256;
const isTb = (tb) => Number.isSafeInteger(tb) && tb >= 0;
/** Uniform in 1 to 2^53 − 2 (section 3.2), up to a bias of 2^-11 from the modulo. */
const randomTb = () => Number(randomBytes(8).readBigUInt64BE() % BigInt(MAX_TB - 1)) + 1;
const optional = (value, check) => value === undefined || value === null || check(value);

/** Section 3: the signal, or a reason to drop it. */
export function parseSignal(input) {
  if (typeof input === 'string' && input.length > MAX_SIGNAL_CHARS) return { error: 'too long' };
  let signal = input;
  if (typeof input === 'string') {
    try {
      signal = JSON.parse(input);
    } catch {
      return { error: 'not JSON' };
    }
  }
  if (!isRecord(signal)) return { error: 'not an object' };
  if (signal.v !== 1) return { error: `version ${signal.v}` };
  switch (signal.kind) {
    case 'hello':
      return isTb(signal.tb) ? { signal } : { error: 'a bad tie-breaker' };
    case 'description': {
      const { type, sdp } = signal;
      if (type !== 'offer' && type !== 'answer') return { error: `description type ${type}` };
      if (typeof sdp !== 'string' || !sdp.startsWith('v=0') || sdp.length > MAX_SIGNAL_CHARS) return { error: 'a bad SDP' };
      return { signal };
    }
    case 'candidate': {
      const c = signal.candidate;
      if (!isRecord(c) || typeof c.candidate !== 'string' || c.candidate.length > MAX_SIGNAL_CHARS) return { error: 'a bad candidate' };
      const midOk = optional(c.sdpMid, (mid) => typeof mid === 'string');
      const indexOk = optional(c.sdpMLineIndex, (i) => Number.isInteger(i) && i >= 0);
      const hasOne = (c.sdpMid ?? c.sdpMLineIndex ?? null) !== null;
      if (!midOk || !indexOk || !hasOne || !optional(c.usernameFragment, (u) => typeof u === 'string')) return { error: 'a bad candidate' };
      return { signal };
    }
    case 'bye':
      return { signal };
    default:
      return { error: `kind ${signal.kind}` };
  }
}

/** Section 9: the distinct fingerprints of an SDP, normalised, joined with ", ". */
export function fingerprintsOf(sdp) {
  const found = new Set();
  for (const [, algorithm, hex] of (sdp ?? '').matchAll(/^a=fingerprint:(\S+) ([0-9A-Fa-f:]+)\r?$/gm)) {
    found.add(`${algorithm.toLowerCase()} ${hex.toUpperCase()}`);
  }
  return [...found].join(', ');
}

/** Section 9: the six digits. */
export function shortAuthString(local, remote) {
  const digest = createHash('sha256').update(['peerkit-sas/1', ...[local, remote].sort()].join('\n'), 'utf8').digest();
  return String(digest.readUInt32BE(0) % 1_000_000).padStart(6, '0');
}

/**
 * One peer connection to one peerkit Peer (sections 3 to 6). `polite` true sends `tb` 0, false
 * sends 2^53 − 1, absent draws one at random. werift cannot roll a local offer back, and this peer
 * only ever offers first as the impolite side (or answers), so it never needs to: it does not
 * renegotiate by itself, it answers every offer (ICE restarts included).
 *
 * Events: `signal` (signal): for the remote's `signal()`; `connect`; `channel` (FramedChannel): a
 * channel the remote opened; `dropped` (reason): a signal dropped; `close`.
 */
export class WeriftPeer extends EventEmitter {
  /** The wire, in order, for tests to read: `{ dir: 'in' | 'out', signal }`. */
  wire = [];
  /** Resolves when the default channel opened. */
  connected;
  pc;
  /** The default channel, section 5.1. */
  main;
  tb;
  /** true or false once known. */
  polite;
  #told;
  #remoteTb;
  #offered = false;
  #ignoringOffer = false;
  #early = [];
  /** Local candidates held until this side's first description went out. */
  #held = [];
  #described = false;
  #inbox = Promise.resolve();
  #channels = new Set();
  #pinger;
  #ending;

  /** The room channel (section 8.5), when the peer was made with `room: true`. */
  room;

  /**
   * `stun`: from {@link startStunRefuser}, required (see there). `room`: also open the room
   * channel, as a peer to a Room member does (section 8.5).
   */
  constructor({ stun, polite, pingIntervalMs = 1000, room = false }) {
    super();
    if (typeof stun?.urls !== 'string') throw new Error('a WeriftPeer needs the local STUN refuser, or werift asks a public STUN server');
    this.#told = polite;
    this.polite = polite;
    this.tb = polite === true ? 0 : polite === false ? MAX_TB : randomTb();
    this.pc = new RTCPeerConnection({ iceServers: [{ urls: stun.urls }] });
    // Before any offer or answer, so that stream id 0 is never handed out in band.
    const dc = this.pc.createDataChannel('peerkit', { negotiated: true, id: 0, protocol: 'peerkit/1', ordered: true });
    this.main = this.#adopt(dc);
    if (room) this.room = this.#adopt(this.pc.createDataChannel(ROOM_CHANNEL.label, { negotiated: true, id: ROOM_CHANNEL.id, protocol: 'peerkit/1', ordered: true }));
    this.connected = this.main.opened().then(() => {
      if (this.#ending !== undefined) return;
      this.#pinger = setInterval(() => this.main.ping(), pingIntervalMs);
      this.emit('connect');
    });
    this.connected.catch(() => {});
    // The default channel closing closes the peer (section 6.5).
    this.main.closed().then(() => this.#closeNow());
    this.pc.onIceCandidate.subscribe((candidate) => {
      // werift announces the end of gathering with an empty candidate: not sent (section 3.4).
      if (!candidate?.candidate) return;
      const init = candidate.toJSON();
      if (this.#described) this.#send({ v: 1, kind: 'candidate', candidate: init });
      else this.#held.push(init);
    });
    this.pc.onDataChannel.subscribe((remote) => {
      // Raw channels (section 5.3) are not needed by the test; only framed ones are adopted.
      if (remote.protocol !== 'peerkit/1') return this.emit('dropped', `raw channel ${remote.label}`);
      this.emit('channel', this.#adopt(remote));
    });
    queueMicrotask(() => {
      this.#send({ v: 1, kind: 'hello', tb: this.tb });
      if (this.#told === false) this.#enqueue(() => this.#offer());
    });
  }

  /** Opens a framed named channel in band (section 5.2). */
  channel(label) {
    return this.#adopt(this.pc.createDataChannel(label, { protocol: 'peerkit/1', ordered: true }));
  }

  /** Takes a signal from the remote, as an object or as JSON text; applied in order. */
  signal(input) {
    const { signal, error } = parseSignal(input);
    if (error !== undefined) return void this.emit('dropped', `signal: ${error}`);
    this.wire.push({ dir: 'in', signal });
    this.#enqueue(() => this.#take(signal));
  }

  /** Section 9, from this side's descriptions. */
  verification() {
    const local = fingerprintsOf(this.pc.localDescription?.sdp);
    const remote = fingerprintsOf(this.pc.remoteDescription?.sdp);
    return { local, remote, sas: shortAuthString(local, remote) };
  }

  /** Section 6.5: channels by the handshake, then `bye`, then the connection. */
  close() {
    this.#ending ??= this.#release(true);
    return this.#ending;
  }

  #adopt(dc) {
    const channel = new FramedChannel(dc, () => maxMessageSizeOf(this.pc.remoteDescription?.sdp));
    this.#channels.add(channel);
    channel.closed().then(() => this.#channels.delete(channel));
    return channel;
  }

  #send(signal) {
    if (this.#ending !== undefined && signal.kind !== 'bye') return;
    this.wire.push({ dir: 'out', signal });
    this.emit('signal', signal);
  }

  #enqueue(step) {
    this.#inbox = this.#inbox.then(step).catch((error) => this.emit('dropped', `failed: ${error.message}`));
  }

  async #describe(description) {
    await this.pc.setLocalDescription(description);
    this.#send({ v: 1, kind: 'description', type: description.type, sdp: this.pc.localDescription.sdp });
    if (this.#described) return;
    this.#described = true;
    for (const candidate of this.#held.splice(0)) this.#send({ v: 1, kind: 'candidate', candidate });
  }

  async #offer() {
    if (this.#offered || this.#ending !== undefined) return;
    this.#offered = true;
    await this.#describe(await this.pc.createOffer());
  }

  async #take(signal) {
    if (this.#ending !== undefined) return;
    switch (signal.kind) {
      case 'hello':
        if (this.#remoteTb !== undefined) return void this.emit('dropped', 'a second hello');
        this.#remoteTb = signal.tb;
        if (this.#told !== undefined) return;
        if (signal.tb === this.tb) return void this.emit('dropped', 'equal tie-breakers');
        this.polite = this.tb < signal.tb;
        if (!this.polite) await this.#offer();
        return;
      case 'description':
        return this.#takeDescription(signal);
      case 'candidate':
        return this.#takeCandidate(signal.candidate);
      case 'bye':
        return this.#closeNow();
    }
  }

  async #takeDescription({ type, sdp }) {
    if (type === 'offer' && this.pc.signalingState !== 'stable') {
      // Only the impolite side ever has an offer of its own out: it ignores the remote's.
      this.#ignoringOffer = true;
      return;
    }
    this.#ignoringOffer = false;
    await this.pc.setRemoteDescription({ type, sdp });
    for (const candidate of this.#early.splice(0)) await this.#takeCandidate(candidate);
    if (type === 'offer') await this.#describe(await this.pc.createAnswer());
  }

  async #takeCandidate(candidate) {
    if (this.pc.remoteDescription === null) {
      if (this.#early.length < MAX_EARLY_CANDIDATES) this.#early.push(candidate);
      else this.emit('dropped', 'too many early candidates');
      return;
    }
    try {
      await this.pc.addIceCandidate(candidate);
    } catch (error) {
      // Section 4.4: quietly for an old ICE generation or while an offer is ignored.
      const current = /^a=ice-ufrag:(\S+)/m.exec(this.pc.remoteDescription.sdp)?.[1];
      const stale = candidate.usernameFragment !== undefined && candidate.usernameFragment !== current;
      if (!stale && !this.#ignoringOffer) this.emit('dropped', `candidate refused: ${error.message}`);
    }
  }

  /** Closes at once, without the handshake or `bye`: a Peer replaced by a newer generation. */
  abort() {
    return this.#closeNow();
  }

  /** The remote closed (`bye`, or the default channel closed): no handshake, no `bye`. */
  #closeNow() {
    this.#ending ??= this.#release(false);
    return this.#ending;
  }

  async #release(graceful) {
    clearInterval(this.#pinger);
    if (graceful) {
      await Promise.all([...this.#channels].map((channel) => channel.close()));
      this.#send({ v: 1, kind: 'bye' });
    } else for (const channel of this.#channels) channel.reset();
    await this.pc.close();
    this.emit('close');
  }
}

// ---- Section 8.5: the room channel --------------------------------------------------------

export const ROOM_CHANNEL = Object.freeze({ label: 'peerkit-room', id: 1 });

/** Delivery frame types, section 8.5. */
export const RoomFrame = Object.freeze({ DATA: 1, ACK: 2, SYNC: 3 });
/** The bytes each type needs: a data frame's header, a whole ack or sync. */
const FRAME_BYTES = Object.freeze({ [RoomFrame.DATA]: 18, [RoomFrame.ACK]: 9, [RoomFrame.SYNC]: 25 });
/** A standalone ack after this many deliveries, or this long after the first unacknowledged. */
const ACK_AFTER = Object.freeze({ deliveries: 32, ms: 20 });
const MAX_UNACKED = 1000;

const writeU64 = (buffer, value, at) => {
  buffer.writeUInt32BE(Math.floor(value / 2 ** 32), at);
  buffer.writeUInt32BE(value % 2 ** 32, at + 4);
};
const readU64 = (buffer, at) => buffer.readUInt32BE(at) * 2 ** 32 + buffer.readUInt32BE(at + 4);

/** A data frame: message `seq` of frame kind `kind` (0 to 4), carrying the ack `ack`. */
export function encodeRoomData(seq, ack, kind, payload) {
  const out = Buffer.alloc(FRAME_BYTES[RoomFrame.DATA] + payload.length);
  out.writeUInt8(RoomFrame.DATA, 0);
  writeU64(out, seq, 1);
  writeU64(out, ack, 9);
  out.writeUInt8(kind, 17);
  Buffer.from(payload.buffer, payload.byteOffset, payload.length).copy(out, FRAME_BYTES[RoomFrame.DATA]);
  return out;
}

export function encodeRoomAck(ack) {
  const out = Buffer.alloc(FRAME_BYTES[RoomFrame.ACK]);
  out.writeUInt8(RoomFrame.ACK, 0);
  writeU64(out, ack, 1);
  return out;
}

export function encodeRoomSync({ epoch, ackEpoch, ack, next }) {
  const out = Buffer.alloc(FRAME_BYTES[RoomFrame.SYNC]);
  out.writeUInt8(RoomFrame.SYNC, 0);
  out.writeUInt32BE(epoch, 1);
  out.writeUInt32BE(ackEpoch, 5);
  writeU64(out, ack, 9);
  writeU64(out, next, 17);
  return out;
}

/** One delivery frame: `{ type: 'data' | 'ack' | 'sync' | 'unknown', ... }`, or undefined when too short. */
export function decodeRoomFrame(bytes) {
  const type = bytes.length > 0 ? bytes.readUInt8(0) : undefined;
  if (type === undefined || bytes.length < (FRAME_BYTES[type] ?? 1)) return undefined;
  switch (type) {
    case RoomFrame.DATA:
      return { type: 'data', seq: readU64(bytes, 1), ack: readU64(bytes, 9), kind: bytes.readUInt8(17), payload: bytes.subarray(FRAME_BYTES[RoomFrame.DATA]) };
    case RoomFrame.ACK:
      return { type: 'ack', ack: readU64(bytes, 1) };
    case RoomFrame.SYNC:
      return { type: 'sync', epoch: bytes.readUInt32BE(1), ackEpoch: bytes.readUInt32BE(5), ack: readU64(bytes, 9), next: readU64(bytes, 17) };
    default:
      return { type: 'unknown' };
  }
}

/** A message's value as its frame kind says (section 6.1): a string, a parsed JSON value, or a Buffer. */
function decodeKind(kind, bytes) {
  if (kind === Kind.STRING) return { value: bytes.toString('utf8') };
  if (kind === Kind.JSON) {
    try {
      return { value: JSON.parse(bytes.toString('utf8')) };
    } catch {
      return { error: 'JSON that does not parse' };
    }
  }
  if (kind <= Kind.BLOB) return { value: Buffer.from(bytes) };
  return { error: `a room message of kind ${kind}` };
}

/**
 * Exactly-once, in-order room messages to and from one member, across the successive room
 * channels of the peers built for it (section 8.5): numbered streams named by epochs, `sync` on
 * each new channel, replay of what is unacknowledged, acks, duplicates dropped. The bound is
 * 1,000 messages, not bytes: a test sends far less than 16 MiB.
 *
 * Events: `message` (value, kind): a room message delivered; `dropped` (reason).
 */
export class RoomCourier extends EventEmitter {
  /** This side's stream: a random non-zero u32, kept as long as the member is. */
  epoch = randomBytes(4).readUInt32BE(0) || 1;
  /** Counts of what happened, for tests to read. */
  stats = { delivered: 0, duplicates: 0, gaps: 0, replayed: 0 };
  #next = 1;
  /** `{ seq, kind, bytes }`, oldest first, until acknowledged. */
  #pending = [];
  #remoteEpoch = 0;
  #delivered = 0;
  #ackSent = 0;
  /** The room channel that has received the remote's `sync`. */
  #link;
  #cursor = 1;
  #ackTimer;

  /** Numbers and holds one message of frame kind `kind`; sent now if a channel is synced. */
  send(kind, bytes) {
    if (this.#pending.length >= MAX_UNACKED) throw new Error(`${MAX_UNACKED} room messages wait for an ack already`);
    this.#pending.push({ seq: this.#next++, kind, bytes: Buffer.from(bytes) });
    this.#pump();
  }

  sendString(text) {
    this.send(Kind.STRING, Buffer.from(text, 'utf8'));
  }

  sendJson(value) {
    this.send(Kind.JSON, Buffer.from(JSON.stringify(value), 'utf8'));
  }

  /** Messages held for an ack. */
  get pending() {
    return this.#pending.length;
  }

  /** Takes the room channel of a new peer: `sync` once it opens, then data after the remote's `sync`. */
  attach(channel) {
    let synced = false;
    channel.opened().then(
      () => {
        this.#ackSent = this.#delivered;
        const next = this.#pending[0]?.seq ?? this.#next;
        channel.send(Kind.ARRAY_BUFFER, encodeRoomSync({ epoch: this.epoch, ackEpoch: this.#remoteEpoch, ack: this.#delivered, next }));
      },
      () => {},
    );
    channel.on('message', (bytes, kind) => {
      // Delivery frames travel as bytes (kind 1 or 2).
      if (kind !== Kind.ARRAY_BUFFER && kind !== Kind.TYPED_ARRAY) return this.emit('dropped', `a room channel message of kind ${kind}`);
      const frame = decodeRoomFrame(bytes);
      if (frame === undefined) return this.emit('dropped', `a room frame of ${bytes.length} bytes`);
      if (frame.type === 'sync') {
        synced = true;
        this.#synced(frame);
        this.#link = channel;
        this.#cursor = this.#pending[0]?.seq ?? this.#next;
        this.stats.replayed += this.#pending.length;
        return this.#pump();
      }
      if (!synced || frame.type === 'unknown') return;
      this.#acknowledge(frame.ack);
      if (frame.type === 'data') this.#accept(frame);
    });
    channel.closed().then(() => {
      if (this.#link === channel) this.#link = undefined;
    });
  }

  /** The member is gone: nothing more is sent. */
  dispose() {
    clearTimeout(this.#ackTimer);
    this.#link = undefined;
    this.#pending = [];
  }

  /** A new remote epoch is a stream never seen: its numbering is taken as it comes. */
  #synced({ epoch, ackEpoch, ack, next }) {
    if (epoch !== this.#remoteEpoch) {
      this.#remoteEpoch = epoch;
      this.#delivered = this.#ackSent = next - 1;
    }
    if (ackEpoch === this.epoch) this.#acknowledge(ack);
  }

  #acknowledge(ack) {
    while (this.#pending.length > 0 && this.#pending[0].seq <= ack) this.#pending.shift();
  }

  #accept({ seq, kind, payload }) {
    if (seq <= this.#delivered) return void (this.stats.duplicates += 1);
    if (seq > this.#delivered + 1) return void (this.stats.gaps += 1);
    this.#delivered = seq;
    this.stats.delivered += 1;
    const { value, error } = decodeKind(kind, payload);
    if (error !== undefined) this.emit('dropped', error);
    else this.emit('message', value, kind);
    if (this.#delivered - this.#ackSent >= ACK_AFTER.deliveries) this.#sendAck();
    else this.#ackTimer ??= setTimeout(() => this.#sendAck(), ACK_AFTER.ms);
  }

  #sendAck() {
    clearTimeout(this.#ackTimer);
    this.#ackTimer = undefined;
    if (this.#link?.state !== 'open' || this.#delivered === this.#ackSent) return;
    this.#ackSent = this.#delivered;
    this.#link.send(Kind.ARRAY_BUFFER, encodeRoomAck(this.#delivered));
  }

  /** Sends, in order, every held message from the cursor on. */
  #pump() {
    const first = this.#pending[0]?.seq ?? this.#next;
    while (this.#link?.state === 'open' && this.#cursor < this.#next) {
      const held = this.#pending[this.#cursor - first];
      this.#cursor += 1;
      if (held === undefined) continue;
      this.#ackSent = this.#delivered;
      this.#link.send(Kind.ARRAY_BUFFER, encodeRoomData(held.seq, this.#delivered, held.kind, held.bytes));
    }
  }
}

// ---- Section 8.4: the sealed envelope -----------------------------------------------------

const IV_BYTES = 12;
const TAG_BYTES = 16;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export const helloContext = (room, key) => `peerkit/1 hello ${room} ${key}`;
export const signalContext = (room, from, to) => `peerkit/1 signal ${room} ${from} ${to}`;

/** AES-256-GCM under the room key: seal and open, section 8.4. */
export class RoomKey {
  #key;

  constructor(key) {
    this.#key = key;
  }

  /** PBKDF2-HMAC-SHA-256 over the secret, salted with the room name. */
  static async derive(secret, room, iterations = 600000) {
    return new RoomKey(await promisify(pbkdf2)(secret, `peerkit/1 room-key ${room}`, iterations, 32, 'sha256'));
  }

  seal(context, value) {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const body = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
    return Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64');
  }

  /** The opened object, or undefined for anything that must be dropped. */
  open(context, sealed) {
    if (typeof sealed !== 'string' || !BASE64.test(sealed)) return undefined;
    const bytes = Buffer.from(sealed, 'base64');
    if (bytes.length < IV_BYTES + TAG_BYTES) return undefined;
    // authTagLength pins the tag to 16 bytes: Node would otherwise accept a truncated one.
    const decipher = createDecipheriv('aes-256-gcm', this.#key, bytes.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
    try {
      const text = Buffer.concat([decipher.update(bytes.subarray(IV_BYTES, bytes.length - TAG_BYTES)), decipher.final()]).toString('utf8');
      const value = JSON.parse(text);
      return isRecord(value) ? value : undefined;
    } catch {
      return undefined;
    }
  }
}

// ---- Sections 7 and 8: a Room member through peerkit-signal -------------------------------

const MAX_HELD_PER_STRANGER = 64;
const MAX_STRANGERS = 64;
const isGeneration = (g) => Number.isSafeInteger(g) && g >= 0;

/**
 * A member of a peerkit Room: the server protocol (section 7), presence and roles (8.1, 8.2),
 * signals in the clear or sealed with a secret (8.3, 8.4), and rebuilt peers with the room
 * channel (8.5), with one WeriftPeer per member at a time. It joins once: no reconnection, no
 * rejoin grace, no heartbeat (a test is shorter than 15 s), and a rebuilt peer that never
 * connects is not given up on.
 *
 * Events: `member` (peer, id, hello); `rebuild` (peer, id, cause): a new peer for a member,
 * `cause` `'backoff'` when this side rebuilt first, `'remote'` on a signal of a higher generation;
 * `data` (value, kind, id): a room message; `leave` (id): that member is gone; `refused` (id,
 * reason): a member whose presence could not be opened; `dropped` (reason, id): a payload or room
 * message dropped; `server-error` (frame).
 */
export class WeriftRoomMember extends EventEmitter {
  /** This member's session key, 32 hex digits (section 8.1). */
  key = randomBytes(16).toString('hex');
  /** The member id the server assigned. */
  id;
  /** id -> { key, peer, g, courier, sent, accepted, stale, ended, gone, rebuildTimer }. */
  members = new Map();
  /** Every frame the server sent, parsed, for tests to read. */
  frames = [];
  /**
   * The backoff before this side rebuilds a closed peer (section 8.5): uniform in [low, high] ms,
   * the same every time (this member never gives up). A test may lengthen it to let the remote
   * rebuild first.
   */
  rebuildDelayMs = [100, 200];
  #stun;
  #url;
  #room;
  #secret;
  #iterations;
  #hello;
  #sealer;
  #ws;
  #strangers = new Map();
  #leaving;

  /** `stun`: as for WeriftPeer. */
  constructor(url, room, { stun, secret, kdfIterations, hello }) {
    super();
    this.#stun = stun;
    this.#url = url;
    this.#room = room;
    this.#secret = secret;
    this.#iterations = kdfIterations;
    this.#hello = hello;
  }

  /** Joins; rejects on a refused join, or (with a secret) when no member present can be opened. */
  async join() {
    if (this.#secret !== undefined) this.#sealer = await RoomKey.derive(this.#secret, this.#room, this.#iterations);
    this.#ws = new WebSocket(this.#url);
    await once(this.#ws, 'open');
    const joined = new Promise((resolve, reject) => {
      this.#ws.on('message', (data) => {
        let frame;
        try {
          frame = JSON.parse(data.toString('utf8'));
        } catch {
          return this.emit('dropped', 'a server frame that is not JSON');
        }
        if (!isRecord(frame) || frame.v !== 1) return this.emit('dropped', 'a server frame without v 1');
        this.frames.push(frame);
        if (frame.type === 'joined') resolve(frame);
        else if (frame.type === 'error' && frame.re === 'join') reject(new Error(`join refused: ${frame.code}`));
        else this.#onFrame(frame);
      });
    });
    const presence = this.#sealer === undefined
      ? { pk: 1, key: this.key, ...(this.#hello === undefined ? {} : { hello: this.#hello }) }
      : { pk: 1, key: this.key, e: this.#sealer.seal(helloContext(this.#room, this.key), { h: this.#hello }) };
    this.#send({ type: 'join', room: this.#room, hello: presence });
    const frame = await joined;
    this.id = frame.id;
    const arrivals = frame.members.map((id) => this.#arrive(id, frame.hellos?.[id]));
    if (this.#sealer !== undefined && arrivals.length > 0 && !arrivals.includes(true)) {
      await this.leave();
      throw new Error('UNAUTHORIZED: no member present opens with this secret');
    }
  }

  /** A room message to member `id` (section 8.5), of frame kind `kind`. */
  send(id, kind, bytes) {
    const member = this.members.get(id);
    if (member === undefined) throw new Error(`no member ${id}`);
    member.courier.send(kind, bytes);
  }

  sendString(id, text) {
    this.send(id, Kind.STRING, Buffer.from(text, 'utf8'));
  }

  sendJson(id, value) {
    this.send(id, Kind.JSON, Buffer.from(JSON.stringify(value), 'utf8'));
  }

  /**
   * Section 8.5, then 8.2: a `bye` with `end: true` to each member first (so that its channels
   * closing do not make it rebuild), then every peer closed (channels, then `bye`), then `leave`.
   * `before`: a promise to wait for between the last peer closed and `leave`, so that a test can
   * tell what the members did on the `bye` alone.
   */
  leave({ before } = {}) {
    if (this.#ws === undefined) return Promise.resolve();
    this.#leaving ??= (async () => {
      const members = [...this.members.values()];
      for (const member of members) {
        clearTimeout(member.rebuildTimer);
        this.#transmit(member, { v: 1, kind: 'bye' });
      }
      await Promise.all(members.map(({ peer }) => peer.close()));
      await before;
      if (this.#ws.readyState === WebSocket.OPEN) {
        this.#send({ type: 'leave' });
        this.#ws.close(1000);
      }
      if (this.#ws.readyState !== WebSocket.CLOSED) await once(this.#ws, 'close');
    })();
    return this.#leaving;
  }

  #send(frame) {
    this.#ws.send(JSON.stringify({ v: 1, ...frame }));
  }

  #onFrame(frame) {
    switch (frame.type) {
      case 'member-joined':
        return void this.#arrive(frame.id, frame.hello);
      case 'member-left':
        return this.#gone(frame.id);
      case 'signal':
        return this.#deliver(frame.from, frame.payload);
      case 'error':
        // NO_SUCH_MEMBER for a member that just left (its `bye` crossed its `leave`) is normal.
        return void this.emit('server-error', frame);
      // Other types, pong included, are ignored (section 7.1).
    }
  }

  /** Section 8.1: reads a presence, and connects to the member when it opens. */
  #arrive(id, presence) {
    if (this.#leaving !== undefined || this.members.has(id)) return false;
    const isRoomMember = isRecord(presence) && presence.pk === 1 && typeof presence.key === 'string' && presence.key !== '';
    const key = isRoomMember ? presence.key : `id:${id}`;
    if (key === this.key) return false;
    let hello = isRoomMember ? presence.hello : presence;
    if (this.#sealer !== undefined) {
      const opened = isRoomMember ? this.#sealer.open(helloContext(this.#room, key), presence.e) : undefined;
      if (opened === undefined) return void this.emit('refused', id, isRoomMember && 'e' in presence ? 'wrong secret' : 'not sealed');
      hello = opened.h;
    } else if (isRoomMember && 'e' in presence) return void this.emit('refused', id, 'needs a secret');
    const courier = new RoomCourier();
    const member = { id, key, peer: undefined, g: 0, courier, sent: 0, accepted: 0, stale: 0, ended: false, gone: false, rebuildTimer: undefined };
    courier.on('message', (value, kind) => this.emit('data', value, kind, id));
    courier.on('dropped', (reason) => this.emit('dropped', `room channel: ${reason}`, id));
    this.members.set(id, member);
    this.emit('member', this.#connect(member, 0), id, hello);
    for (const payload of this.#strangers.get(id) ?? []) this.#deliver(id, payload);
    this.#strangers.delete(id);
    return true;
  }

  /** The peer of generation `g` for `member`, with its room channel (section 8.5). */
  #connect(member, g) {
    clearTimeout(member.rebuildTimer);
    member.rebuildTimer = undefined;
    member.g = g;
    // Section 8.2: the greater session key is polite; the same roles for every generation.
    const peer = new WeriftPeer({ stun: this.#stun, polite: this.key > member.key, room: true });
    member.peer = peer;
    member.courier.attach(peer.room);
    peer.on('signal', (signal) => {
      if (member.peer === peer) this.#transmit(member, signal);
    });
    peer.on('close', () => this.#closed(member, peer));
    return peer;
  }

  /** Wraps a signal with the member's generation, and `end` on a `bye` while leaving. */
  #transmit(member, signal) {
    const route = { ...(member.g > 0 ? { g: member.g } : {}), ...(signal.kind === 'bye' && this.#leaving !== undefined ? { end: true } : {}) };
    const payload = this.#sealer === undefined
      ? { ...signal, ...route }
      : { pk: 1, e: this.#sealer.seal(signalContext(this.#room, this.key, member.key), { n: (member.sent += 1), s: signal, ...route }) };
    if (this.#ws.readyState === WebSocket.OPEN) this.#send({ type: 'signal', to: member.id, payload });
  }

  /** Section 8.5: a peer closed while its member stays (not leaving, not ended) is rebuilt. */
  #closed(member, peer) {
    if (member.peer !== peer) return;
    if (this.#leaving !== undefined || member.ended || member.gone) return this.#remove(member);
    const [low, high] = this.rebuildDelayMs;
    member.rebuildTimer = setTimeout(() => {
      const rebuilt = this.#connect(member, member.g + 1);
      this.emit('rebuild', rebuilt, member.id, 'backoff');
    }, low + Math.random() * (high - low));
  }

  /** The server says the member left: its peer closes, and it is not rebuilt. */
  #gone(id) {
    const member = this.members.get(id);
    if (member === undefined) return;
    member.gone = true;
    clearTimeout(member.rebuildTimer);
    if (member.peer.pc.connectionState === 'closed') this.#remove(member);
    else void member.peer.close();
  }

  #remove(member) {
    if (this.members.get(member.id) !== member) return;
    clearTimeout(member.rebuildTimer);
    member.courier.dispose();
    this.members.delete(member.id);
    this.emit('leave', member.id);
  }

  #deliver(from, payload) {
    const member = this.members.get(from);
    if (member === undefined) {
      // Section 7.3: with several server instances a signal may overtake its sender's arrival.
      const held = this.#strangers.get(from) ?? [];
      const room = held.length > 0 || this.#strangers.size < MAX_STRANGERS;
      if (room && held.length < MAX_HELD_PER_STRANGER) this.#strangers.set(from, [...held, payload]);
      return;
    }
    let fields = payload;
    let signal = payload;
    if (this.#sealer !== undefined) {
      const opened = isRecord(payload) && payload.pk === 1 ? this.#sealer.open(signalContext(this.#room, member.key, this.key), payload.e) : undefined;
      if (opened === undefined || typeof opened.n !== 'number' || !('s' in opened)) return void this.emit('dropped', 'a signal that does not open', from);
      if (opened.n <= member.accepted) return void this.emit('dropped', `a replayed signal (n ${opened.n})`, from);
      member.accepted = opened.n;
      fields = opened;
      signal = opened.s;
    }
    this.#route(member, isRecord(fields) && isGeneration(fields.g) ? fields.g : 0, isRecord(fields) && fields.end === true, signal);
  }

  /** Section 8.5: an older generation is dropped, a newer one replaces the peer first. */
  #route(member, g, end, signal) {
    // The old peer's last words (its `bye` after a rebuild, say) are expected, not a fault.
    if (g < member.g) return void (member.stale += 1);
    if (end) member.ended = true;
    if (g > member.g) {
      if (this.#leaving !== undefined || member.ended || member.gone) return;
      const old = member.peer;
      const rebuilt = this.#connect(member, g);
      void old.abort();
      this.emit('rebuild', rebuilt, member.id, 'remote');
    }
    member.peer.signal(signal);
  }
}
