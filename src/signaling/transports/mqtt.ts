import { EventEmitter } from 'eventemitter3';
import mqtt from 'mqtt';
import type { IClientOptions, MqttClient } from 'mqtt';
import { PeerKitError } from '../../errors.js';
import { backoffDelay, isRecord, randomHex } from '../../util.js';
import { assertDurations, assertSendable, joinRefusal } from './checks.js';
import { Pacing, RateLimits, joinResult, roomHash, warnIfExposed } from './polite.js';
import type { JoinOptions, JoinResult, SignalingTransport, TransportEvents, TransportState } from '../transport.js';

/** Options for {@link MqttTransport}. */
export interface MqttTransportOptions {
  /** Broker user name. @default undefined */
  username?: string;
  /** Broker password. @default undefined */
  password?: string;
  /**
   * MQTT protocol version: 4 is MQTT 3.1.1, 5 is MQTT 5.0. With 5, the broker also drops a
   * stale presence by itself (message expiry).
   * @default 4
   */
  protocolVersion?: 4 | 5;
  /**
   * MQTT keep-alive, in seconds. A member that vanishes without closing (a crashed tab, a lost
   * network) is reported gone when the broker gives up on it: at most 1.5 times this after its
   * last packet (MQTT 3.1.1 section 3.1.2.10), through its last will; brokers may check later
   * (Mosquitto 2.0.11 over WebSocket: 1.6 to over 2 times, measured).
   * @default 20
   */
  keepaliveSeconds?: number;
  /**
   * First segment of every topic; the room's hash follows it.
   * @default 'peerkit/'
   */
  prefix?: string;
  /**
   * Interval at which each member refreshes its retained presence, in ms. Only stale presences
   * left behind by a broker that crashed with persistence on depend on it (the last will covers
   * everything else), so it is long.
   * @default 300000
   */
  announceIntervalMs?: number;
  /** Upper bound of the first reconnect delay, in ms (full jitter). @default 500 */
  minDelayMs?: number;
  /** Largest reconnect delay, in ms. @default 10000 */
  maxDelayMs?: number;
  /** How long one connection attempt may take, in ms. @default 10000 */
  connectTimeoutMs?: number;
  /** Payloads kept while not joined or over the rate limit; beyond it they are dropped with an `error`. @default 256 */
  maxQueue?: number;
  /**
   * Signals per second to one member, sent and accepted, after a burst of `signalBurst`.
   * Above it, ours wait and theirs are dropped with an `error` (`RATE_LIMITED`).
   * @default 20
   */
  signalsPerSecond?: number;
  /** Signals to one member at once before `signalsPerSecond` applies. @default 100 */
  signalBurst?: number;
}

/** A presence, retained on `<base>/p/<id>`; an empty payload there means "gone". */
interface Presence {
  v: 1;
  hello?: unknown;
  /** When it was published: a retained presence much older than the refresh interval is stale. */
  at: number;
}

/** What arrives on a member's inbox, `<base>/m/<id>`. */
type Inbox = { v: 1; t: 'msg'; from: string; p: unknown } | { v: 1; t: 'sync'; n: string };

const VERSION = 1;
const decoder = new TextDecoder();

function parseJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(decoder.decode(bytes));
  } catch {
    return undefined;
  }
}

function parseInbox(value: unknown): Inbox | undefined {
  if (!isRecord(value) || value.v !== VERSION) return undefined;
  if (value.t === 'msg' && typeof value.from === 'string' && 'p' in value) return { v: VERSION, t: 'msg', from: value.from, p: value.p };
  if (value.t === 'sync' && typeof value.n === 'string') return { v: VERSION, t: 'sync', n: value.n };
  return undefined;
}

/** CONNACK refusals that retrying would meet again: 3.1.1 codes 4 and 5, MQTT 5 codes 134 and 135. */
const isRefusal = (error: Error & { code?: unknown }): boolean => [4, 5, 134, 135].includes(Number(error.code));

/**
 * A {@link SignalingTransport} over an MQTT broker (Mosquitto, EMQX, HiveMQ...), through MQTT.js
 * over WebSocket, MQTT 3.1.1 or 5. Nothing of peerkit runs on the broker.
 *
 * Topics: `<prefix><hash>/p/<id>` holds each member's presence, retained, so a member joining
 * gets everyone present in one round trip; `<prefix><hash>/m/<id>` is each member's inbox. The
 * hash is a SHA-256 of the room name: the broker never sees the name. Presence comes from MQTT
 * itself: each member's last will empties its presence when the broker loses it, and a member
 * that closes empties it first. Once connected, an idle member sends its MQTT keep-alive and a
 * retained presence every `announceIntervalMs`, nothing else.
 *
 * QoS 1 everywhere (the broker acknowledges each message, so a payload is not lost to a full
 * buffer unseen); clean sessions with no expiry, because a member takes a new id on each
 * connection: messages queued for an old id would have no reader.
 *
 * @example
 * ```ts
 * import { Room } from 'peerkit';
 * import { MqttTransport } from 'peerkit/mqtt';
 *
 * const room = await Room.join('team-42', {
 *   transport: new MqttTransport('wss://broker.example:8884/mqtt', { username: 'me', password: 'pw' }),
 *   secret: 'correct horse battery staple',
 * });
 * ```
 */
export class MqttTransport extends EventEmitter<TransportEvents> implements SignalingTransport {
  readonly #urls: string[];
  readonly #options: Required<Omit<MqttTransportOptions, 'username' | 'password'>> & Pick<MqttTransportOptions, 'username' | 'password'>;
  /** Payloads waiting for the connection or for their recipient's rate, and the senders' rates. */
  readonly #pacing: Pacing<string>;
  /** How often each member may reappear: one that keeps doing so is flooding the broker. */
  readonly #presences = new RateLimits(3, 0.2);
  #state: TransportState = 'idle';
  #base = '';
  #hello: unknown;
  #selfId = '';
  #client: MqttClient | undefined;
  #attempt = 0;
  #everJoined = false;
  #pendingJoin: { resolve: (result: JoinResult) => void; reject: (error: PeerKitError) => void } | undefined;
  /** Present members and their hellos, as far as the broker has told. */
  #members = new Map<string, unknown>();
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #announceTimer: ReturnType<typeof setInterval> | undefined;

  /**
   * @param url - The broker's `ws:`/`wss:` URL, or several to try in order.
   * @throws PeerKitError `BAD_ARGUMENT` without a URL, with a URL that is not WebSocket, or with a
   * negative option.
   */
  constructor(url: string | string[], options: MqttTransportOptions = {}) {
    super();
    this.#urls = Array.isArray(url) ? [...url] : [url];
    if (this.#urls.length === 0 || !this.#urls.every((u) => typeof u === 'string' && /^wss?:\/\//.test(u))) {
      throw new PeerKitError('BAD_ARGUMENT', 'MqttTransport needs at least one ws:// or wss:// broker URL');
    }
    if (options.protocolVersion !== undefined && options.protocolVersion !== 4 && options.protocolVersion !== 5) {
      throw new PeerKitError('BAD_ARGUMENT', 'protocolVersion must be 4 (MQTT 3.1.1) or 5');
    }
    this.#options = {
      protocolVersion: options.protocolVersion ?? 4,
      keepaliveSeconds: options.keepaliveSeconds ?? 20,
      prefix: options.prefix ?? 'peerkit/',
      announceIntervalMs: options.announceIntervalMs ?? 300_000,
      minDelayMs: options.minDelayMs ?? 500,
      maxDelayMs: options.maxDelayMs ?? 10_000,
      connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
      maxQueue: options.maxQueue ?? 256,
      signalsPerSecond: options.signalsPerSecond ?? 20,
      signalBurst: options.signalBurst ?? 100,
    };
    assertDurations(this.#options);
    if (/[#+]/.test(this.#options.prefix)) throw new PeerKitError('BAD_ARGUMENT', 'prefix must not contain MQTT wildcards (+, #)');
    if (options.username !== undefined) this.#options.username = options.username;
    if (options.password !== undefined) this.#options.password = options.password;
    this.#pacing = new Pacing(this.#options);
  }

  /** The current state. */
  get state(): TransportState {
    return this.#state;
  }

  /**
   * Connects, subscribes to the room's topics and publishes this member's presence. Resolves
   * with the members present once the broker has delivered every retained presence. Rejects
   * with `UNAUTHORIZED` when the broker refuses the credentials, `TRANSPORT_ERROR` when no broker
   * answers; the transport is closed then.
   */
  join(room: string, options: JoinOptions = {}): Promise<JoinResult> {
    const refused = joinRefusal(this.#state, room);
    if (refused !== undefined) return Promise.reject(refused);
    this.#hello = options.hello;
    this.#setState('connecting');
    warnIfExposed('MqttTransport', this.#urls, this.#hello);
    return new Promise((resolve, reject) => {
      this.#pendingJoin = { resolve, reject };
      roomHash('mqtt', room).then(
        (hash) => {
          this.#base = `${this.#options.prefix}${hash.slice(0, 32)}`;
          if (this.#state === 'connecting') this.#connect();
        },
        (cause: unknown) => this.#shutdown(new PeerKitError('UNSUPPORTED', 'SHA-256 (crypto.subtle) is not available here', { cause })),
      );
    });
  }

  /**
   * Sends `payload` to member `to`, QoS 1. Queued while not joined or over the rate limit.
   * @throws PeerKitError `CLOSED` after `close()`, `BAD_ARGUMENT` for a payload JSON cannot carry.
   */
  send(to: string, payload: unknown): void {
    assertSendable(this.#state, to, payload);
    let text: string;
    try {
      text = JSON.stringify({ v: VERSION, t: 'msg', from: this.#selfId, p: payload });
    } catch (cause) {
      throw new PeerKitError('BAD_ARGUMENT', 'payload must be JSON-serialisable', { cause });
    }
    const full = this.#pacing.enqueue(to, text);
    if (full !== undefined) return void this.emit('error', full);
    this.#drain();
  }

  /** Empties this member's presence (the others see it leave at once), then disconnects. Idempotent. */
  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    const client = this.#client;
    const wasJoined = this.#state === 'joined';
    this.#client = undefined;
    this.#shutdown(new PeerKitError('CLOSED', 'the transport was closed before joining'));
    if (client === undefined) return;
    if (wasJoined && client.connected) {
      await new Promise<void>((resolve) => client.publish(`${this.#base}/p/${this.#selfId}`, '', { qos: 1, retain: true }, () => resolve()));
    }
    await new Promise<void>((resolve) => client.end(false, {}, () => resolve()));
  }

  #setState(next: TransportState): void {
    if (next === this.#state) return;
    this.#state = next;
    this.emit('state', next);
  }

  #connect(): void {
    const url = this.#urls[this.#attempt % this.#urls.length] ?? '';
    this.#attempt += 1;
    const previousId = this.#selfId;
    const selfId = randomHex(8);
    this.#selfId = selfId;
    const presenceTopic = `${this.#base}/p/${selfId}`;
    const v5 = this.#options.protocolVersion === 5;
    const options: IClientOptions = {
      protocolVersion: this.#options.protocolVersion,
      clientId: `peerkit-${selfId}`,
      clean: true,
      keepalive: this.#options.keepaliveSeconds,
      // Reconnecting is done here, with a new id each time, so that the last will names it.
      reconnectPeriod: 0,
      connectTimeout: this.#options.connectTimeoutMs,
      // The empty retained will clears this member's presence and tells every subscriber.
      will: { topic: presenceTopic, payload: new Uint8Array(0) as never, qos: 1, retain: true },
      ...(v5 && { properties: { sessionExpiryInterval: 0 } }),
      ...(this.#options.username !== undefined && { username: this.#options.username }),
      ...(this.#options.password !== undefined && { password: this.#options.password }),
    };
    const client = mqtt.connect(url, options);
    this.#client = client;
    const discovered = new Map<string, unknown>();
    const marker = randomHex(8);
    let syncing = true;
    client.on('connect', () => {
      const topics = [`${this.#base}/p/+`, `${this.#base}/m/${selfId}`];
      client.subscribe(topics, { qos: 1 }, (error) => {
        if (error) return this.#lost(client, error);
        // Retained presences follow the SUBACK; this marker, sent after it, arrives after them.
        client.publish(`${this.#base}/m/${selfId}`, JSON.stringify({ v: VERSION, t: 'sync', n: marker }), { qos: 1 });
      });
    });
    client.on('message', (topic, bytes, packet) => {
      if (client !== this.#client) return;
      const data = bytes as Uint8Array;
      if (topic.startsWith(`${this.#base}/p/`)) {
        const id = topic.slice(this.#base.length + 3);
        if (id === selfId || id === previousId) return;
        const presence = this.#parsePresence(data, packet.retain);
        if (syncing) {
          if (presence === undefined) discovered.delete(id);
          else discovered.set(id, presence.hello);
        } else this.#presence(id, presence);
        return;
      }
      const inbox = parseInbox(parseJson(data));
      if (inbox?.t === 'sync') {
        if (inbox.n !== marker || !syncing) return;
        syncing = false;
        this.#joined(client, presenceTopic, previousId, discovered);
      } else if (inbox?.t === 'msg' && !syncing) this.#receive(inbox.from, inbox.p);
    });
    client.on('error', (error: Error & { code?: unknown }) => {
      if (client !== this.#client) return;
      if (isRefusal(error)) return this.#refused(new PeerKitError('UNAUTHORIZED', `the MQTT broker refused to connect: ${error.message}`, { cause: error }));
      this.#lost(client, error);
    });
    client.on('close', () => this.#lost(client, 'connection closed'));
  }

  #parsePresence(bytes: Uint8Array, retained: boolean): Presence | undefined {
    if (bytes.byteLength === 0) return undefined;
    const value = parseJson(bytes);
    if (!isRecord(value) || value.v !== VERSION || typeof value.at !== 'number') return undefined;
    // A retained presence not refreshed for 2.5 intervals was left by a member the broker never saw go.
    if (retained && Date.now() - value.at > 2.5 * this.#options.announceIntervalMs) return undefined;
    return { v: VERSION, at: value.at, ...('hello' in value && { hello: value.hello }) };
  }

  #joined(client: MqttClient, presenceTopic: string, previousId: string, discovered: Map<string, unknown>): void {
    this.#attempt = 0;
    this.#everJoined = true;
    this.#members = discovered;
    this.#announce(client, presenceTopic);
    // Our previous connection's presence, in case the broker restarted before its will could run.
    if (previousId !== '') client.publish(`${this.#base}/p/${previousId}`, '', { qos: 1, retain: true });
    clearInterval(this.#announceTimer);
    this.#announceTimer = setInterval(() => this.#announce(client, presenceTopic), this.#options.announceIntervalMs);
    // Payloads queued under an earlier id go to members still present; the rest have nobody to reach.
    this.#pacing.queue.rewrite((to, text) => (discovered.has(to) ? this.#readdress(text) : undefined));
    this.#setState('joined');
    this.#drain();
    const result = joinResult(this.#selfId, discovered);
    this.#pendingJoin?.resolve(result);
    this.#pendingJoin = undefined;
    this.emit('joined', result);
  }

  #readdress(text: string): string {
    const value = JSON.parse(text) as Record<string, unknown>;
    return JSON.stringify({ ...value, from: this.#selfId });
  }

  #announce(client: MqttClient, topic: string): void {
    const presence: Presence = { v: VERSION, at: Date.now(), ...(this.#hello !== undefined && { hello: this.#hello }) };
    const expiry = Math.ceil((2.5 * this.#options.announceIntervalMs) / 1000);
    client.publish(topic, JSON.stringify(presence), {
      qos: 1,
      retain: true,
      ...(this.#options.protocolVersion === 5 && { properties: { messageExpiryInterval: expiry } }),
    });
  }

  #presence(id: string, presence: Presence | undefined): void {
    const known = this.#members.has(id);
    if (presence === undefined) {
      if (!known) return;
      this.#members.delete(id);
      this.emit('member-left', id);
      return;
    }
    if (known) return;
    if (!this.#presences.take(id)) return;
    this.#members.set(id, presence.hello);
    this.emit('member-joined', id, presence.hello);
  }

  #receive(from: string, payload: unknown): void {
    // Its presence comes first on the broker's queue; anything else is not from a member.
    if (!this.#members.has(from)) return;
    const limited = this.#pacing.admit(from);
    if (limited === undefined) this.emit('message', from, payload);
    else this.emit('error', limited);
  }

  #drain(): void {
    const client = this.#client;
    if (this.#state !== 'joined' || client === undefined || !client.connected) return;
    this.#pacing.queue.drain(
      (to) => this.#members.has(to),
      (to, text) =>
        client.publish(`${this.#base}/m/${to}`, text, { qos: 1 }, (error) => {
          if (error && client === this.#client) this.emit('error', new PeerKitError('TRANSPORT_ERROR', 'the MQTT broker did not take a payload', { cause: error }));
        }),
    );
  }

  /** The broker refused us: retrying would be refused again, so the transport closes. */
  #refused(error: PeerKitError): void {
    if (this.#pendingJoin === undefined) this.emit('error', error);
    this.#shutdown(error);
  }

  #lost(client: MqttClient, cause: unknown): void {
    if (client !== this.#client || this.#state === 'closed') return;
    this.#drop();
    if (!this.#everJoined) {
      if (this.#attempt < this.#urls.length) return this.#connect();
      const message = `could not reach an MQTT broker (${this.#urls.join(', ')})`;
      this.#shutdown(new PeerKitError('TRANSPORT_ERROR', message, { cause }));
      return;
    }
    this.#setState('reconnecting');
    this.#retryTimer = setTimeout(() => this.#connect(), backoffDelay(this.#attempt, this.#options.minDelayMs, this.#options.maxDelayMs));
  }

  #drop(): void {
    clearInterval(this.#announceTimer);
    this.#pacing.queue.pause();
    const client = this.#client;
    this.#client = undefined;
    client?.removeAllListeners();
    // MQTT.js emits `error` on a late failure; a listener keeps it from being thrown.
    client?.on('error', () => {});
    client?.end(true);
  }

  #shutdown(reason: PeerKitError): void {
    clearTimeout(this.#retryTimer);
    this.#setState('closed');
    this.#drop();
    this.#pacing.queue.clear();
    this.#members.clear();
    this.#pendingJoin?.reject(reason);
    this.#pendingJoin = undefined;
  }
}
