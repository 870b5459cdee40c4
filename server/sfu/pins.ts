/**
 * Which Janus instance, and which VideoRoom on it, each peerkit room uses: in memory for one
 * server, in Redis when several servers serve the same rooms (`--redis`), so that every server
 * sends a room's members to the same VideoRoom.
 */
import type { RedisClient, RedisConnectionOptions } from '../redis-client.js';
import { RedisTarget } from '../redis-client.js';

/** A room's place: the Janus instance's API URL and the VideoRoom id on it. */
export interface Pin {
  url: string;
  id: number;
}

/** Where rooms are pinned, shared by every server of a deployment. */
export interface RoomPins {
  /**
   * The pin of `room`. When it has none, or its pin is on an instance `dead` says is down, it is
   * pinned to `fresh()` (the caller's pick), unless another server pinned it first: that pin wins.
   */
  pin(room: string, fresh: () => Promise<Pin>, dead: (url: string) => boolean): Promise<Pin>;
  /** Forgets `room`'s pin, if it is still `pin`. */
  unpin(room: string, pin: Pin): Promise<void>;
  /** How many rooms are pinned to each of `urls`. */
  counts(urls: readonly string[]): Promise<number[]>;
  close(): Promise<void>;
}

const same = (a: Pin | undefined, b: Pin | undefined): boolean => a !== undefined && b !== undefined && a.url === b.url && a.id === b.id;

/** The pins of one server. */
export class MemoryPins implements RoomPins {
  readonly #pins = new Map<string, Pin>();

  async pin(room: string, fresh: () => Promise<Pin>, dead: (url: string) => boolean): Promise<Pin> {
    const current = this.#pins.get(room);
    if (current !== undefined && !dead(current.url)) return current;
    const pin = await fresh();
    const now = this.#pins.get(room);
    // Another request pinned it while `fresh` ran.
    if (now !== undefined && !same(now, current) && !dead(now.url)) return now;
    this.#pins.set(room, pin);
    return pin;
  }

  async unpin(room: string, pin: Pin): Promise<void> {
    if (same(this.#pins.get(room), pin)) this.#pins.delete(room);
  }

  async counts(urls: readonly string[]): Promise<number[]> {
    const pinned = [...this.#pins.values()];
    return urls.map((url) => pinned.filter((pin) => pin.url === url).length);
  }

  async close(): Promise<void> {
    this.#pins.clear();
  }
}

/** Sets KEYS[1] to ARGV[1] when it is unset or still ARGV[2]; returns what it holds then. */
const SWAP = `local current = redis.call('GET', KEYS[1])
if current and current ~= ARGV[2] then return current end
redis.call('SET', KEYS[1], ARGV[1])
return ARGV[1]`;

/** Deletes KEYS[1] when it is still ARGV[1]. */
const DROP = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

function parsePin(raw: unknown): Pin | undefined {
  if (typeof raw !== 'string') return undefined;
  try {
    const value: unknown = JSON.parse(raw);
    if (typeof value === 'object' && value !== null && 'url' in value && 'id' in value && typeof value.url === 'string' && typeof value.id === 'number') return { url: value.url, id: value.id };
  } catch {
    return undefined;
  }
  return undefined;
}

/**
 * The pins in Redis: `<prefix>sfu:pin:{room}` holds a room's pin as JSON, changed only by
 * compare-and-set (so two servers that find a room unpinned, or its instance dead, at the same
 * moment agree on one pin), and `<prefix>sfu:rooms:<url>` the set of rooms pinned to an instance,
 * for the fewest-rooms pick.
 */
export class RedisPins implements RoomPins {
  readonly #client: RedisClient;
  readonly #prefix: string;
  readonly #connect: () => Promise<void>;
  #connected: Promise<void> | undefined;

  constructor(options: RedisConnectionOptions, prefix: string, onError: (error: Error) => void) {
    const target = new RedisTarget(options);
    this.#client = target.client('command', onError);
    this.#prefix = prefix;
    this.#connect = () => target.connect(this.#client);
  }

  #ready(): Promise<void> {
    this.#connected ??= this.#connect().catch((error: unknown) => {
      this.#connected = undefined;
      throw error;
    });
    return this.#connected;
  }

  #key(room: string): string {
    return `${this.#prefix}sfu:pin:{${room}}`;
  }

  #set(url: string): string {
    return `${this.#prefix}sfu:rooms:${url}`;
  }

  async pin(room: string, fresh: () => Promise<Pin>, dead: (url: string) => boolean): Promise<Pin> {
    await this.#ready();
    const raw = await this.#client.get(this.#key(room));
    const current = parsePin(raw);
    if (current !== undefined && !dead(current.url)) return current;
    const pin = await fresh();
    const held = parsePin(await this.#client.eval(SWAP, 1, this.#key(room), JSON.stringify(pin), raw ?? ''));
    if (held === undefined) throw new Error(`the pin of room ${room} in Redis is not a pin`);
    if (same(held, pin)) {
      if (current !== undefined) await this.#client.srem(this.#set(current.url), room);
      await this.#client.sadd(this.#set(pin.url), room);
    }
    return held;
  }

  async unpin(room: string, pin: Pin): Promise<void> {
    await this.#ready();
    await this.#client.eval(DROP, 1, this.#key(room), JSON.stringify(pin));
    await this.#client.srem(this.#set(pin.url), room);
  }

  async counts(urls: readonly string[]): Promise<number[]> {
    await this.#ready();
    return Promise.all(urls.map((url) => this.#client.scard(this.#set(url))));
  }

  async close(): Promise<void> {
    this.#client.disconnect();
  }
}
