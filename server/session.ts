/** One client connection: rate limiting, frame handling, membership of at most one room. */
import { randomBytes } from 'node:crypto';
import type { RawData, WebSocket } from 'ws';
import type { LogLevel } from './log.js';
import type { Metrics } from './metrics.js';
import type { ResolvedOptions } from './options.js';
import type { ClientFrame, ServerFrame } from './protocol.js';
import type { RoomStore } from './rooms.js';
import { ProtocolError, encodeFrame, errorFrame, parseClientFrame } from './protocol.js';
import { TokenBucket } from './rate-limit.js';
import { sfuEndpoints } from './sfu/http.js';
import { verifyRoomToken } from './tokens.js';

/** What every session shares with the server. */
export interface SessionContext {
  options: ResolvedOptions;
  store: RoomStore;
  metrics: Metrics;
  log: (level: LogLevel, event: string, fields?: Record<string, unknown>) => void;
  isShuttingDown: () => boolean;
  /** True from the start of a drain: joins are refused with `DRAINING`. */
  isDraining: () => boolean;
  /** A member of this server left its room, however: the SFU bridge ends the media it holds. */
  memberLeft: (room: string, id: string) => void;
}

/** WebSocket close codes this server uses, from RFC 6455 section 7.4.1 and the IANA registry. */
export const CloseCode = {
  POLICY_VIOLATION: 1008,
  SERVICE_RESTART: 1012,
} as const;

/** 128 random bits: unguessable, so knowing a room name never lets anyone address a member. */
function newMemberId(): string {
  return randomBytes(16).toString('base64url');
}

export class Session {
  /** False once a ping went unanswered; the server's ping sweep drops the connection then. */
  alive = true;
  #member: { id: string; room: string } | undefined;
  #closed = false;
  #refusedInARow = 0;
  readonly #bucket: TokenBucket;
  #queue: Promise<void> = Promise.resolve();
  /** Tasks queued or running; none means a frame can be handled at once. */
  #pending = 0;

  constructor(
    private readonly socket: WebSocket,
    private readonly ctx: SessionContext,
    private readonly remote: string,
  ) {
    const { rate, burst } = ctx.options;
    this.#bucket = new TokenBucket(rate, burst, Date.now());
    socket.on('message', (data, isBinary) => this.#receive(data, isBinary));
    socket.on('pong', () => {
      this.alive = true;
    });
    socket.on('close', () => this.#onClose());
    socket.on('error', (error) => ctx.log('warn', 'socket-error', { remote, message: error.message }));
  }

  /** Sends a frame unless the socket is already going away. */
  send(frame: ServerFrame): void {
    this.#write(encodeFrame(frame));
  }

  #write(text: string): void {
    if (this.socket.readyState !== this.socket.OPEN) return;
    this.ctx.metrics.bytesSent += Buffer.byteLength(text);
    this.socket.send(text);
  }

  #refuse(error: ProtocolError, to?: string): void {
    this.ctx.metrics.refuse(error.code);
    // Refused joins are what an operator asks about ("why can't I get in?"); frames are too many.
    this.ctx.log(error.re === 'join' ? 'info' : 'debug', 'refused', { remote: this.remote, id: this.#member?.id, code: error.code, re: error.re });
    this.send(errorFrame(error, to));
  }

  #receive(data: RawData, isBinary: boolean): void {
    this.alive = true;
    const { metrics, options } = this.ctx;
    const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
    const size = bytes.byteLength;
    metrics.framesReceived += 1;
    metrics.bytesReceived += size;
    if (!this.#bucket.take(Date.now())) {
      this.#refusedInARow += 1;
      // One error frame per streak: answering every dropped frame would amplify the flood.
      if (this.#refusedInARow === 1) {
        this.#enqueue(() => this.#refuse(new ProtocolError('RATE_LIMITED', `more than ${options.rate} frames per second`)));
      } else {
        metrics.refuse('RATE_LIMITED');
        // A whole second's worth of dropped frames in a row: the client is not backing off.
        if (this.#refusedInARow === Math.max(2, Math.ceil(options.rate))) this.#enqueue(() => this.#closeForAbuse());
      }
      return;
    }
    this.#refusedInARow = 0;
    if (isBinary) {
      this.#enqueue(() => this.#refuse(new ProtocolError('BAD_FRAME', 'frames must be text')));
      return;
    }
    if (size > options.maxFrameBytes) {
      const error = new ProtocolError('FRAME_TOO_LARGE', `frames are limited to ${options.maxFrameBytes} bytes`);
      this.#enqueue(() => this.#refuse(error));
      return;
    }
    const frame = parseClientFrame(bytes.toString('utf8'));
    if (frame instanceof ProtocolError) this.#enqueue(() => this.#refuse(frame));
    else this.#enqueue(() => this.#handle(frame), frame.type);
  }

  /**
   * Runs `task` after every earlier one. The store is async, yet answers must leave in the order
   * frames arrived, and a `signal` sent right after `join` must see the join completed.
   */
  #enqueue(task: () => void | Promise<void>, re?: string): void {
    const failed = (error: unknown): void => {
      this.ctx.log('error', 'internal-error', { remote: this.remote, re, message: String(error) });
      this.#refuse(new ProtocolError('INTERNAL', 'the server failed to handle a frame', re));
    };
    if (this.#pending === 0) {
      // Nothing waits: run it now. Most frames are signals that finish synchronously, and a
      // promise per relayed signal was a fifth of the server's CPU under load.
      let result: void | Promise<void>;
      try {
        result = task();
      } catch (error) {
        return failed(error);
      }
      if (!(result instanceof Promise)) return;
      this.#track(result.catch(failed));
      return;
    }
    this.#track(this.#queue.then(task).catch(failed));
  }

  #track(task: Promise<void>): void {
    this.#pending += 1;
    this.#queue = task.finally(() => {
      this.#pending -= 1;
    });
  }

  #closeForAbuse(): void {
    this.ctx.log('warn', 'rate-limit-close', { remote: this.remote, id: this.#member?.id });
    this.socket.close(CloseCode.POLICY_VIOLATION, 'rate limit exceeded');
  }

  #handle(frame: ClientFrame): void | Promise<void> {
    switch (frame.type) {
      case 'ping':
        this.send({ type: 'pong' });
        return;
      case 'join':
        return this.#join(frame);
      case 'leave':
        if (this.#member === undefined) {
          this.#refuse(new ProtocolError('NOT_JOINED', 'leave before join', 'leave'));
          return;
        }
        return this.#leave();
      case 'signal':
        return this.#signal(frame.to, frame.payload);
    }
  }

  async #join(frame: Extract<ClientFrame, { type: 'join' }>): Promise<void> {
    const { options, store, log } = this.ctx;
    if (this.#member !== undefined) {
      this.#refuse(new ProtocolError('ALREADY_JOINED', 'this connection is already in a room; leave first', 'join'));
      return;
    }
    if (this.ctx.isShuttingDown()) {
      this.#refuse(new ProtocolError('SHUTTING_DOWN', 'the server is shutting down', 'join'));
      return;
    }
    if (this.ctx.isDraining()) {
      this.#refuse(new ProtocolError('DRAINING', 'this instance is draining; join another one', 'join'));
      return;
    }
    let sub: string | undefined;
    if (options.tokenSecret !== undefined) {
      if (frame.token === undefined) {
        this.#refuse(new ProtocolError('UNAUTHORIZED', 'this server needs a room token', 'join'));
        return;
      }
      const claims = verifyRoomToken(options.tokenSecret, frame.token, frame.room, Date.now() / 1000);
      if ('refused' in claims) {
        this.#refuse(new ProtocolError('UNAUTHORIZED', claims.refused, 'join'));
        return;
      }
      sub = claims.sub;
    }
    const id = newMemberId();
    const { room } = frame;
    const iceServers = await options.iceServers(sub === undefined ? { id, room } : { id, room, sub });
    // Gone while the provider ran: announcing it to the room would only be followed by a leave.
    if (this.#closed) return;
    const hello = frame.hello;
    const announce = encodeFrame(hello === undefined ? { type: 'member-joined', id } : { type: 'member-joined', id, hello });
    // A shared store may hand this member frames between adding it and resolving the join;
    // they wait here, since nothing may reach a member before its `joined`.
    let early: string[] | undefined = [];
    const deliver = (text: string): void => {
      if (early === undefined) this.#write(text);
      else early.push(text);
    };
    const outcome = await store.join(room, { id, hello, deliver }, options.maxMembers, announce);
    if (!outcome.ok) {
      this.#refuse(new ProtocolError('ROOM_FULL', `the room holds at most ${options.maxMembers} members`, 'join'));
      return;
    }
    this.#member = { id, room };
    const members = outcome.others.map((m) => m.id);
    const joined: ServerFrame = { type: 'joined', room, id, members, iceServers };
    const withHello = outcome.others.filter((m) => m.hello !== undefined);
    if (withHello.length > 0) joined.hellos = Object.fromEntries(withHello.map((m) => [m.id, m.hello]));
    if (options.sfu) joined.sfu = sfuEndpoints(room, id, options.mediaTokenSecret);
    this.send(joined);
    for (const text of early) this.#write(text);
    early = undefined;
    log('info', 'join', { remote: this.remote, id, room, sub, members: outcome.others.length + 1 });
  }

  #signal(to: string, payload: unknown): void | Promise<void> {
    const member = this.#member;
    if (member === undefined) {
      this.#refuse(new ProtocolError('NOT_JOINED', 'signal before join', 'signal'));
      return;
    }
    // The frame is rebuilt from scratch: `from` is always the sender's own id.
    const relayed = encodeFrame({ type: 'signal', from: member.id, payload });
    const delivered = to !== member.id && this.ctx.store.send(member.room, to, relayed);
    if (delivered instanceof Promise) return delivered.then((ok) => this.#relayed(ok, to));
    this.#relayed(delivered, to);
  }

  #relayed(delivered: boolean, to: string): void {
    if (delivered) this.ctx.metrics.framesRelayed += 1;
    else this.#refuse(new ProtocolError('NO_SUCH_MEMBER', 'no member with that id in this room', 'signal'), to);
  }

  async #leave(): Promise<void> {
    const member = this.#member;
    if (member === undefined) return;
    this.#member = undefined;
    this.ctx.memberLeft(member.room, member.id);
    // During shutdown everyone is leaving; announcing each departure would only add noise.
    const announce = this.ctx.isShuttingDown() ? undefined : encodeFrame({ type: 'member-left', id: member.id });
    await this.ctx.store.leave(member.room, member.id, announce);
    this.ctx.log('info', 'leave', { remote: this.remote, id: member.id, room: member.room });
  }

  #onClose(): void {
    this.#closed = true;
    this.#enqueue(() => this.#leave());
  }

  /** Drops the connection at once, without a closing handshake. */
  terminate(): void {
    this.socket.terminate();
  }

  /** Tells the client the server is going away, then closes with 1012 so it reconnects. */
  shutdown(): void {
    this.send(errorFrame(new ProtocolError('SHUTTING_DOWN', 'the server is restarting; reconnect')));
    this.socket.close(CloseCode.SERVICE_RESTART, 'server restarting');
  }

  /** Sends a WebSocket ping, or drops the connection if the last one went unanswered. */
  sweep(): void {
    if (!this.alive) {
      this.ctx.log('info', 'dead', { remote: this.remote, id: this.#member?.id });
      this.socket.terminate();
      return;
    }
    this.alive = false;
    this.socket.ping();
  }
}
