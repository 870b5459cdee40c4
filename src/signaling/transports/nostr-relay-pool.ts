/**
 * The relays of one {@link NostrTransport}, used together: every event goes to each relay that
 * serves the room, each event received is used once, and a relay that refuses us, rate-limits
 * us or asks for NIP-42 AUTH is handled here, so the transport sees one pool that is up or not.
 * Internal: not part of the public API.
 * @internal
 * @packageDocumentation
 */
import { PeerKitError } from '../../errors.js';
import { isRecord } from '../../util.js';
import { eventFor, parseContent, signAuth, signContent } from './nostr-event.js';
import type { Content, Identity, NostrEvent } from './nostr-event.js';
import type { ResolvedNostrOptions } from './nostr-options.js';
import { RelayLink } from './nostr-relay-link.js';
import type { RelayLinkHandlers } from './nostr-relay-link.js';

/** What the pool tells its transport. */
export interface RelayPoolHandlers {
  /** A relay serves both subscriptions now (first time or again). */
  ready(link: RelayLink): void;
  /** A relay stopped serving us (down or refusing): the transport checks what is left. */
  lost(): void;
  /** What a member said, in an event for this member, signed, received the first time. */
  content(from: string, content: Content): void;
  /** Trouble with a relay, or an event no relay took. */
  error(error: PeerKitError): void;
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

type Pending = { waiting: Set<RelayLink>; accepted: boolean; reasons: string[] };

const ROOM_SUB = 'peerkit-room';
const INBOX_SUB = 'peerkit-inbox';
const SEEN_IDS = 4096;
const COOL_MS = 10_000;

/** Several relays as one. */
export class RelayPool {
  readonly #links: RelayLink[];
  readonly #status = new Map<RelayLink, RelayStatus>();
  /** Ids of events already used (they come once per relay), oldest first. */
  readonly #seen = new Set<string>();
  /** Events sent and the relays whose OK is awaited. */
  readonly #pending = new Map<string, Pending>();
  readonly #reported = new Set<string>();

  /** `me` is the transport's own identity, read at each use: a new key takes effect at once. */
  constructor(
    private readonly options: ResolvedNostrOptions,
    private readonly me: Identity,
    private readonly handlers: RelayPoolHandlers,
  ) {
    const linkHandlers = this.#linkHandlers();
    this.#links = options.relays.map((url) => new RelayLink(url, linkHandlers, options));
  }

  /** Whether some relay serves the room now. */
  get usable(): boolean {
    return this.#links.some((link) => this.#usable(link));
  }

  /** Whether every relay refused us. */
  get refused(): boolean {
    return this.#links.every((link) => this.#of(link).refused !== undefined);
  }

  connect(): void {
    for (const link of this.#links) link.connect();
  }

  /** Subscribes again on the sockets still open, for a new key. */
  resubscribe(): void {
    for (const link of this.#links) if (link.open) this.#subscribe(link);
  }

  end(): void {
    for (const link of this.#links) link.end();
  }

  /**
   * Signs `content` with `key` and sends it to `only`, else to every relay that serves the room.
   * @returns the event's id, whose OKs {@link acknowledged} waits for
   */
  publish(content: Content, only?: RelayLink, key = this.me.key, to?: string): string {
    const event = signContent(this.options.kind, content, key, this.me.hash, to);
    const now = Date.now();
    const targets = (only === undefined ? this.#links : [only]).filter((link) => this.#usable(link) && this.#of(link).coolUntil <= now);
    const pending = { waiting: new Set<RelayLink>(), accepted: false, reasons: [] as string[] };
    this.#pending.set(event.id, pending);
    for (const link of targets) if (link.send(['EVENT', event])) pending.waiting.add(link);
    if (pending.waiting.size === 0) this.#settle(event.id, pending);
    // Kept per relay until its OK, in case it asks to authenticate first and the event must go again.
    for (const link of targets) {
      const status = this.#of(link);
      if (status.authed || status.challenge === undefined) continue;
      status.afterAuth.push(event);
      if (status.afterAuth.length > 64) status.afterAuth.shift();
    }
    return event.id;
  }

  /** Resolves once event `id` is settled (every relay answered or went away), or after `ms`. */
  acknowledged(id: string, ms: number): Promise<void> {
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

  #of(link: RelayLink): RelayStatus {
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

  #linkHandlers(): RelayLinkHandlers {
    return {
      open: (link) => {
        const status = this.#of(link);
        status.eose.clear();
        status.authed = false;
        status.challenge = undefined;
        this.#subscribe(link);
      },
      down: (link, cause) => {
        const status = this.#of(link);
        status.eose.clear();
        if (status.up) this.#report(link, 'down', `relay ${link.url} is down (${cause}); the others carry on`);
        status.up = false;
        this.#forget(link);
        this.handlers.lost();
      },
      event: (link, subscription, raw) => this.#event(link, subscription, raw),
      eose: (link, subscription) => {
        const status = this.#of(link);
        status.eose.add(subscription);
        if (status.eose.size !== 2) return;
        status.up = true;
        this.handlers.ready(link);
      },
      ok: (link, id, accepted, reason) => this.#ok(link, id, accepted, reason),
      closed: (link, subscription, reason) => {
        const status = this.#of(link);
        status.eose.delete(subscription);
        if (reason.startsWith('auth-required:') && this.options.auth && !status.authed) return this.#authenticate(link);
        this.#refuse(link, `relay ${link.url} closed the subscription: ${reason}`);
      },
      notice: (link, text) => this.#report(link, `notice:${text}`, `relay ${link.url} says: ${text}`),
      auth: (link, challenge) => {
        this.#of(link).challenge = challenge;
        if (this.options.auth) this.#authenticate(link);
      },
    };
  }

  #subscribe(link: RelayLink): void {
    const since = Math.floor(Date.now() / 1000) - 10;
    const kinds = [this.options.kind];
    link.send(['REQ', ROOM_SUB, { kinds, '#y': [this.me.hash], since }]);
    link.send(['REQ', INBOX_SUB, { kinds, '#p': [this.me.id], since }]);
  }

  #authenticate(link: RelayLink): void {
    const status = this.#of(link);
    if (status.challenge === undefined || status.authId !== undefined) return;
    const event = signAuth(link.url, status.challenge, this.me.key);
    status.authId = event.id;
    link.send(['AUTH', event]);
  }

  #event(link: RelayLink, subscription: string, raw: unknown): void {
    if (subscription !== ROOM_SUB && subscription !== INBOX_SUB) return;
    const id = isRecord(raw) ? raw.id : undefined;
    if (typeof id === 'string' && this.#seen.has(id)) return;
    const event = eventFor(raw, this.options.kind, this.me);
    if (event === undefined) return;
    if (event === 'forged') return this.#report(link, 'forged', `relay ${link.url} passed on an event with a bad signature; ignored`);
    this.#seen.add(event.id);
    if (this.#seen.size > SEEN_IDS) this.#seen.delete(this.#seen.values().next().value ?? '');
    const content = parseContent(event.content);
    if (content !== undefined) this.handlers.content(event.pubkey, content);
  }

  #ok(link: RelayLink, id: string, accepted: boolean, reason: string): void {
    const status = this.#of(link);
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
    if (!accepted && reason.startsWith('auth-required:') && this.options.auth && !status.authed && status.challenge !== undefined) {
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
    if (pending.accepted) return;
    const why = pending.reasons.length > 0 ? pending.reasons.join('; ') : 'no relay is up';
    const code = pending.reasons.some((r) => r.includes('rate-limited:')) ? 'RATE_LIMITED' : 'TRANSPORT_ERROR';
    this.handlers.error(new PeerKitError(code, `no relay took an event (${why})`));
  }

  /** A relay will not serve us: reported, and skipped from now on. */
  #refuse(link: RelayLink, message: string): void {
    const status = this.#of(link);
    if (status.refused !== undefined) return;
    status.refused = message;
    this.#report(link, 'refused', `${message}; it is skipped`);
    link.end();
    this.#forget(link);
    this.handlers.lost();
  }

  /** One `error` event per relay and kind of trouble, so a chatty relay cannot flood the app. */
  #report(link: RelayLink, what: string, message: string): void {
    const key = `${link.url} ${what}`;
    if (this.#reported.has(key)) return;
    this.#reported.add(key);
    this.handlers.error(new PeerKitError(what === 'rate-limited' ? 'RATE_LIMITED' : 'TRANSPORT_ERROR', message));
  }
}
