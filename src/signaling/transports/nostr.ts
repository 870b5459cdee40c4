import { PeerKitError } from '../../errors.js';
import { newIdentity } from './nostr-event.js';
import type { Content, Identity } from './nostr-event.js';
import { resolveNostrOptions } from './nostr-options.js';
import type { NostrTransportOptions, ResolvedNostrOptions } from './nostr-options.js';
import { SenderOrder } from './nostr-order.js';
import type { RelayLink } from './nostr-relay-link.js';
import { RelayPool } from './nostr-relay-pool.js';
import { PoliteTransport } from './polite-transport.js';
import { Strangers } from '../strangers.js';
import { joinResult } from './polite.js';
import type { SignalingTransport, TransportState } from '../transport.js';

export type { NostrTransportOptions } from './nostr-options.js';

/**
 * Shortest wait for answers to an announcement: an answer crosses the relay twice and is signed
 * and checked twice, which takes longer than the relay's OK on a loaded machine.
 */
const MIN_DISCOVERY_MS = 500;

/**
 * A {@link SignalingTransport} over public Nostr relays: no server of yours at all. Each member
 * is a throwaway key pair (`nostr-tools`), its member id the public key, so a member cannot
 * speak as another: every event is signed and checked. Events are ephemeral (relays pass them on
 * and keep nothing); broadcasts carry the room as a SHA-256 hash in a `y` tag, payloads carry
 * their recipient in a `p` tag, so each member subscribes to its room and its own key only.
 *
 * Several relays are used at once: every event goes to each, and each event received is used
 * once. A relay that is down, refuses an event or a subscription (NIP-01 `OK false`, `CLOSED`),
 * rate-limits or demands NIP-42 AUTH is reported as an `error` and skipped; the transport
 * carries on while another relay works.
 *
 * A joining member announces itself; those present answer it directly, so it finds them in
 * about one round trip. Once connected, an idle member sends a presence beat every
 * `heartbeatMs`, nothing else.
 *
 * `join()` connects to every relay, subscribes, announces this member and collects the answers
 * of those present. It rejects with `TRANSPORT_ERROR` when no relay serves the room within
 * `connectTimeoutMs`; the transport is closed then. `send()` signs each payload and sends it
 * through every relay that serves the room; `close()` says goodbye through every relay first,
 * so the others see this member leave at once.
 *
 * @example
 * ```ts
 * import { Room } from 'peerkit';
 * import { NostrTransport } from 'peerkit/nostr';
 *
 * const room = await Room.join('team-42', {
 *   transport: new NostrTransport({ relays: ['wss://relay-a.example', 'wss://relay-b.example'] }),
 *   secret: 'correct horse battery staple',
 * });
 * ```
 */
export class NostrTransport extends PoliteTransport<unknown> {
  readonly #options: ResolvedNostrOptions;
  /** This member's key, id and room; the pool reads them at each use. */
  readonly #me: Identity = newIdentity();
  readonly #pool: RelayPool;
  /** Present members: their hello and when they were last heard. */
  #members = new Map<string, { hello: unknown; heard: number }>();
  /** Payloads from senders not known yet (their announcement may come through a slower relay). */
  readonly #strangers = new Strangers(64, 64);
  /** Non-null while discovering: arrivals collected for the join result. */
  #discovery: { members: Map<string, unknown>; early: [string, unknown][]; timer?: ReturnType<typeof setTimeout> } | undefined;
  /** Payloads sent to each member, counted, so the receiver can put them back in order. */
  #sent = new Map<string, number>();
  readonly #order = new SenderOrder((from, payload) => this.#message(from, payload));
  #previousKey: Uint8Array | undefined;
  /** Payloads that wait, in order, from join()'s resolution until the caller's continuation has run. */
  #early: [string, unknown][] | undefined;
  #beatTimer: ReturnType<typeof setInterval> | undefined;
  #connectTimer: ReturnType<typeof setTimeout> | undefined;

  /**
   * @throws PeerKitError `BAD_ARGUMENT` without a `ws:`/`wss:` relay URL, with a kind that is not
   * ephemeral, or with a negative option; `UNSUPPORTED` where no `WebSocket` exists.
   */
  constructor(options: NostrTransportOptions) {
    const resolved = resolveNostrOptions(options);
    super({ name: 'NostrTransport', label: 'nostr', urls: resolved.relays, pacing: resolved });
    this.#options = resolved;
    this.#pool = new RelayPool(resolved, this.#me, {
      ready: (link) => this.#ready(link),
      lost: () => this.#lost(),
      content: (from, content) => this.#content(from, content),
      error: (error) => {
        if (this.state !== 'closed') this.emit('error', error);
      },
    });
  }

  protected override connect(hash: string): void {
    this.#me.hash = hash;
    this.#connectTimer = setTimeout(() => this.#giveUp('no relay served the room in time'), this.#options.connectTimeoutMs);
    this.#pool.connect();
  }

  protected override wrap(payload: unknown): unknown {
    // Throws now for what JSON cannot carry; the event is made when the queue lets it go.
    JSON.stringify(payload);
    return payload;
  }

  /** Says goodbye through every relay if it was in the room (the others see it leave at once), then disconnects. */
  protected override async release(from: TransportState): Promise<void> {
    const bye = from === 'joined' ? this.#pool.publish({ t: 'bye' }) : undefined;
    clearTimeout(this.#connectTimer);
    clearTimeout(this.#discovery?.timer);
    clearInterval(this.#beatTimer);
    this.#discovery = undefined;
    this.#early = undefined;
    this.pacing.queue.clear();
    this.#members.clear();
    this.#strangers.clear();
    this.#order.clear();
    if (bye !== undefined) await this.#pool.acknowledged(bye, 1000);
    this.#pool.end();
  }

  /** A relay serves both subscriptions now: announce on it. */
  #ready(link: RelayLink): void {
    if (this.state === 'connecting' && this.#discovery === undefined) return this.#discover();
    if (this.state === 'reconnecting') return this.#rejoin();
    // Still discovering: the announcement went out on the relays that were ready; this one too.
    if (this.state === 'connecting') this.#pool.publish(this.#presence('hi'), link);
    // A relay that came back: a beat makes members only on it answer, without waking everyone.
    if (this.state === 'joined') this.#pool.publish(this.#presence('beat'), link);
  }

  /** A relay stopped serving: the transport fails when all refused it, and goes offline when none is left. */
  #lost(): void {
    if (this.#pool.refused) this.#giveUp('every relay refused us');
    else if (this.state === 'joined' && !this.#pool.usable) this.#outage();
  }

  /** Announces this member and waits about one round trip for the answers. */
  #discover(): void {
    clearTimeout(this.#connectTimer);
    this.#discovery = { members: new Map(), early: [] };
    const sentAt = Date.now();
    const hi = this.#pool.publish(this.#presence('hi'));
    const finish = (): void => this.#joined();
    const longest = this.#options.discoveryMs;
    this.#discovery.timer = setTimeout(finish, longest);
    void this.#pool.acknowledged(hi, longest).then(() => {
      const discovery = this.#discovery;
      if (discovery === undefined) return;
      clearTimeout(discovery.timer);
      const wait = Math.min(longest, Math.max(MIN_DISCOVERY_MS, 4 * (Date.now() - sentAt))) - (Date.now() - sentAt);
      discovery.timer = setTimeout(finish, Math.max(0, wait));
    });
  }

  #joined(): void {
    const discovery = this.#discovery;
    if (discovery === undefined || this.state === 'closed') return;
    this.#discovery = undefined;
    const now = Date.now();
    this.#members = new Map([...discovery.members].map(([id, hello]) => [id, { hello, heard: now }]));
    clearInterval(this.#beatTimer);
    this.#beatTimer = setInterval(() => this.#beat(), this.#options.heartbeatMs);
    this.joined(joinResult(this.#me.id, discovery.members));
    // After the caller's continuation has run, like BroadcastChannelTransport: listeners added
    // right after `await join()` see what arrived meanwhile, and what arrives meanwhile queues behind.
    this.#early = discovery.early;
    setTimeout(() => {
      const early = this.#early ?? [];
      this.#early = undefined;
      if (this.state !== 'joined') return;
      for (const [from, payload] of early) this.#message(from, payload);
      this.drain();
    }, 0);
  }

  /** No relay is left: this member takes a new key, so it is re-recognised rather than confused with its past self. */
  #outage(): void {
    this.setState('reconnecting');
    clearInterval(this.#beatTimer);
    this.pacing.queue.pause();
    this.#previousKey = this.#me.key;
    const previousId = this.#me.id;
    const next = newIdentity();
    this.#me.key = next.key;
    this.#me.id = next.id;
    this.pacing.queue.rewrite((to, payload) => (to === previousId ? undefined : payload));
    this.#sent = new Map();
    // Subscriptions on sockets still open (a relay that refused to publish, say) name the old key.
    this.#pool.resubscribe();
  }

  #rejoin(): void {
    const previous = this.#previousKey;
    this.#previousKey = undefined;
    if (previous !== undefined) this.#pool.publish({ t: 'bye' }, undefined, previous);
    this.setState('connecting');
    this.#discover();
  }

  #presence(t: 'hi' | 'here' | 'beat'): Content {
    return this.hello === undefined ? { t } : { t, h: this.hello };
  }

  #beat(): void {
    this.#pool.publish(this.#presence('beat'));
    const deadline = Date.now() - this.#options.timeoutMs;
    for (const [id, member] of this.#members) if (member.heard < deadline) this.#gone(id);
  }

  #gone(id: string): void {
    this.#sent.delete(id);
    this.#order.forget(id);
    if (!this.#members.delete(id)) return;
    this.emit('member-left', id);
  }

  /** What member `from` said, in a signed event for this member. */
  #content(from: string, content: Content): void {
    if (this.state === 'closed') return;
    if (content.t === 'msg') return this.#order.take(from, content.n, content.p);
    if (content.t === 'bye') {
      this.#strangers.take(from);
      this.#discovery?.members.delete(from);
      return this.#gone(from);
    }
    const known = this.#members.has(from) || this.#discovery?.members.has(from) === true;
    const member = this.#members.get(from);
    if (member !== undefined) member.heard = Date.now();
    if (known && content.t !== 'hi') return;
    // Announcements past the limit are ignored: answering each would let one key flood the relays.
    if (!this.arrivals.take(from)) return;
    if (content.t !== 'here') this.#pool.publish(this.#presence('here'), undefined, undefined, from);
    if (!known) this.#arrive(from, content.h);
  }

  #arrive(id: string, hello: unknown): void {
    // Payloads that came before the announcement (through a faster relay) go first.
    const held = this.#strangers.take(id);
    if (this.#discovery !== undefined) {
      this.#discovery.members.set(id, hello);
      for (const payload of held) this.#discovery.early.push([id, payload]);
      return;
    }
    this.#members.set(id, { hello, heard: Date.now() });
    this.emit('member-joined', id, hello);
    for (const payload of held) this.#message(id, payload);
  }

  #message(from: string, payload: unknown): void {
    if (this.#discovery !== undefined) {
      if (this.#discovery.members.has(from)) this.#discovery.early.push([from, payload]);
      else this.#strangers.hold(from, payload);
      return;
    }
    if (!this.#members.has(from)) return this.#strangers.hold(from, payload);
    if (this.#early !== undefined) return void this.#early.push([from, payload]);
    this.deliver(from, payload);
  }

  protected override drain(): void {
    if (this.state !== 'joined') return;
    this.pacing.queue.drain(
      (to) => this.#members.has(to),
      (to, payload) => {
        const n = (this.#sent.get(to) ?? 0) + 1;
        this.#sent.set(to, n);
        this.#pool.publish({ t: 'msg', n, p: payload }, undefined, undefined, to);
      },
    );
  }

  #giveUp(why: string): void {
    this.fail(new PeerKitError('TRANSPORT_ERROR', `${why} (${this.#options.relays.join(', ')})`));
  }
}
