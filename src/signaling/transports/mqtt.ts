import mqtt from 'mqtt';
import type { IClientOptions, MqttClient } from 'mqtt';
import { PeerKitError } from '../../errors.js';
import { backoffDelay, randomHex } from '../../util.js';
import { resolveMqttOptions } from './mqtt-options.js';
import { encodeMessage, encodePresence, encodeSync, isRefusal, parseInbox, parsePresence, readdress } from './mqtt-wire.js';
import { PoliteTransport } from './polite-transport.js';
import { joinResult } from './polite.js';
import type { MqttTransportOptions, ResolvedMqttOptions } from './mqtt-options.js';
import type { Presence } from './mqtt-wire.js';
import type { SignalingTransport, TransportState } from '../transport.js';

export type { MqttTransportOptions } from './mqtt-options.js';

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
 * `join()` resolves with the members present once the broker has delivered every retained
 * presence. It rejects with `UNAUTHORIZED` when the broker refuses the credentials,
 * `TRANSPORT_ERROR` when no broker answers; the transport is closed then. `send()` queues
 * payloads while not joined or over the rate limit; `close()` empties this member's presence
 * first, so the others see it leave at once.
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
export class MqttTransport extends PoliteTransport<string> {
  readonly #urls: string[];
  readonly #options: ResolvedMqttOptions;
  #base = '';
  #selfId = '';
  #client: MqttClient | undefined;
  #attempt = 0;
  #everJoined = false;
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
    const urls = Array.isArray(url) ? [...url] : [url];
    if (urls.length === 0 || !urls.every((u) => typeof u === 'string' && /^wss?:\/\//.test(u))) {
      throw new PeerKitError('BAD_ARGUMENT', 'MqttTransport needs at least one ws:// or wss:// broker URL');
    }
    const resolved = resolveMqttOptions(options);
    super({ name: 'MqttTransport', label: 'mqtt', urls, pacing: resolved });
    this.#urls = urls;
    this.#options = resolved;
  }

  protected override connect(hash: string): void {
    this.#base = `${this.#options.prefix}${hash.slice(0, 32)}`;
    this.#connect();
  }

  protected override wrap(payload: unknown): string {
    return encodeMessage(this.#selfId, payload);
  }

  /** Empties this member's presence if it was in the room (the others see it leave at once), then disconnects. */
  protected override async release(from: TransportState): Promise<void> {
    clearTimeout(this.#retryTimer);
    clearInterval(this.#announceTimer);
    this.pacing.queue.clear();
    this.#members.clear();
    const client = this.#client;
    this.#client = undefined;
    if (client === undefined) return;
    if (from === 'joined' && client.connected) {
      await new Promise<void>((resolve) => client.publish(`${this.#base}/p/${this.#selfId}`, '', { qos: 1, retain: true }, () => resolve()));
    }
    await new Promise<void>((resolve) => client.end(false, {}, () => resolve()));
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
        client.publish(`${this.#base}/m/${selfId}`, encodeSync(marker), { qos: 1 });
      });
    });
    client.on('message', (topic, bytes, packet) => {
      if (client !== this.#client) return;
      const data = bytes as Uint8Array;
      if (topic.startsWith(`${this.#base}/p/`)) {
        const id = topic.slice(this.#base.length + 3);
        if (id === selfId || id === previousId) return;
        const presence = parsePresence(data, packet.retain, this.#options.announceIntervalMs);
        if (syncing) {
          if (presence === undefined) discovered.delete(id);
          else discovered.set(id, presence.hello);
        } else this.#presence(id, presence);
        return;
      }
      const inbox = parseInbox(data);
      if (inbox?.t === 'sync') {
        if (inbox.n !== marker || !syncing) return;
        syncing = false;
        this.#joined(client, presenceTopic, previousId, discovered);
      } else if (inbox?.t === 'msg' && !syncing) this.#receive(inbox.from, inbox.p);
    });
    client.on('error', (error: Error & { code?: unknown }) => {
      if (client !== this.#client) return;
      if (!isRefusal(error)) return this.#lost(client, error);
      // Retrying would be refused again, so the transport closes.
      this.#drop();
      this.fail(new PeerKitError('UNAUTHORIZED', `the MQTT broker refused to connect: ${error.message}`, { cause: error }));
    });
    client.on('close', () => this.#lost(client, 'connection closed'));
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
    this.pacing.queue.rewrite((to, text) => (discovered.has(to) ? readdress(text, this.#selfId) : undefined));
    this.setState('joined');
    this.drain();
    this.joined(joinResult(this.#selfId, discovered));
  }

  #announce(client: MqttClient, topic: string): void {
    const expiry = Math.ceil((2.5 * this.#options.announceIntervalMs) / 1000);
    client.publish(topic, encodePresence(this.hello), {
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
    if (!this.arrivals.take(id)) return;
    this.#members.set(id, presence.hello);
    this.emit('member-joined', id, presence.hello);
  }

  #receive(from: string, payload: unknown): void {
    // Its presence comes first on the broker's queue; anything else is not from a member.
    if (this.#members.has(from)) this.deliver(from, payload);
  }

  protected override drain(): void {
    const client = this.#client;
    if (this.state !== 'joined' || client === undefined || !client.connected) return;
    this.pacing.queue.drain(
      (to) => this.#members.has(to),
      (to, text) =>
        client.publish(`${this.#base}/m/${to}`, text, { qos: 1 }, (error) => {
          if (error && client === this.#client) this.emit('error', new PeerKitError('TRANSPORT_ERROR', 'the MQTT broker did not take a payload', { cause: error }));
        }),
    );
  }

  #lost(client: MqttClient, cause: unknown): void {
    if (client !== this.#client || this.state === 'closed') return;
    this.#drop();
    if (!this.#everJoined) {
      if (this.#attempt < this.#urls.length) return this.#connect();
      return this.fail(new PeerKitError('TRANSPORT_ERROR', `could not reach an MQTT broker (${this.#urls.join(', ')})`, { cause }));
    }
    this.setState('reconnecting');
    this.#retryTimer = setTimeout(() => this.#connect(), backoffDelay(this.#attempt, this.#options.minDelayMs, this.#options.maxDelayMs));
  }

  /** Lets the current connection go at once, without a goodbye. */
  #drop(): void {
    clearInterval(this.#announceTimer);
    this.pacing.queue.pause();
    const client = this.#client;
    this.#client = undefined;
    client?.removeAllListeners();
    // MQTT.js emits `error` on a late failure; a listener keeps it from being thrown.
    client?.on('error', () => {});
    client?.end(true);
  }
}
