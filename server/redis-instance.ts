/**
 * One server instance's registration in Redis, and how instances tell each other's liveness.
 *
 * An instance is alive while its heartbeat key exists and something listens on its signals
 * channel (redis-scripts' liveness check). A killed process is gone as soon as Redis sees its
 * connections close; a hung one once its heartbeat key expires, after {@link TTL_BEATS} missed
 * heartbeats. Every instance sweeps the dead ones once per heartbeat, and before each join.
 *
 * A sweep spans hash slots (the set of instances, each instance's keys, each room of a dead
 * one), so it is a series of steps, each of which may run twice: a member's removal is one
 * atomic script that announces it only if it was still there, so two sweepers never announce a
 * member twice. A sweeper deletes a dead instance's heartbeat key first: an instance that was
 * only slow finds its key gone at its next heartbeat and is told through `lost`.
 */
import { randomBytes } from 'node:crypto';
import type { RedisClient } from './redis-client.js';
import { decodeHeld, encodeHeld } from './redis-codec.js';
import type { KeyNames } from './redis-keys.js';
import type { LogLevel } from './log.js';
import type { StoreScripts } from './redis-scripts.js';

/** Heartbeats an instance may miss before it is taken for dead: a busy one must not be. */
export const TTL_BEATS = 10;

/** What a registration needs besides its connection. */
export interface RegistrationContext {
  readonly names: KeyNames;
  readonly scripts: StoreScripts;
  readonly heartbeatMs: number;
  /** This instance can no longer be trusted by the others; called at most once. */
  readonly lost: (reason: string) => void;
  readonly log: (level: LogLevel, event: string, fields?: Record<string, unknown>) => void;
}

/** A registered instance: a fresh random id, a heartbeat and a sweep every `heartbeatMs`. */
export class InstanceRegistration {
  /** Never reused: an instance that registers again after a loss is a new one to the others. */
  readonly id = randomBytes(8).toString('hex');
  /** The channel of signals for this instance's members. */
  readonly signals: string;
  readonly #context: RegistrationContext;
  readonly #command: RedisClient;
  readonly #ttlMs: number;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #beating = false;
  /** When Redis last renewed the heartbeat key. */
  #renewedAt = Date.now();
  /** Commands time out: Redis hangs, or the network to it does. */
  #unresponsive = false;
  /** The sweep running, and the one queued behind it. */
  #sweeps: { running?: Promise<number> | undefined; queued?: Promise<number> | undefined } = {};

  private constructor(context: RegistrationContext, command: RedisClient) {
    this.#context = context;
    this.#command = command;
    this.#ttlMs = context.heartbeatMs * TTL_BEATS;
    this.signals = context.names.of(this.id, 'signals');
  }

  /**
   * Registers a new instance, with `subscribe` listening on its signals channel, and starts its
   * heartbeat. Rejects when Redis does.
   */
  static async register(context: RegistrationContext, command: RedisClient, subscribe: (channel: string) => Promise<unknown>): Promise<InstanceRegistration> {
    const registration = new InstanceRegistration(context, command);
    const { names, heartbeatMs } = context;
    // Subscribed first: a sweeper takes an instance nobody listens for as dead.
    await subscribe(registration.signals);
    await command.set(names.of(registration.id, 'alive'), '1', 'PX', registration.#ttlMs);
    await command.sadd(names.instances, registration.id);
    registration.#timer = setInterval(() => void registration.#beat(), heartbeatMs);
    return registration;
  }

  async #beat(): Promise<void> {
    if (this.#beating) return;
    this.#beating = true;
    const { log, names } = this.#context;
    try {
      const renewed = await this.#command.pexpire(names.of(this.id, 'alive'), this.#ttlMs);
      this.#renewedAt = Date.now();
      if (this.#unresponsive) log('info', 'store-responsive', { store: 'redis' });
      this.#unresponsive = false;
      if (renewed === 0) {
        if (!this.#stopped) this.#context.lost('this instance missed its heartbeats and was swept');
        return;
      }
      const swept = await this.sweep();
      if (swept > 0) log('info', 'swept', { members: swept });
    } catch (error) {
      if (this.#stopped) return;
      if (!this.#unresponsive) log('warn', 'store-unresponsive', { store: 'redis', message: String(error) });
      this.#unresponsive = true;
      // The others take this instance for dead once its key expires; its mirrors are then wrong.
      if (Date.now() - this.#renewedAt >= this.#ttlMs) this.#context.lost(`no heartbeat reached Redis for ${this.#ttlMs} ms`);
    } finally {
      this.#beating = false;
    }
  }

  /**
   * Removes the members of every dead instance; resolves with how many. A call while a sweep
   * runs waits for a sweep that starts after it, shared by every call made meanwhile.
   */
  sweep(): Promise<number> {
    const start = (): Promise<number> => {
      const running = this.#sweepAll().finally(() => {
        if (this.#sweeps.running === running) this.#sweeps.running = undefined;
      });
      this.#sweeps.running = running;
      return running;
    };
    const { running, queued } = this.#sweeps;
    if (running === undefined) return start();
    if (queued !== undefined) return queued;
    const next = running.catch(() => 0).then(() => {
      this.#sweeps.queued = undefined;
      return start();
    });
    this.#sweeps.queued = next;
    return next;
  }

  async #sweepAll(): Promise<number> {
    const { names, scripts } = this.#context;
    const ids = await this.#command.smembers(names.instances);
    const checks = ids.filter((id) => id !== this.id).map(async (id) => ((await scripts.alive(this.#command, id)) ? 0 : this.sweepInstance(id)));
    return (await Promise.all(checks)).reduce((sum, n) => sum + n, 0);
  }

  /** Takes instance `id` for dead and removes its members; resolves with how many it announced. */
  async sweepInstance(id: string): Promise<number> {
    const { names, scripts } = this.#context;
    await this.#command.del(names.of(id, 'alive'));
    const held = names.of(id, 'held');
    let swept = 0;
    for (const entry of await this.#command.smembers(held)) {
      const member = decodeHeld(entry);
      if (member !== undefined && (await scripts.leave(this.#command, member.room, member.id, id))) swept += 1;
    }
    await this.#command.del(held);
    await this.#command.srem(names.instances, id);
    return swept;
  }

  /** Records that this instance holds member `id` of `room`, before the join script runs. */
  async hold(id: string, room: string): Promise<void> {
    await this.#command.sadd(this.#context.names.of(this.id, 'held'), encodeHeld(id, room));
  }

  /** Forgets member `id` of `room`, after it left. */
  async release(id: string, room: string): Promise<void> {
    await this.#command.srem(this.#context.names.of(this.id, 'held'), encodeHeld(id, room));
  }

  /** Stops the heartbeat; the instance stays registered until it is swept. */
  stop(): void {
    this.#stopped = true;
    clearInterval(this.#timer);
  }

  /** Stops the heartbeat and takes this instance for dead at once, sweeping its members. */
  async unregister(): Promise<void> {
    this.stop();
    await this.sweepInstance(this.id);
  }
}
