/**
 * One server instance's registration in Redis, and how instances tell each other's liveness.
 *
 * An instance is alive while its heartbeat key exists and something listens on its signals
 * channel. A killed process is gone as soon as Redis sees its connections close; a hung one once
 * its heartbeat key expires, after {@link TTL_BEATS} missed heartbeats. Every instance sweeps the
 * dead ones once per heartbeat (and every join sweeps first, see redis-scripts). An instance that
 * finds it was swept itself is told through `lost`: its members are gone for everyone else.
 */
import { randomBytes } from 'node:crypto';
import type { KeyNames } from './redis-keys.js';
import type { LogLevel } from './log.js';
import type { StoreScripts } from './redis-scripts.js';
import type { RedisConnection } from './resp.js';

/** Heartbeats an instance may miss before it is taken for dead: a busy one must not be. */
const TTL_BEATS = 10;

/** What a registration needs besides its connections. */
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
  readonly #command: RedisConnection;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  private constructor(context: RegistrationContext, command: RedisConnection) {
    this.#context = context;
    this.#command = command;
    this.signals = context.names.of(this.id, 'signals');
  }

  /**
   * Registers a new instance, with `subscriber` listening on its signals channel, and starts its
   * heartbeat. Rejects when Redis does.
   */
  static async register(context: RegistrationContext, command: RedisConnection, subscriber: RedisConnection): Promise<InstanceRegistration> {
    const registration = new InstanceRegistration(context, command);
    const { names, heartbeatMs } = context;
    // Subscribed first: a sweeper takes an instance nobody listens for as dead.
    await subscriber.command(['SUBSCRIBE', registration.signals]);
    await command.command(['SET', names.of(registration.id, 'alive'), '1', 'PX', heartbeatMs * TTL_BEATS]);
    await command.command(['SADD', names.instances, registration.id]);
    registration.#timer = setInterval(() => void registration.#beat(), heartbeatMs);
    return registration;
  }

  async #beat(): Promise<void> {
    const { scripts, heartbeatMs, log } = this.#context;
    try {
      if (!(await scripts.beat(this.#command, this.id, heartbeatMs * TTL_BEATS))) {
        if (!this.#stopped) this.#context.lost('this instance missed its heartbeats and was swept');
        return;
      }
      const swept = await scripts.sweep(this.#command);
      if (swept > 0) log('info', 'swept', { members: swept });
    } catch (error) {
      // A lost connection reports itself; anything else is worth a line.
      if (!this.#stopped) log('warn', 'heartbeat-failed', { message: String(error) });
    }
  }

  /** Stops the heartbeat; the instance stays registered until it is swept. */
  stop(): void {
    this.#stopped = true;
    clearInterval(this.#timer);
  }

  /** Stops the heartbeat and takes this instance for dead at once, sweeping its members. */
  async unregister(): Promise<void> {
    this.stop();
    await this.#command.command(['DEL', this.#context.names.of(this.id, 'alive')]);
    await this.#context.scripts.sweep(this.#command);
  }
}
