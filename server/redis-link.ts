/**
 * The Redis side of one {@link RedisRoomStore}: its command and subscriber connections and its
 * instance registration, made again after every loss. A loss (a connection that closed, a
 * registration swept by the others) means messages may have been missed, so the store is told
 * to forget what it knew; then the link reconnects with backoff and registers under a new id.
 * Joins that come meanwhile wait for it, a while.
 */
import type { LogLevel } from './log.js';
import type { RedisClient, RedisTarget } from './redis-client.js';
import { InstanceRegistration } from './redis-instance.js';
import type { KeyNames } from './redis-keys.js';
import type { StoreScripts } from './redis-scripts.js';

/** How long a join waits for the store to reconnect to Redis before it fails. */
const JOIN_WAIT_MS = 10_000;

/** The connections and registration of one life of this instance, between two losses. */
export interface Link {
  readonly command: RedisClient;
  readonly subscriber: RedisClient;
  readonly registration: InstanceRegistration;
}

/** What a {@link StoreLink} needs of its store. */
export interface StoreLinkContext {
  readonly names: KeyNames;
  readonly scripts: StoreScripts;
  readonly heartbeatMs: number;
  readonly log: (level: LogLevel, event: string, fields?: Record<string, unknown>) => void;
  /** A message on a channel the link subscribed to. */
  readonly message: (channel: string, data: string) => void;
  /** The link was lost: everything learnt through it is void. */
  readonly reset: (reason: string) => void;
}

/** The current {@link Link}, and the next one after a loss. */
export class StoreLink {
  readonly #target: RedisTarget;
  readonly #context: StoreLinkContext;
  #link: Link | undefined;
  #retry: NodeJS.Timeout | undefined;
  /** Joins waiting for the store to reconnect. */
  #waiting = new Set<() => void>();
  #retries = 0;
  #closed = false;

  constructor(target: RedisTarget, context: StoreLinkContext) {
    this.#target = target;
    this.#context = context;
  }

  /** The current link, if connected. */
  get current(): Link | undefined {
    return this.#link;
  }

  /** The current link; throws when not connected. */
  connected(): Link {
    if (this.#link === undefined) throw new Error('not connected to Redis');
    return this.#link;
  }

  /** Connects and registers this instance; rejects when Redis cannot be reached. */
  async connect(): Promise<void> {
    const target = this.#target;
    const { log } = this.#context;
    // Reconnections report every failed attempt; the loss itself is logged once, as store-lost.
    const onError = (error: Error): void => log('debug', 'redis-error', { message: error.message });
    const command = target.client('command', onError);
    const subscriber = target.client('subscriber', onError);
    const lost = (): void => {
      if (this.#link?.subscriber === subscriber) this.#lost('the Redis subscriber connection closed: messages may have been missed');
    };
    try {
      await target.connect(command);
      await target.connect(subscriber);
      subscriber.on(target.pubsub.message, (channel: string, data: string) => this.#context.message(channel, data));
      // A Cluster reports a lost sharded subscriber as -node; one server, as close.
      for (const event of ['close', 'end', '-node']) subscriber.on(event, lost);
      const context = { ...this.#context, lost: (reason: string) => this.#lost(reason) };
      const registration = await InstanceRegistration.register(context, command, (channel) => this.#subscribe(subscriber, channel));
      this.#link = { command, subscriber, registration };
      this.#retries = 0;
      for (const wake of this.#waiting) wake();
      log('info', 'store-ready', { store: 'redis', instance: registration.id });
    } catch (error) {
      command.disconnect();
      subscriber.disconnect();
      throw error;
    }
  }

  /**
   * Resolves once connected, waiting up to {@link JOIN_WAIT_MS} while the link reconnects: a
   * client that re-joins right after a reset (a failover) is served once Redis is back.
   */
  async ready(): Promise<void> {
    if (this.#link !== undefined || this.#closed) return;
    let wake = (): void => {};
    const woken = new Promise<void>((resolve) => (wake = resolve));
    this.#waiting.add(wake);
    const timer = setTimeout(wake, JOIN_WAIT_MS);
    try {
      await woken;
    } finally {
      clearTimeout(timer);
      this.#waiting.delete(wake);
    }
  }

  /** Subscribes to `channel` on the current link. */
  subscribe(channel: string): Promise<unknown> {
    return this.#subscribe(this.connected().subscriber, channel);
  }

  /** Unsubscribes from `channel`, if connected. */
  unsubscribe(channel: string): void {
    const subscriber = this.#link?.subscriber;
    const unsubscribed = this.#target.pubsub.unsubscribe === 'sunsubscribe' ? subscriber?.sunsubscribe(channel) : subscriber?.unsubscribe(channel);
    unsubscribed?.catch((error: unknown) => this.#context.log('debug', 'unsubscribe-failed', { message: String(error) }));
  }

  /** Publishes `message` on `channel` through `link`'s command connection. */
  publish(link: Link, channel: string, message: string): Promise<unknown> {
    return this.#target.pubsub.publish === 'SPUBLISH' ? link.command.spublish(channel, message) : link.command.publish(channel, message);
  }

  /** Unregisters this instance (its members are announced gone) and disconnects, for good. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#retry);
    try {
      await this.#link?.registration.unregister();
    } catch (error) {
      this.#context.log('warn', 'store-close-failed', { message: String(error) });
    }
    this.#disconnect();
  }

  #subscribe(subscriber: RedisClient, channel: string): Promise<unknown> {
    return this.#target.pubsub.subscribe === 'ssubscribe' ? subscriber.ssubscribe(channel) : subscriber.subscribe(channel);
  }

  /** Drops the link, tells the store, and registers again later. */
  #lost(reason: string): void {
    if (this.#closed || this.#link === undefined) return;
    this.#context.log('error', 'store-lost', { store: 'redis', reason });
    this.#disconnect();
    this.#context.reset(reason);
    this.#reconnect();
  }

  #reconnect(): void {
    const delay = Math.min(5000, 100 * 2 ** this.#retries) * (0.5 + Math.random() / 2);
    this.#retries += 1;
    this.#retry = setTimeout(() => {
      this.connect().catch((error: unknown) => {
        this.#context.log('warn', 'store-reconnect-failed', { message: String(error) });
        if (!this.#closed) this.#reconnect();
      });
    }, delay);
  }

  #disconnect(): void {
    const link = this.#link;
    this.#link = undefined;
    link?.registration.stop();
    link?.command.disconnect();
    link?.subscriber.disconnect();
  }
}
