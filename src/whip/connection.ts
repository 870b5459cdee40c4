/**
 * One WHIP or WHEP session: an RTCPeerConnection negotiated over HTTP. Offer by POST, answer in
 * the 201 (or, WHEP, a 406 counter-offer answered by PATCH), local candidates trickled by PATCH
 * with the session's ETag (trickle.ts), ICE restarts by PATCH with `If-Match: "*"`, DELETE on
 * close. There is no perfect negotiation here: the server never offers mid-session.
 * @internal
 * @packageDocumentation
 */
import { PeerKitError } from '../errors.js';
import { IceRestarter } from '../peer/ice-restart.js';
import type { WebRtcImplementation } from '../peer/peer.js';
import { backoffDelay, iceIsUp } from '../util.js';
import type { FetchLike, RequestContext } from './http.js';
import { iceServersFromLinks, request, retryAfterMs, statusError } from './http.js';
import { buildFragment, firstMid, parseRestartAnswer, restartedRemote, setupOf } from './sdp.js';
import { CandidateTrickle, FRAGMENT, ifMatch, refusesPatch } from './trickle.js';
import type { SessionResource } from './trickle.js';

/** Options shared by {@link publish} and {@link play}; each session keeps its own copy. */
export interface MediaSessionOptions {
  /** Sent as `Authorization: Bearer <token>` on every request; none is sent without it. @default undefined */
  token?: string;
  /** ICE servers of your own; the server's `Link: rel="ice-server"` headers are added to them. @default [] */
  iceServers?: RTCIceServer[];
  /** `relay` sends media only through TURN. @default 'all' */
  iceTransportPolicy?: RTCIceTransportPolicy;
  /** How long the session may take to connect, from the first POST, before it fails with `TIMEOUT`. @default 15000 */
  connectTimeoutMs?: number;
  /** How long a `disconnected` connection is given to heal before ICE restarts, in ms. @default 3000 */
  disconnectedGraceMs?: number;
  /** ICE restarts tried in a row before the session gives up with `ICE_FAILED` and closes. @default 3 */
  maxIceRestarts?: number;
  /** How long one ICE restart may take before the next is tried, in ms. @default 15000 */
  iceRestartTimeoutMs?: number;
  /** WebRTC classes to use instead of the globals. @default globalThis */
  wrtc?: WebRtcImplementation;
  /** The fetch to use instead of the global one. @default globalThis.fetch */
  fetch?: FetchLike;
}

/** The state of a session. */
export type MediaSessionState = 'connecting' | 'connected' | 'reconnecting' | 'closed';

/** What the public session classes hear from their connection. */
export interface ConnectionCallbacks {
  state: (state: MediaSessionState) => void;
  error: (error: PeerKitError) => void;
  close: () => void;
  track: (event: RTCTrackEvent) => void;
}

const DEFAULTS = {
  connectTimeoutMs: 15000,
  disconnectedGraceMs: 3000,
  maxIceRestarts: 3,
  iceRestartTimeoutMs: 15000,
};

const SDP = 'application/sdp';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The connection under a WhipSession or WhepSession. */
export class HttpMediaConnection {
  pc: RTCPeerConnection;
  private readonly options: MediaSessionOptions & typeof DEFAULTS & { iceServers: RTCIceServer[] };
  private readonly ctx: RequestContext;
  private readonly config: RTCConfiguration;
  private readonly restarter: IceRestarter;
  private readonly trickle: CandidateTrickle;
  private state: MediaSessionState = 'connecting';
  private readonly resource: SessionResource = { url: undefined, etag: undefined };
  private restartGeneration = 0;
  /** The DTLS role this side took in the first negotiation. */
  private localSetup: string | undefined;
  private everConnected = false;
  private closing: Promise<void> | undefined;

  constructor(
    readonly kind: 'whip' | 'whep',
    options: MediaSessionOptions,
    private readonly on: ConnectionCallbacks,
  ) {
    this.options = { ...DEFAULTS, ...options, iceServers: [...(options.iceServers ?? [])] };
    const fetchFn = options.fetch ?? ((input: string, init: RequestInit) => globalThis.fetch(input, init));
    this.ctx = { fetch: fetchFn, token: options.token };
    this.config = { iceServers: this.options.iceServers, bundlePolicy: 'max-bundle' };
    if (options.iceTransportPolicy !== undefined) this.config.iceTransportPolicy = options.iceTransportPolicy;
    this.trickle = new CandidateTrickle(this.ctx, this.resource, () => this.pc.localDescription?.sdp ?? '', {
      error: (error) => this.on.error(error),
      failed: (error) => this.report(error),
    });
    this.pc = this.newPc();
    this.restarter = new IceRestarter(
      { graceMs: this.options.disconnectedGraceMs, maxAttempts: this.options.maxIceRestarts, attemptTimeoutMs: this.options.iceRestartTimeoutMs },
      () => void this.restartIce().catch((error: unknown) => this.report(error)),
      () => void this.fail(new PeerKitError('ICE_FAILED', `The connection failed and ${this.options.maxIceRestarts} ICE restarts did not bring it back.`)),
      () => this.pc.iceConnectionState,
    );
  }

  get current(): MediaSessionState {
    return this.state;
  }

  /**
   * POSTs the local offer to `endpoint` and resolves once media can flow. WHEP (`liveTimeoutMs`)
   * retries 409 (not live yet) with backoff until that timeout. On failure the session is closed.
   */
  async open(endpoint: string, liveTimeoutMs?: number): Promise<void> {
    const started = Date.now();
    let deadline = started + this.options.connectTimeoutMs;
    const liveUntil = started + (liveTimeoutMs ?? 0);
    try {
      await this.pc.setLocalDescription(await this.pc.createOffer());
      for (let attempt = 0; ; attempt++) {
        const response = await request(this.ctx, 'POST', endpoint, { 'content-type': SDP }, this.pc.localDescription?.sdp, Math.max(deadline, liveUntil));
        this.ensureOpen();
        if (response.status === 409 && liveTimeoutMs !== undefined && Date.now() < liveUntil) {
          await sleep(Math.min(backoffDelay(attempt, 250, 4000, 'half'), Math.max(0, liveUntil - Date.now())));
          // The wait for the stream to go live is not connection time.
          deadline = Date.now() + this.options.connectTimeoutMs;
          continue;
        }
        if (response.status === 503 && Date.now() < deadline) {
          await sleep(Math.min(retryAfterMs(response, 1000), Math.max(0, deadline - Date.now())));
          continue;
        }
        if (response.status === 201 || (response.status === 406 && this.kind === 'whep')) {
          await this.accept(response, deadline);
          break;
        }
        throw await statusError(`${this.kind.toUpperCase()} POST ${endpoint}`, response);
      }
      await this.connected(deadline);
    } catch (error) {
      const failure = error instanceof PeerKitError ? error : new PeerKitError('SERVER_ERROR', 'The session could not be set up.', { cause: error });
      await this.close();
      throw failure;
    }
  }

  /** Replaces ICE credentials through PATCH `If-Match: "*"`, applying only the latest answer. */
  async restartIce(): Promise<void> {
    this.ensureOpen();
    const resource = this.resource.url;
    if (resource === undefined) throw new PeerKitError('BAD_ARGUMENT', 'restartIce() before the session was set up.');
    if (!this.trickle.enabled) throw new PeerKitError('UNSUPPORTED', 'The server takes no PATCH, so ICE cannot restart within this session.');
    const generation = ++this.restartGeneration;
    const remote = this.pc.remoteDescription?.sdp;
    this.pc.restartIce();
    this.trickle.reset();
    this.trickle.paused = true;
    let response: Response;
    try {
      await this.pc.setLocalDescription(await this.pc.createOffer());
      const local = this.pc.localDescription?.sdp ?? '';
      const deadline = Date.now() + this.options.iceRestartTimeoutMs;
      response = await request(this.ctx, 'PATCH', resource, { 'content-type': FRAGMENT, 'if-match': '*' }, buildFragment(local, [], false), deadline);
    } finally {
      if (generation === this.restartGeneration) this.trickle.paused = false;
    }
    if (generation !== this.restartGeneration || this.closing !== undefined) return;
    if (refusesPatch(response.status)) this.trickle.enabled = false;
    const answer = response.ok ? parseRestartAnswer(await response.text(), firstMid(remote)) : undefined;
    if (!response.ok || answer === undefined || remote === undefined) {
      this.trickle.reset();
      await this.pc.setLocalDescription({ type: 'rollback' });
      throw response.ok ? new PeerKitError('BAD_REQUEST', 'The ICE restart answer had no ICE credentials.') : await statusError('ICE restart PATCH', response);
    }
    this.resource.etag = response.headers.get('etag') ?? this.resource.etag;
    await this.pc.setRemoteDescription({ type: 'answer', sdp: restartedRemote(remote, answer, this.kind === 'whep' ? this.localSetup : undefined) });
    for (const candidate of answer.candidates) await this.pc.addIceCandidate(candidate);
    this.trickle.soon();
  }

  /** DELETEs the session and closes the connection. Idempotent; emits `close` once. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.restarter.stop();
      this.trickle.stop();
      this.pc.close();
      this.setState('closed');
      if (this.resource.url !== undefined) {
        const response = await request(this.ctx, 'DELETE', this.resource.url, {}, undefined, Date.now() + 5000, true).catch((error: unknown) => error);
        if (response instanceof PeerKitError) this.on.error(response);
        else if (response instanceof Response && !response.ok && response.status !== 404) this.on.error(await statusError('DELETE', response));
      }
      this.on.close();
    })();
    return this.closing;
  }

  private newPc(): RTCPeerConnection {
    const Pc = this.options.wrtc?.RTCPeerConnection ?? globalThis.RTCPeerConnection;
    const pc = new Pc(this.config);
    pc.addEventListener('icecandidate', ({ candidate }) => {
      if (pc === this.pc) this.trickle.candidate(candidate, pc.iceGatheringState);
    });
    pc.addEventListener('icegatheringstatechange', () => {
      if (pc === this.pc && pc.iceGatheringState === 'complete') this.trickle.gathered();
    });
    pc.addEventListener('iceconnectionstatechange', () => {
      if (pc !== this.pc) return;
      if (this.everConnected) this.restarter.update(pc.iceConnectionState);
      // A restart may bring ICE back while connectionState never left `connected`.
      this.derive();
    });
    pc.addEventListener('connectionstatechange', () => {
      if (pc === this.pc) this.derive();
    });
    pc.addEventListener('track', (event) => {
      if (pc === this.pc) this.on.track(event);
    });
    return pc;
  }

  /** Takes a 201 answer, or a WHEP 406 counter-offer, and completes the negotiation. */
  private async accept(response: Response, deadline: number): Promise<void> {
    const location = response.headers.get('location');
    if (location === null) throw new PeerKitError('SERVER_ERROR', `The server answered ${response.status} without a Location header (is it exposed by CORS?).`);
    this.resource.url = new URL(location, response.url).href;
    this.resource.etag = response.headers.get('etag') ?? undefined;
    const links = iceServersFromLinks(response.headers.get('link'));
    if (links.length > 0) {
      // Used from the next gathering on (ICE restarts); the first one has already begun.
      this.config.iceServers = [...this.options.iceServers, ...links];
      this.pc.setConfiguration(this.config);
    }
    const sdp = await response.text();
    if (response.status === 201) {
      await this.pc.setRemoteDescription({ type: 'answer', sdp });
    } else {
      // WHEP counter-offer: a fresh connection answers the server's offer, so the offer we made
      // leaves no unassociated transceivers behind to reappear in a later (ICE restart) offer.
      this.pc.close();
      this.trickle.reset();
      this.pc = this.newPc();
      await this.pc.setRemoteDescription({ type: 'offer', sdp });
      await this.pc.setLocalDescription(await this.pc.createAnswer());
      const answered = await request(this.ctx, 'PATCH', this.resource.url, ifMatch(this.resource, { 'content-type': SDP }), this.pc.localDescription?.sdp, deadline);
      if (!answered.ok) throw await statusError('WHEP PATCH with the answer', answered);
      this.resource.etag = answered.headers.get('etag') ?? this.resource.etag;
    }
    this.localSetup = setupOf(this.pc.localDescription?.sdp);
    this.trickle.soon();
  }

  private async connected(deadline: number): Promise<void> {
    while (this.pc.connectionState !== 'connected') {
      this.ensureOpen();
      if (this.pc.connectionState === 'failed') throw new PeerKitError('ICE_FAILED', 'The connection to the media server failed.');
      if (Date.now() >= deadline) throw new PeerKitError('TIMEOUT', `The session did not connect within ${this.options.connectTimeoutMs} ms.`);
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          this.pc.removeEventListener('connectionstatechange', done);
          resolve();
        };
        const timer = setTimeout(done, Math.max(0, deadline - Date.now()));
        this.pc.addEventListener('connectionstatechange', done);
      });
    }
    this.derive();
  }

  private derive(): void {
    if (this.closing !== undefined) return;
    const { connectionState } = this.pc;
    if (connectionState === 'connected' || iceIsUp(this.pc.iceConnectionState)) {
      if (connectionState === 'connected') this.everConnected = true;
      if (this.everConnected) this.setState('connected');
    } else if (this.everConnected && (connectionState === 'disconnected' || connectionState === 'failed')) {
      this.setState('reconnecting');
      this.restarter.update(this.pc.iceConnectionState);
    }
  }

  private setState(next: MediaSessionState): void {
    if (this.state === next || this.state === 'closed') return;
    this.state = next;
    this.on.state(next);
  }

  private ensureOpen(): void {
    if (this.closing !== undefined) throw new PeerKitError('CLOSED', 'The session is closed.');
  }

  private report(error: unknown): void {
    if (this.closing !== undefined) return;
    this.on.error(error instanceof PeerKitError ? error : new PeerKitError('SERVER_ERROR', String(error), { cause: error }));
  }

  private async fail(error: PeerKitError): Promise<void> {
    this.on.error(error);
    await this.close();
  }
}
