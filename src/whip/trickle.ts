/**
 * Trickle ICE for a WHIP or WHEP session (RFC 9725 section 4.3): local candidates batched and
 * sent to the session's URL by PATCH, as SDP fragments (RFC 8840), in order, with its ETag.
 * @internal
 * @packageDocumentation
 */
import type { PeerKitError } from '../errors.js';
import type { RequestContext } from './http.js';
import { request, statusError } from './http.js';
import type { LocalCandidate } from './sdp.js';
import { buildFragment } from './sdp.js';

/** The session's URL on the server, once it has one, and its latest ETag. */
export interface SessionResource {
  url: string | undefined;
  etag: string | undefined;
}

/** Trickle fragments go with this content type. */
export const FRAGMENT = 'application/trickle-ice-sdpfrag';
/** Candidates are batched this long, so that one PATCH usually carries them all. */
const TRICKLE_BATCH_MS = 300;

/** `headers` with `If-Match` on the resource's ETag, when it has one. */
export function ifMatch(resource: SessionResource, headers: Record<string, string>): Record<string, string> {
  return resource.etag === undefined ? headers : { ...headers, 'if-match': resource.etag };
}

/** Statuses by which a server says it takes no PATCH (RFC 9725 section 4.3.1). */
export const refusesPatch = (status: number): boolean => status === 405 || status === 422 || status === 501;

/** The candidates of one session, on their way to the server. */
export class CandidateTrickle {
  /** False once the server refused a trickle PATCH: no PATCH is sent again. */
  enabled = true;
  /** Between a restart's new offer and the server's answer: candidates wait for the new ETag. */
  paused = false;
  private pending: LocalCandidate[] = [];
  private gatheringDone = false;
  private batchTimer: ReturnType<typeof setTimeout> | undefined;
  private patching: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly ctx: RequestContext,
    private readonly resource: SessionResource,
    /** The local description now, whose ICE credentials each fragment carries. */
    private readonly localSdp: () => string,
    private readonly on: { error: (error: PeerKitError) => void; failed: (error: unknown) => void },
  ) {}

  /** Takes what `icecandidate` gave: a candidate, or the end of gathering (`null` or empty). */
  candidate(candidate: RTCIceCandidate | null, gatheringState: RTCIceGatheringState): void {
    if (candidate === null || candidate.candidate === '') {
      if (gatheringState === 'complete' || candidate === null) this.gatheringDone = true;
    } else {
      this.pending.push({ candidate: candidate.candidate, sdpMid: candidate.sdpMid });
    }
    this.soon();
  }

  /** Gathering is complete. */
  gathered(): void {
    this.gatheringDone = true;
    this.soon();
  }

  /** A new ICE generation (a restart, a new connection): what was gathered before is void. */
  reset(): void {
    this.pending = [];
    this.gatheringDone = false;
  }

  /** Sends queued candidates in one PATCH: when gathering is done, or after a short batch. */
  soon(): void {
    if (this.resource.url === undefined || !this.enabled || this.paused || this.stopped) return;
    if (this.gatheringDone) {
      clearTimeout(this.batchTimer);
      this.batchTimer = undefined;
      this.flush();
    } else if (this.batchTimer === undefined && this.pending.length > 0) {
      this.batchTimer = setTimeout(() => {
        this.batchTimer = undefined;
        this.flush();
      }, TRICKLE_BATCH_MS);
    }
  }

  /** Nothing more is sent: the session is closing. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.batchTimer);
  }

  private flush(): void {
    const url = this.resource.url;
    const end = this.gatheringDone;
    if (url === undefined || (this.pending.length === 0 && !end)) return;
    const candidates = this.pending;
    this.pending = [];
    // After end-of-candidates nothing more is sent for this ICE generation.
    if (end) this.gatheringDone = false;
    const body = buildFragment(this.localSdp(), candidates, end);
    this.patching = this.patching.then(async () => {
      if (!this.enabled || this.stopped) return;
      const response = await request(this.ctx, 'PATCH', url, ifMatch(this.resource, { 'content-type': FRAGMENT }), body, Date.now() + 10000);
      if (refusesPatch(response.status)) {
        // The server does not trickle; ICE finds its way with what it has.
        this.enabled = false;
      } else if (!response.ok) {
        this.on.error(await statusError('Trickle ICE PATCH', response));
      }
    }).catch((error: unknown) => this.on.failed(error));
  }
}
