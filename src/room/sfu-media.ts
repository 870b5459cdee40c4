import type { EventEmitter } from 'eventemitter3';
import type { WebRtcImplementation } from '../peer/options.js';
import { PeerKitError } from '../errors.js';
import type { JoinResult } from '../signaling/transport.js';
import { backoffDelay } from '../util.js';
import { play, publish } from '../whip/index.js';
import type { PlayOptions, PublishOptions, WhepSession, WhipSession } from '../whip/index.js';
import type { RoomEvents, RoomMediaState } from './events.js';
import type { Member } from './member.js';

/** The SFU endpoints a transport gave on joining. */
export type SfuEndpoints = NonNullable<JoinResult['sfu']>;

/** Backoff between attempts to bring a lost feed back: 250 to 500 ms first, up to 4 to 8 s. */
const RETRY_DELAY_MS = 500;
const MAX_RETRY_DELAY_MS = 8000;
/**
 * A play that receives nothing for this long is played again: Janus keeps a subscriber's
 * connection up, silent, when the feed it follows goes (its member published again).
 */
const STALL_MS = 6000;
/**
 * A session disconnected this long restarts ICE (PATCH): short, since when the SFU lost the session
 * (Janus restarted) that PATCH's 404 is what tells the Room to open a new one.
 */
const DISCONNECTED_GRACE_MS = 1000;
/** How long one play waits for a feed not yet published (the member's WHIP may still be on its way). */
const PLAY_LIVE_TIMEOUT_MS = 60_000;

/**
 * One WHIP or WHEP session kept alive: opened, and opened again after a backoff whenever it fails
 * or the server loses it (Janus restarted: the session's ICE restart finds no resource, 404), until
 * {@link stop}.
 */
class Feed<S extends WhipSession | WhepSession> {
  session: S | undefined;
  #stopped = false;
  #attempt = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #watchdog: ReturnType<typeof setInterval> | undefined;

  constructor(
    /** Opens a session that calls `lost` when it fails or closes. */
    private readonly open: (lost: (error?: PeerKitError) => void) => Promise<S>,
    private readonly report: (state: RoomMediaState, error?: PeerKitError) => void,
    /** Whether to watch that media keeps coming in (a play). */
    private readonly inbound = false,
  ) {
    void this.#run();
  }

  async #run(): Promise<void> {
    let session: S | undefined;
    const lost = (error?: PeerKitError): void => {
      if (session === undefined || this.session !== session) return;
      clearInterval(this.#watchdog);
      this.session = undefined;
      void session.close();
      this.#lost(error);
    };
    try {
      session = await this.open(lost);
    } catch (error) {
      if (this.#stopped) return;
      const failure = error instanceof PeerKitError ? error : new PeerKitError('SERVER_ERROR', 'an SFU session failed', { cause: error });
      // A member that publishes nothing (no stream yet) has nothing to play: no failure to report,
      // its feed is asked for again (play() itself polls every few seconds while it gets 409).
      if (this.inbound && failure.code === 'NOT_LIVE') return void (this.#timer = setTimeout(() => void this.#run(), 0));
      this.#lost(failure);
      return;
    }
    if (this.#stopped) return void session.close();
    this.session = session;
    this.#attempt = 0;
    this.report('connected');
    if (this.inbound) this.#watch(session, lost);
  }

  /** Calls `lost` once `session` has received no bytes for {@link STALL_MS}. */
  #watch(session: S, lost: (error?: PeerKitError) => void): void {
    let last = -1;
    let since = Date.now();
    this.#watchdog = setInterval(() => {
      void session.getStats().then((stats) => {
        let bytes = 0;
        stats.forEach((report: { type?: string; bytesReceived?: number }) => {
          if (report.type === 'inbound-rtp') bytes += report.bytesReceived ?? 0;
        });
        if (bytes !== last) [last, since] = [bytes, Date.now()];
        else if (Date.now() - since > STALL_MS) lost(new PeerKitError('TIMEOUT', `no media for ${STALL_MS} ms from the SFU; playing again`));
      }, () => undefined);
    }, 1000);
  }

  #lost(error: PeerKitError | undefined): void {
    this.report('reconnecting', error);
    this.#timer = setTimeout(() => void this.#run(), backoffDelay(this.#attempt++, RETRY_DELAY_MS, MAX_RETRY_DELAY_MS, 'half'));
  }

  /** Ends the session for good: DELETE, so the SFU tears it down. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    clearInterval(this.#watchdog);
    const session = this.session;
    this.session = undefined;
    await session?.close();
  }
}

/**
 * A Room's media through the server's SFU: the local stream published once (WHIP, as this member's
 * current id), and each admitted member's feed played (WHEP, by its current id). Feeds are keyed by
 * member id on the server, so a new id (a signaling re-join) means publishing again under it, and
 * playing a member again under its new id; Janus lost and restarted means the same, by itself.
 */
export class SfuMedia {
  #endpoints: SfuEndpoints;
  #selfId: string;
  #stream: MediaStream | undefined;
  #publishing: Feed<WhipSession> | undefined;
  readonly #plays = new Map<Member, Feed<WhepSession>>();
  #closed = false;

  constructor(
    private readonly events: EventEmitter<RoomEvents>,
    endpoints: SfuEndpoints,
    selfId: string,
    stream: MediaStream | undefined,
    private readonly iceServers: () => RTCIceServer[],
    /**
     * With end-to-end encryption: the RTCPeerConnection class for the session publishing this
     * member's feed (no member) or playing `member`'s, which encrypts or decrypts every frame.
     */
    private readonly encrypting?: { wrtc(member?: Member): WebRtcImplementation },
  ) {
    this.#endpoints = endpoints;
    this.#selfId = selfId;
    // A copy: replaceTrack() edits it, and a feed published again sends the current tracks.
    this.#stream = stream === undefined ? undefined : new MediaStream(stream.getTracks());
    this.#publish();
  }

  /** The sessions, for stats: this member's publish, and a play per member id. */
  sessions(): { publish: WhipSession | undefined; plays: Map<string, WhepSession> } {
    const plays = new Map<string, WhepSession>();
    for (const [member, feed] of this.#plays) if (feed.session !== undefined) plays.set(member.id, feed.session);
    return { publish: this.#publishing?.session, plays };
  }

  /** The transport re-joined: a new id and endpoints, so the feed is published again under it. */
  rejoined(endpoints: SfuEndpoints, selfId: string): void {
    this.#endpoints = endpoints;
    this.#selfId = selfId;
    void this.#publishing?.stop();
    this.#publish();
  }

  /** Publishes `stream` when nothing is published yet. @throws PeerKitError `UNSUPPORTED` when something is. */
  add(stream: MediaStream): void {
    if (this.#stream !== undefined) throw new PeerKitError('UNSUPPORTED', 'a Room with media: "sfu" publishes one stream; remove it first');
    this.#stream = new MediaStream(stream.getTracks());
    this.#publish();
  }

  /** Stops publishing (DELETE); the tracks are not stopped. */
  remove(): void {
    this.#stream = undefined;
    void this.#publishing?.stop();
    this.#publishing = undefined;
  }

  /**
   * Sends `newTrack` instead of `oldTrack`, without a new session.
   * @throws PeerKitError `BAD_ARGUMENT` when `oldTrack` is not published
   */
  async replace(oldTrack: MediaStreamTrack, newTrack: MediaStreamTrack): Promise<void> {
    if (this.#stream?.getTracks().includes(oldTrack) !== true) throw new PeerKitError('BAD_ARGUMENT', `track ${oldTrack.id} is not being sent to the room`);
    this.#stream.removeTrack(oldTrack);
    this.#stream.addTrack(newTrack);
    await this.#publishing?.session?.replaceTrack(oldTrack, newTrack);
  }

  /** `member` was admitted, or came back under a new id: its feed is played (again). */
  watch(member: Member): void {
    if (this.#closed) return;
    void this.#plays.get(member)?.stop();
    const options = (): PlayOptions => ({ ...this.#sessionOptions(this.#endpoints.token, member), timeoutMs: PLAY_LIVE_TIMEOUT_MS });
    const feed = new Feed<WhepSession>(
      async (lost) => {
        const view = await play(this.#endpoints.whep + encodeURIComponent(member.id), options());
        view.on('error', lost).on('close', () => lost());
        let announced = false;
        const announce = (track: MediaStreamTrack): void => {
          this.events.emit('track', track, [view.stream], member.id);
          if (!announced) this.events.emit('stream', view.stream, member.id);
          announced = true;
        };
        view.on('track', announce);
        // Tracks that came while play() was connecting.
        for (const track of view.stream.getTracks()) announce(track);
        return view;
      },
      (state, error) => this.#report(state, member.id, error),
      true,
    );
    this.#plays.set(member, feed);
  }

  /** Whether `member`'s feed is being played. */
  watching(member: Member): boolean {
    return this.#plays.has(member);
  }

  /** `member` is gone, or away from the transport (it comes back under a new id, and is watched again): its play ends. */
  forget(member: Member): void {
    void this.#plays.get(member)?.stop();
    this.#plays.delete(member);
  }

  /** Ends the publish and every play (DELETE each, so Janus tears them down). */
  async close(): Promise<void> {
    this.#closed = true;
    const feeds: { stop(): Promise<void> }[] = [...this.#plays.values()];
    this.#plays.clear();
    if (this.#publishing !== undefined) feeds.push(this.#publishing);
    this.#publishing = undefined;
    await Promise.all(feeds.map((feed) => feed.stop()));
  }

  #publish(): void {
    const stream = this.#stream;
    if (stream === undefined || this.#closed) return;
    const { whip, token } = this.#endpoints;
    const id = this.#selfId;
    this.#publishing = new Feed<WhipSession>(
      async (lost) => {
        const session = await publish(whip, stream, this.#sessionOptions(token));
        return session.on('error', lost).on('close', () => lost());
      },
      (state, error) => this.#report(state, id, error),
    );
  }

  #sessionOptions(token: string | undefined, member?: Member): PublishOptions {
    const wrtc = this.encrypting?.wrtc(member);
    return { ...(token === undefined ? {} : { token }), ...(wrtc === undefined ? {} : { wrtc }), iceServers: this.iceServers(), disconnectedGraceMs: DISCONNECTED_GRACE_MS };
  }

  #report(state: RoomMediaState, id: string, error: PeerKitError | undefined): void {
    if (this.#closed) return;
    if (error !== undefined) this.events.emit('error', error, id === this.#selfId ? undefined : id);
    this.events.emit('media', state, id);
  }
}
