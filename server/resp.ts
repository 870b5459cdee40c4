/**
 * A minimal Redis client: RESP2 over one TCP (or TLS) connection, pipelined, with pub/sub.
 * The Redis store needs a handful of commands (EVAL, SET, PUBLISH, SUBSCRIBE); this is small
 * enough to own and to test on split input, and keeps the server free of a client library and
 * its dependencies.
 */
import { connect as connectTcp } from 'node:net';
import type { Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';

/** A reply: simple and bulk strings as strings, integers, null for nil, arrays, errors. */
export type RespValue = string | number | null | RespError | RespValue[];

/** An error reply from Redis (`-ERR ...`). */
export class RespError extends Error {
  override name = 'RespError';
}

const CRLF = 0x0d;
/** Marks a value that has not fully arrived yet. */
const INCOMPLETE = Symbol('incomplete');

/** Reads RESP2 values from a byte stream that may arrive in any split. */
export class RespParser {
  #buffer: Buffer = Buffer.alloc(0);
  #offset = 0;

  /** Adds bytes; returns every value now complete, in order. */
  push(chunk: Buffer): RespValue[] {
    this.#buffer = this.#offset < this.#buffer.length ? Buffer.concat([this.#buffer.subarray(this.#offset), chunk]) : chunk;
    this.#offset = 0;
    const values: RespValue[] = [];
    for (;;) {
      const start = this.#offset;
      const value = this.#read();
      if (value === INCOMPLETE) {
        // Arrays are re-read whole once the rest arrives; they are short in this protocol's use.
        this.#offset = start;
        return values;
      }
      values.push(value);
    }
  }

  #line(): string | typeof INCOMPLETE {
    const end = this.#buffer.indexOf(CRLF, this.#offset);
    if (end === -1 || end + 1 >= this.#buffer.length) return INCOMPLETE;
    const text = this.#buffer.toString('latin1', this.#offset, end);
    this.#offset = end + 2;
    return text;
  }

  #read(): RespValue | typeof INCOMPLETE {
    if (this.#offset >= this.#buffer.length) return INCOMPLETE;
    const kind = String.fromCharCode(this.#buffer[this.#offset] ?? 0);
    this.#offset += 1;
    const line = this.#line();
    if (line === INCOMPLETE) return INCOMPLETE;
    switch (kind) {
      case '+':
        return line;
      case '-':
        return new RespError(line);
      case ':':
        return Number(line);
      case '$': {
        const length = Number(line);
        if (length < 0) return null;
        if (this.#offset + length + 2 > this.#buffer.length) return INCOMPLETE;
        const text = this.#buffer.toString('utf8', this.#offset, this.#offset + length);
        this.#offset += length + 2;
        return text;
      }
      case '*': {
        const count = Number(line);
        if (count < 0) return null;
        const items: RespValue[] = [];
        for (let i = 0; i < count; i++) {
          const item = this.#read();
          if (item === INCOMPLETE) return INCOMPLETE;
          items.push(item);
        }
        return items;
      }
      default:
        throw new RespError(`unexpected RESP type byte ${JSON.stringify(kind)}`);
    }
  }
}

/** Encodes one command as a RESP array of bulk strings. */
export function encodeCommand(args: readonly (string | number)[]): string {
  let out = `*${args.length}\r\n`;
  for (const arg of args) {
    const text = String(arg);
    out += `$${Buffer.byteLength(text)}\r\n${text}\r\n`;
  }
  return out;
}

/** What a connection reports besides replies. */
export interface RedisConnectionEvents {
  /** A pub/sub message on a subscribed channel. */
  message?: (channel: string, data: string) => void;
  /** The connection ended; called once, and never after `close()`. */
  lost: (reason: string) => void;
}

/** Where a `redis://` or `rediss://` URL points, and how to log in. */
export interface RedisAddress {
  tls: boolean;
  host: string;
  port: number;
  username?: string;
  password?: string;
  db?: number;
}

/** Reads `redis://[[user]:password@]host[:port][/db]`; `rediss://` means TLS. */
export function parseRedisUrl(url: string): RedisAddress {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError(`not a Redis URL: ${JSON.stringify(url)}`);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new TypeError(`a Redis URL starts with redis:// or rediss://, got ${JSON.stringify(url)}`);
  }
  const address: RedisAddress = {
    tls: parsed.protocol === 'rediss:',
    host: parsed.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1',
    port: parsed.port === '' ? 6379 : Number(parsed.port),
  };
  if (parsed.username !== '') address.username = decodeURIComponent(parsed.username);
  if (parsed.password !== '') address.password = decodeURIComponent(parsed.password);
  const db = parsed.pathname.replace(/^\//, '');
  if (db !== '') {
    if (!/^\d+$/.test(db)) throw new TypeError(`the database in a Redis URL is a number, got ${JSON.stringify(db)}`);
    address.db = Number(db);
  }
  return address;
}

/** One Redis connection. Commands are pipelined: replies come back in the order they were sent. */
export class RedisConnection {
  readonly #socket: Socket;
  readonly #parser = new RespParser();
  readonly #pending: { resolve: (value: RespValue) => void; reject: (error: Error) => void }[] = [];
  readonly #events: RedisConnectionEvents;
  #ended = false;
  #corked = false;

  private constructor(socket: Socket, events: RedisConnectionEvents) {
    this.#socket = socket;
    this.#events = events;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#receive(chunk));
    socket.on('error', (error) => this.#end(error.message));
    socket.on('close', () => this.#end('connection closed'));
  }

  /** Connects, logs in and selects the database; rejects when any of that fails. */
  static async open(address: RedisAddress, events: RedisConnectionEvents, timeoutMs = 5000): Promise<RedisConnection> {
    const { host, port } = address;
    const socket = address.tls ? connectTls({ host, port, servername: host }) : connectTcp({ host, port });
    await new Promise<void>((resolve, reject) => {
      const fail = (error: Error): void => {
        socket.destroy();
        reject(new Error(`cannot connect to Redis at ${host}:${port}: ${error.message}`));
      };
      socket.setTimeout(timeoutMs, () => fail(new Error('timed out')));
      socket.once('error', fail);
      socket.once(address.tls ? 'secureConnect' : 'connect', () => {
        socket.setTimeout(0);
        socket.off('error', fail);
        resolve();
      });
    });
    const connection = new RedisConnection(socket, events);
    try {
      if (address.password !== undefined) {
        await connection.command(address.username === undefined ? ['AUTH', address.password] : ['AUTH', address.username, address.password]);
      }
      if (address.db !== undefined) await connection.command(['SELECT', address.db]);
    } catch (error) {
      connection.close();
      throw error;
    }
    return connection;
  }

  /** Sends one command; resolves with its reply, rejects with an error reply or a lost connection. */
  command(args: readonly (string | number)[]): Promise<RespValue> {
    if (this.#ended) return Promise.reject(new Error('the Redis connection is closed'));
    // Commands issued in one tick leave in one write; at thousands of relays per second that
    // saves a system call per command.
    if (!this.#corked) {
      this.#corked = true;
      this.#socket.cork();
      process.nextTick(() => {
        this.#corked = false;
        this.#socket.uncork();
      });
    }
    this.#socket.write(encodeCommand(args));
    return new Promise((resolve, reject) => {
      this.#pending.push({
        resolve: (value) => (value instanceof RespError ? reject(value) : resolve(value)),
        reject,
      });
    });
  }

  /** Closes the connection; pending commands reject, and `lost` is not called. */
  close(): void {
    this.#end('closed', false);
    this.#socket.destroy();
  }

  #receive(chunk: Buffer): void {
    let values: RespValue[];
    try {
      values = this.#parser.push(chunk);
    } catch (error) {
      this.#socket.destroy();
      this.#end(error instanceof Error ? error.message : String(error));
      return;
    }
    for (const value of values) {
      // In subscriber mode, messages arrive between replies as ['message', channel, data].
      if (Array.isArray(value) && value[0] === 'message' && this.#events.message !== undefined) {
        const [, channel, data] = value;
        if (typeof channel === 'string' && typeof data === 'string') this.#events.message(channel, data);
        continue;
      }
      this.#pending.shift()?.resolve(value);
    }
  }

  #end(reason: string, report = true): void {
    if (this.#ended) return;
    this.#ended = true;
    const error = new Error(`Redis connection lost: ${reason}`);
    for (const waiter of this.#pending.splice(0)) waiter.reject(error);
    if (report) this.#events.lost(reason);
  }
}
