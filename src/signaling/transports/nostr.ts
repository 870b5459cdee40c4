import { EventEmitter } from 'eventemitter3';
import { finalizeEvent, generateSecretKey, getPublicKey, verifyEvent } from 'nostr-tools/pure';
import type { Event as NostrEvent } from 'nostr-tools/pure';
import { PeerKitError } from '../../errors.js';
import { isRecord } from '../../util.js';
import { assertDurations, assertSendable, joinRefusal } from './checks.js';
import { RelayLink } from './nostr-relay-link.js';
import type { RelayLinkHandlers } from './nostr-relay-link.js';
import { Pacing, RateLimits, joinResult, roomHash, warnIfExposed } from './polite.js';
import type { JoinOptions, JoinResult, SignalingTransport, TransportEvents, TransportState } from '../transport.js';

/** Options for {@link NostrTransport}. */
export interface NostrTransportOptions {
  /** The relays' `wss:` URLs. Every event goes to each; each event received is used once. */
  relays: string[];
  /**
   * Event kind; ephemeral (20000-29999), so relays pass the events on and never store them.
   * @default 20172
   */
  kind?: number;
  /**
   * Interval of the presence beat each member sends, in ms. Nostr has no last will, so a member
   * that vanishes without a goodbye is noticed only by its silence.
   * @default 30000
   */
  heartbeatMs?: number;
  /** Silence after which a member is taken for gone, in ms. @default 75000 */
  timeoutMs?: number;
  /**
   * Longest wait, after this member's announcement, for the answers of those present, in ms.
   * The wait is four times the first relay's round trip, within 500 ms and this; members that
   * answer later still arrive, as `member-joined`.
   * @default 2000
   */
  discoveryMs?: number;
  /** How long `join()` waits for a relay to serve the room before it fails, in ms. @default 10000 */
  connectTimeoutMs?: number;
  /** Upper bound of the first delay before reconnecting to a relay, in ms (full jitter). @default 500 */
  minDelayMs?: number;
  /** Largest delay before reconnecting to a relay, in ms. @default 10000 */
  maxDelayMs?: number;
  /** Payloads kept while no relay is up or over the rate limit. @default 256 */
  maxQueue?: number;
  /** Signals per second to and from one member, after a burst of `signalBurst`. @default 20 */
  signalsPerSecond?: number;
  /** Signals to or from one member at once before `signalsPerSecond` applies. @default 100 */
  signalBurst?: number;
  /**
   * Answer NIP-42 AUTH challenges, with this session's throwaway key (it says nothing about the
   * user), so relays that serve authenticated clients only can be used.
   * @default true
   */
  auth?: boolean;
}

/** What goes in an event's content. `hi` asks the others to answer with `here`. */
type Content =
  | { t: 'hi' | 'here' | 'beat'; h?: unknown }
  | { t: 'bye' }
  | { t: 'msg'; n: number; p: unknown };

function parseContent(text: string): Content | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isRecord(value)) return undefined;
  if (value.t === 'hi' || value.t === 'here' || value.t === 'beat') return { t: value.t, ...('h' in value && { h: value.h }) };
  if (value.t === 'bye') return { t: 'bye' };
  if (value.t === 'msg' && 'p' in value && Number.isSafeInteger(value.n)) return { t: 'msg', n: value.n as number, p: value.p };
  return undefined;
}

/** Per relay: its subscriptions' progress and what it refused. */
interface RelayStatus {
  /** Subscriptions that reached EOSE on this socket. */
  eose: Set<string>;
  challenge: string | undefined;
  authId: string | undefined;
  authed: boolean;
  /** Events to send again once authenticated. */
  afterAuth: NostrEvent[];
  /** No events go to it before then (it said rate-limited). */
  coolUntil: number;
  /** Why it will not serve us; it is skipped for good. */
  refused: string | undefined;
  up: boolean;
}

const ROOM_SUB = 'peerkit-room';
const INBOX_SUB = 'peerkit-inbox';
const AUTH_KIND = 22242;
/** Events older than this (relay replay, clock skew) are ignored, in seconds. */
const MAX_AGE_S = 120;
const SEEN_IDS = 4096;
const COOL_MS = 10_000;
/**
 * Shortest wait for answers to an announcement: an answer crosses the relay twice and is signed
 * and checked twice, which takes longer than the relay's OK on a loaded machine.
 */
const MIN_DISCOVERY_MS = 500;
/** How long a payload that overtook an earlier one waits for it, in ms. */
const REORDER_MS = 1000;

type Pending = { waiting: Set<RelayLink>; accepted: boolean; reasons: string[] };

/**
 * Puts one sender's payloads back in order: relays may pass events on out of order, and a
 * payload that overtook another waits for it, for {@link REORDER_MS} at most.
 */
class Reorder {
  #next = 1;
  readonly #held = new Map<number, unknown>();
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly deliver: (payload: unknown) => void) {}

  take(n: number, payload: unknown): void {
    if (n < this.#next || this.#held.size >= 256) return;
    this.#held.set(n, payload);
    this.#flush();
  }

  #flush(): void {
    clearTimeout(this.#timer);
    while (this.#held.has(this.#next)) {
      const payload = this.#held.get(this.#next);
      this.#held.delete(this.#next++);
      this.deliver(payload);
    }
    if (this.#held.size === 0) return;
    this.#timer = setTimeout(() => {
      // The missing one is lost for good: go on from the next one held.
      this.#next = Math.min(...this.#held.keys());
      this.#flush();
    }, REORDER_MS);
  }

  stop(): void {
    clearTimeout(this.#timer);
  }
}

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
export class NostrTransport extends EventEmitter<TransportEvents> implements SignalingTransport {
  readonly #options: Required<NostrTransportOptions>;
  readonly #links: RelayLink[];
  readonly #status = new Map<RelayLink, RelayStatus>();
  readonly #announcements: RateLimits;
  readonly #pacing: Pacing<unknown>;
  #state: TransportState = 'idle';
  #hash = '';
  #hello: unknown;
  #secretKey = generateSecretKey();
  #selfId = getPublicKey(this.#secretKey);
  /** Present members: their hello and when they were last heard. */
  #members = new Map<string, { hello: unknown; heard: number }>();
  /** Payloads from senders not known yet (their announcement may come through a slower relay). */
  #strangers = new Map<string, unknown[]>();
  /** Non-null while discovering: arrivals collected for the join result. */
  #discovery: { members: Map<string, unknown>; early: [string, unknown][]; timer?: ReturnType<typeof setTimeout> } | undefined;
  /** Ids of events already used (they come once per relay), oldest first. */
  readonly #seen = new Set<string>();
  /** Events sent and the relays whose OK is awaited. */
  readonly #pending = new Map<string, Pending>();
  /** Payloads sent to each member, counted, so the receiver can put them back in order. */
  #sent = new Map<string, number>();
  #order = new Map<string, Reorder>();
  readonly #reported = new Set<string>();
  #pendingJoin: { resolve: (result: JoinResult) => void; reject: (error: PeerKitError) => void } | undefined;
  #previousKey: Uint8Array | undefined;
  /** Payloads that wait, in order, from join()'s resolution until the caller's continuation has run. */
  #early: [string, unknown][] | undefined;
  #everJoined = false;
  #beatTimer: ReturnType<typeof setInterval> | undefined;
  #connectTimer: ReturnType<typeof setTimeout> | undefined;

  /**
   * @throws PeerKitError `BAD_ARGUMENT` without a `ws:`/`wss:` relay URL, with a kind that is not
   * ephemeral, or with a negative option; `UNSUPPORTED` where no `WebSocket` exists.
   */
  constructor(options: NostrTransportOptions) {
    super();
    const relays = options?.relays;
    if (!Array.isArray(relays) || relays.length === 0 || !relays.every((url) => typeof url === 'string' && /^wss?:\/\//.test(url))) {
      throw new PeerKitError('BAD_ARGUMENT', 'NostrTransport needs relays: a list of ws:// or wss:// URLs');
    }
    if (typeof WebSocket === 'undefined') throw new PeerKitError('UNSUPPORTED', 'no global WebSocket here');
    this.#options = {
      relays: [...new Set(relays)],
      kind: options.kind ?? 20172,
      heartbeatMs: options.heartbeatMs ?? 30_000,
      timeoutMs: options.timeoutMs ?? 75_000,
      discoveryMs: options.discoveryMs ?? 2000,
      connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
      minDelayMs: options.minDelayMs ?? 500,
      maxDelayMs: options.maxDelayMs ?? 10_000,
      maxQueue: options.maxQueue ?? 256,
      signalsPerSecond: options.signalsPerSecond ?? 20,
      signalBurst: options.signalBurst ?? 100,
      auth: options.auth ?? true,
    };
    assertDurations(this.#options);
    const { kind } = this.#options;
    if (!Number.isInteger(kind) || kind < 20000 || kind > 29999) {
      throw new PeerKitError('BAD_ARGUMENT', `kind must be an ephemeral kind (20000-29999), got ${kind}`);
    }
    const handlers = this.#handlers();
    this.#links = this.#options.relays.map((url) => new RelayLink(url, handlers, this.#options));
    // A member announcing itself more than once in 5 s on average is flooding the relays.
    this.#announcements = new RateLimits(3, 0.2);
    this.#pacing = new Pacing(this.#options);
  }

  /** The current state. */
  get state(): TransportState {
    return this.#state;
  }

  /**
   * Connects to every relay, subscribes, announces this member and collects the answers of
   * those present. Rejects with `TRANSPORT_ERROR` when no relay serves the room within
   * `connectTimeoutMs`; the transport is closed then.
   */
  join(room: string, options: JoinOptions = {}): Promise<JoinResult> {
    const refused = joinRefusal(this.#state, room);
    if (refused !== undefined) return Promise.reject(refused);
    this.#hello = options.hello;
    this.#setState('connecting');
    warnIfExposed('NostrTransport', this.#options.relays, this.#hello);
    return new Promise((resolve, reject) => {
      this.#pendingJoin = { resolve, reject };
      roomHash('nostr', room).then(
        (hash) => {
          if (this.#state !== 'connecting') return;
          this.#hash = hash;
          this.#connectTimer = setTimeout(() => this.#giveUp('no relay served the room in time'), this.#options.connectTimeoutMs);
          for (const link of this.#links) link.connect();
        },
        (cause: unknown) => this.#shutdown(new PeerKitError('UNSUPPORTED', 'SHA-256 (crypto.subtle) is not available here', { cause })),
      );
    });
  }

  /**
   * Sends `payload` to member `to`, signed, through every relay that serves the room.
   * @throws PeerKitError `CLOSED` after `close()`, `BAD_ARGUMENT` for a payload JSON cannot carry.
   */
  send(to: string, payload: unknown): void {
    assertSendable(this.#state, to, payload);
    try {
      JSON.stringify(payload);
    } catch (cause) {
      throw new PeerKitError('BAD_ARGUMENT', 'payload must be JSON-serialisable', { cause });
    }
    const full = this.#pacing.enqueue(to, payload);
    if (full !== undefined) return void this.emit('error', full);
    this.#drain();
  }

  /** Says goodbye through every relay (the others see this member leave at once), then disconnects. Idempotent. */
  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    const joined = this.#state === 'joined';
    const bye = joined ? this.#publish({ t: 'bye' }) : undefined;
    this.#shutdown(new PeerKitError('CLOSED', 'the transport was closed before joining'), false);
    if (bye !== undefined) await this.#acknowledged(bye, 1000);
    for (const link of this.#links) link.end();
  }

  #setState(next: TransportState): void {
    if (next === this.#state) return;
    this.#state = next;
    this.emit('state', next);
  }

  #status0(link: RelayLink): RelayStatus {
    let status = this.#status.get(link);
    if (status === undefined) {
      status = { eose: new Set(), challenge: undefined, authId: undefined, authed: false, afterAuth: [], coolUntil: 0, refused: undefined, up: false };
      this.#status.set(link, status);
    }
    return status;
  }

  /** A relay that serves both subscriptions and has not refused us. */
  #usable(link: RelayLink): boolean {
    const status = this.#status.get(link);
    return link.open && status !== undefined && status.refused === undefined && status.eose.size === 2;
  }

  #handlers(): RelayLinkHandlers {
    return {
      open: (link) => {
        const status = this.#status0(link);
        status.eose.clear();
        status.authed = false;
        status.challenge = undefined;
        this.#subscribe(link);
      },
      down: (link, cause) => {
        const status = this.#status0(link);
        status.eose.clear();
        if (status.up) this.#report(link, 'down', `relay ${link.url} is down (${cause}); the others carry on`);
        status.up = false;
        this.#forget(link);
        if (this.#state === 'joined' && !this.#links.some((l) => this.#usable(l))) this.#outage();
      },
      event: (link, subscription, raw) => this.#event(link, subscription, raw),
      eose: (link, subscription) => {
        const status = this.#status0(link);
        status.eose.add(subscription);
        if (status.eose.size === 2) this.#ready(link);
      },
      ok: (link, id, accepted, reason) => this.#ok(link, id, accepted, reason),
      closed: (link, subscription, reason) => {
        const status = this.#status0(link);
        status.eose.delete(subscription);
        if (reason.startsWith('auth-required:') && this.#options.auth && !status.authed) return this.#authenticate(link);
        this.#refuse(link, `relay ${link.url} closed the subscription: ${reason}`);
      },
      notice: (link, text) => this.#report(link, `notice:${text}`, `relay ${link.url} says: ${text}`),
      auth: (link, challenge) => {
        this.#status0(link).challenge = challenge;
        if (this.#options.auth) this.#authenticate(link);
      },
    };
  }

  #subscribe(link: RelayLink): void {
    const since = Math.floor(Date.now() / 1000) - 10;
    const kinds = [this.#options.kind];
    link.send(['REQ', ROOM_SUB, { kinds, '#y': [this.#hash], since }]);
    link.send(['REQ', INBOX_SUB, { kinds, '#p': [this.#selfId], since }]);
  }

  #authenticate(link: RelayLink): void {
    const status = this.#status0(link);
    if (status.challenge === undefined || status.authId !== undefined) return;
    const event = finalizeEvent(
      { kind: AUTH_KIND, created_at: Math.floor(Date.now() / 1000), tags: [['relay', link.url], ['challenge', status.challenge]], content: '' },
      this.#secretKey,
    );
    status.authId = event.id;
    link.send(['AUTH', event]);
  }

  /** A relay serves both subscriptions now: announce on it. */
  #ready(link: RelayLink): void {
    const status = this.#status0(link);
    status.up = true;
    if (this.#state === 'connecting' && this.#discovery === undefined) return this.#discover();
    if (this.#state === 'reconnecting') return this.#rejoin();
    // Still discovering: the announcement went out on the relays that were ready; this one too.
    if (this.#state === 'connecting') this.#publish(this.#presence('hi'), link);
    // A relay that came back: a beat makes members only on it answer, without waking everyone.
    if (this.#state === 'joined') this.#publish(this.#presence('beat'), link);
  }

  /** Announces this member and waits about one round trip for the answers. */
  #discover(): void {
    clearTimeout(this.#connectTimer);
    this.#discovery = { members: new Map(), early: [] };
    const sentAt = Date.now();
    const hi = this.#publish(this.#presence('hi'));
    const finish = (): void => this.#joined();
    const longest = this.#options.discoveryMs;
    this.#discovery.timer = setTimeout(finish, longest);
    void this.#acknowledged(hi, longest).then(() => {
      const discovery = this.#discovery;
      if (discovery === undefined) return;
      clearTimeout(discovery.timer);
      const wait = Math.min(longest, Math.max(MIN_DISCOVERY_MS, 4 * (Date.now() - sentAt))) - (Date.now() - sentAt);
      discovery.timer = setTimeout(finish, Math.max(0, wait));
    });
  }

  #joined(): void {
    const discovery = this.#discovery;
    if (discovery === undefined || this.#state === 'closed') return;
    this.#discovery = undefined;
    this.#everJoined = true;
    const now = Date.now();
    this.#members = new Map([...discovery.members].map(([id, hello]) => [id, { hello, heard: now }]));
    clearInterval(this.#beatTimer);
    this.#beatTimer = setInterval(() => this.#beat(), this.#options.heartbeatMs);
    this.#setState('joined');
    const result = joinResult(this.#selfId, discovery.members);
    this.#pendingJoin?.resolve(result);
    this.#pendingJoin = undefined;
    this.emit('joined', result);
    // After the caller's continuation has run, like BroadcastChannelTransport: listeners added
    // right after `await join()` see what arrived meanwhile, and what arrives meanwhile queues behind.
    this.#early = discovery.early;
    setTimeout(() => {
      const early = this.#early ?? [];
      this.#early = undefined;
      if (this.#state !== 'joined') return;
      for (const [from, payload] of early) this.#message(from, payload);
      this.#drain();
    }, 0);
  }

  /** No relay is left: this member takes a new key, so it is re-recognised rather than confused with its past self. */
  #outage(): void {
    this.#setState('reconnecting');
    clearInterval(this.#beatTimer);
    this.#pacing.queue.pause();
    this.#previousKey = this.#secretKey;
    this.#secretKey = generateSecretKey();
    const previousId = this.#selfId;
    this.#selfId = getPublicKey(this.#secretKey);
    this.#pacing.queue.rewrite((to, payload) => (to === previousId ? undefined : payload));
    this.#sent = new Map();
    // Subscriptions on sockets still open (a relay that refused to publish, say) name the old key.
    for (const link of this.#links) if (link.open) this.#subscribe(link);
  }

  #rejoin(): void {
    const previous = this.#previousKey;
    this.#previousKey = undefined;
    if (previous !== undefined) this.#publish({ t: 'bye' }, undefined, previous);
    this.#setState('connecting');
    this.#discover();
  }

  #presence(t: 'hi' | 'here' | 'beat'): Content {
    return this.#hello === undefined ? { t } : { t, h: this.#hello };
  }

  #beat(): void {
    this.#publish(this.#presence('beat'));
    const deadline = Date.now() - this.#options.timeoutMs;
    for (const [id, member] of this.#members) if (member.heard < deadline) this.#gone(id);
  }

  #gone(id: string): void {
    this.#sent.delete(id);
    this.#order.get(id)?.stop();
    this.#order.delete(id);
    if (!this.#members.delete(id)) return;
    this.emit('member-left', id);
  }

  #event(link: RelayLink, subscription: string, raw: unknown): void {
    if (subscription !== ROOM_SUB && subscription !== INBOX_SUB) return;
    if (!isRecord(raw) || typeof raw.id !== 'string' || this.#seen.has(raw.id)) return;
    const event = raw as unknown as NostrEvent;
    if (event.kind !== this.#options.kind || !Array.isArray(event.tags) || typeof event.content !== 'string') return;
    if (event.pubkey === this.#selfId || Math.floor(Date.now() / 1000) - event.created_at > MAX_AGE_S) return;
    // Cheap checks before the signature (tens of ms in Firefox): not every relay applies tag filters.
    const to = event.tags.find((tag) => tag[0] === 'p')?.[1];
    const room = event.tags.find((tag) => tag[0] === 'y')?.[1];
    if (to === undefined ? room !== this.#hash : to !== this.#selfId) return;
    if (!verifyEvent(event)) {
      this.#report(link, 'forged', `relay ${link.url} passed on an event with a bad signature; ignored`);
      return;
    }
    this.#seen.add(event.id);
    if (this.#seen.size > SEEN_IDS) this.#seen.delete(this.#seen.values().next().value ?? '');
    const from = event.pubkey;
    const content = parseContent(event.content);
    if (content === undefined) return;
    if (content.t === 'msg') return this.#ordered(from, content.n, content.p);
    if (content.t === 'bye') {
      this.#strangers.delete(from);
      if (this.#discovery !== undefined) this.#discovery.members.delete(from);
      return this.#gone(from);
    }
    const known = this.#members.has(from) || this.#discovery?.members.has(from) === true;
    const member = this.#members.get(from);
    if (member !== undefined) member.heard = Date.now();
    if (known && content.t !== 'hi') return;
    // Announcements past the limit are ignored: answering each would let one key flood the relays.
    if (!this.#announcements.take(from)) return;
    if (content.t !== 'here') this.#publish(this.#presence('here'), undefined, undefined, from);
    if (!known) this.#arrive(from, content.h);
  }

  #arrive(id: string, hello: unknown): void {
    // Payloads that came before the announcement (through a faster relay) go first.
    const held = this.#strangers.get(id) ?? [];
    this.#strangers.delete(id);
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
      else this.#hold(from, payload);
      return;
    }
    if (!this.#members.has(from)) return this.#hold(from, payload);
    if (this.#early !== undefined) return void this.#early.push([from, payload]);
    const limited = this.#pacing.admit(from);
    if (limited === undefined) this.emit('message', from, payload);
    else this.emit('error', limited);
  }

  #ordered(from: string, n: number, payload: unknown): void {
    let order = this.#order.get(from);
    if (order === undefined) {
      if (this.#order.size > 1024) return;
      order = new Reorder((p) => this.#message(from, p));
      this.#order.set(from, order);
    }
    order.take(n, payload);
  }

  #hold(from: string, payload: unknown): void {
    const held = this.#strangers.get(from) ?? [];
    if (held.length >= 64 || (held.length === 0 && this.#strangers.size >= 64)) return;
    held.push(payload);
    this.#strangers.set(from, held);
  }

  #drain(): void {
    if (this.#state !== 'joined') return;
    this.#pacing.queue.drain(
      (to) => this.#members.has(to),
      (to, payload) => {
        const n = (this.#sent.get(to) ?? 0) + 1;
        this.#sent.set(to, n);
        this.#publish({ t: 'msg', n, p: payload }, undefined, undefined, to);
      },
    );
  }

  /**
   * Signs `content` and sends it to `only`, else to every usable relay.
   * @returns the event's id, whose OKs {@link #acknowledged} waits for
   */
  #publish(content: Content, only?: RelayLink, key = this.#secretKey, to?: string): string {
    const tags = to === undefined ? [['y', this.#hash]] : [['p', to]];
    const event = finalizeEvent({ kind: this.#options.kind, created_at: Math.floor(Date.now() / 1000), tags, content: JSON.stringify(content) }, key);
    const now = Date.now();
    const targets = (only === undefined ? this.#links : [only]).filter((link) => this.#usable(link) && this.#status0(link).coolUntil <= now);
    const pending = { waiting: new Set<RelayLink>(), accepted: false, reasons: [] as string[] };
    this.#pending.set(event.id, pending);
    for (const link of targets) if (link.send(['EVENT', event])) pending.waiting.add(link);
    if (pending.waiting.size === 0) this.#settle(event.id, pending);
    this.#retainForAuth(event, targets);
    return event.id;
  }

  /** Kept per relay until its OK, in case it asks to authenticate first and the event must go again. */
  #retainForAuth(event: NostrEvent, links: RelayLink[]): void {
    for (const link of links) {
      const status = this.#status0(link);
      if (status.authed || status.challenge === undefined) continue;
      status.afterAuth.push(event);
      if (status.afterAuth.length > 64) status.afterAuth.shift();
    }
  }

  #ok(link: RelayLink, id: string, accepted: boolean, reason: string): void {
    const status = this.#status0(link);
    if (id === status.authId) {
      status.authId = undefined;
      if (!accepted) return this.#refuse(link, `relay ${link.url} refused our NIP-42 AUTH: ${reason}`);
      status.authed = true;
      this.#subscribe(link);
      for (const event of status.afterAuth.splice(0)) if (this.#pending.has(event.id)) link.send(['EVENT', event]);
      return;
    }
    const pending = this.#pending.get(id);
    if (pending === undefined) return;
    if (!accepted && reason.startsWith('auth-required:') && this.#options.auth && !status.authed && status.challenge !== undefined) {
      this.#authenticate(link);
      return;
    }
    status.afterAuth = status.afterAuth.filter((event) => event.id !== id);
    pending.waiting.delete(link);
    if (accepted) pending.accepted = true;
    else {
      pending.reasons.push(`${link.url}: ${reason}`);
      if (reason.startsWith('rate-limited:')) {
        status.coolUntil = Date.now() + COOL_MS;
        this.#report(link, 'rate-limited', `relay ${link.url} rate-limits us (${reason}); it is skipped for ${COOL_MS / 1000} s`);
      } else if (!reason.startsWith('duplicate:')) {
        this.#refuse(link, `relay ${link.url} refused an event: ${reason}`);
      }
    }
    this.#settle(id, pending);
  }

  /** A relay went away: its OKs will not come. */
  #forget(link: RelayLink): void {
    for (const [id, pending] of [...this.#pending]) if (pending.waiting.delete(link)) this.#settle(id, pending);
  }

  /** Once every relay has answered: an event that none took is an error. */
  #settle(id: string, pending: Pending): void {
    if (pending.waiting.size > 0) return;
    this.#pending.delete(id);
    if (pending.accepted || this.#state === 'closed') return;
    const why = pending.reasons.length > 0 ? pending.reasons.join('; ') : 'no relay is up';
    this.emit('error', new PeerKitError(pending.reasons.some((r) => r.includes('rate-limited:')) ? 'RATE_LIMITED' : 'TRANSPORT_ERROR', `no relay took an event (${why})`));
  }

  /** Resolves once event `id` is settled (every relay answered or went away), or after `ms`. */
  #acknowledged(id: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const deadline = Date.now() + ms;
      const check = (): void => {
        const pending = this.#pending.get(id);
        if (pending === undefined || pending.accepted || Date.now() >= deadline) resolve();
        else setTimeout(check, 10);
      };
      check();
    });
  }

  /** A relay will not serve us: reported, and skipped from now on. */
  #refuse(link: RelayLink, message: string): void {
    const status = this.#status0(link);
    if (status.refused !== undefined) return;
    status.refused = message;
    this.#report(link, 'refused', `${message}; it is skipped`);
    link.end();
    this.#forget(link);
    if (this.#links.every((l) => this.#status0(l).refused !== undefined)) this.#giveUp('every relay refused us');
    else if (this.#state === 'joined' && !this.#links.some((l) => this.#usable(l))) this.#outage();
  }

  /** One `error` event per relay and kind of trouble, so a chatty relay cannot flood the app. */
  #report(link: RelayLink, what: string, message: string): void {
    const key = `${link.url} ${what}`;
    if (this.#reported.has(key)) return;
    this.#reported.add(key);
    if (this.#state !== 'closed') this.emit('error', new PeerKitError(what === 'rate-limited' ? 'RATE_LIMITED' : 'TRANSPORT_ERROR', message));
  }

  #giveUp(why: string): void {
    if (this.#state === 'closed') return;
    const error = new PeerKitError('TRANSPORT_ERROR', `${why} (${this.#options.relays.join(', ')})`);
    if (this.#pendingJoin === undefined && this.#everJoined) this.emit('error', error);
    this.#shutdown(error);
  }

  #shutdown(reason: PeerKitError, endLinks = true): void {
    clearTimeout(this.#connectTimer);
    clearTimeout(this.#discovery?.timer);
    clearInterval(this.#beatTimer);
    this.#discovery = undefined;
    this.#early = undefined;
    this.#setState('closed');
    this.#pacing.queue.clear();
    this.#members.clear();
    this.#strangers.clear();
    for (const order of this.#order.values()) order.stop();
    this.#order.clear();
    if (endLinks) for (const link of this.#links) link.end();
    this.#pendingJoin?.reject(reason);
    this.#pendingJoin = undefined;
  }
}
