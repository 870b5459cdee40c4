import { PeerKitError } from '../errors.js';
import { MAX_TIE_BREAKER, SIGNAL_VERSION } from '../signaling/signal.js';
import type { CandidateSignal, DescriptionSignal, HelloSignal, Signal } from '../signaling/signal.js';

/** How the negotiator reaches the rest of the Peer. */
export interface NegotiatorHooks {
  signal(signal: Signal): void;
  error(error: PeerKitError): void;
}

/** The most candidates kept while waiting for the description they belong to. */
const MAX_EARLY_CANDIDATES = 256;

/** The ICE username fragments of an SDP: one per media section, or one for the whole session. */
export const ufragsOf = (sdp: string | undefined): Set<string> => new Set([...(sdp ?? '').matchAll(/^a=ice-ufrag:(\S+)\r?$/gm)].map((m) => m[1] ?? ''));

/**
 * The W3C webrtc-pc "perfect negotiation" pattern (section 10.7 of the spec, "Perfect
 * Negotiation Example"): either side may offer whenever `negotiationneeded` fires; on a
 * collision the polite side's offer is rolled back implicitly by `setRemoteDescription` and the
 * impolite side ignores the offer it received. Who is polite comes from the `polite` option or,
 * when neither side got one, from the random tie-breakers both sides send first, in `hello`.
 *
 * The very first negotiation is never left to a collision: until it completes, only the impolite
 * side offers. Chromium does not gather candidates for an answer that follows the rollback of a
 * first offer (seen with Chromium 156 in about one glare in four), so the polite side waits; the
 * browser fires `negotiationneeded` again once it is back in `stable` with work still to do
 * (webrtc-pc, "update the negotiation-needed flag").
 */
export class Negotiator {
  /** This side's tie-breaker: the lower one is polite. */
  readonly tieBreaker: number;
  private makingOffer = false;
  private ignoreOffer = false;
  private answerPending = false;
  /** The descriptions of the first completed negotiation, which settled the DTLS roles (see dtls-role.ts). */
  private settled: Settled | undefined;
  private remoteTieBreaker: number | undefined;
  private waitingForRoles = false;
  /** Candidates waiting for the description of their ICE generation. */
  private early: RTCIceCandidateInit[] = [];
  /** ufrags of remote descriptions that a later one replaced: their candidates are stale. */
  private readonly retired = new Set<string>();

  constructor(
    private readonly pc: RTCPeerConnection,
    private readonly politeOption: boolean | undefined,
    private readonly hooks: NegotiatorHooks,
  ) {
    this.tieBreaker =
      politeOption === undefined ? 1 + Math.floor(Math.random() * (MAX_TIE_BREAKER - 2)) : politeOption ? 0 : MAX_TIE_BREAKER;
  }

  /** Whether this side yields on collision; unknown until the first remote description when no option was given. */
  get polite(): boolean | undefined {
    if (this.politeOption !== undefined) return this.politeOption;
    return this.remoteTieBreaker === undefined ? undefined : this.tieBreaker < this.remoteTieBreaker;
  }

  /** This side's `hello`, to be sent before anything else. */
  get hello(): HelloSignal {
    return { v: SIGNAL_VERSION, kind: 'hello', tb: this.tieBreaker };
  }

  /** The `negotiationneeded` handler. */
  async negotiate(): Promise<void> {
    const polite = this.polite;
    if (polite === undefined) {
      this.waitingForRoles = true;
      return;
    }
    if (polite && !this.pc.remoteDescription) return;
    try {
      this.makingOffer = true;
      if (await setLocal(this.pc, 'offer')) this.sendDescription();
    } catch (err) {
      this.hooks.error(new PeerKitError('NEGOTIATION_FAILED', 'The local offer failed.', { cause: err }));
    } finally {
      this.makingOffer = false;
    }
  }

  /** The `icecandidate` handler: sends each local candidate to the remote. */
  trickle(candidate: RTCIceCandidate | null): void {
    // An empty candidate marks the end of a generation; the remote does not need it.
    if (!candidate?.candidate) return;
    const init: RTCIceCandidateInit = { candidate: candidate.candidate, sdpMid: candidate.sdpMid, sdpMLineIndex: candidate.sdpMLineIndex };
    if (candidate.usernameFragment) init.usernameFragment = candidate.usernameFragment;
    this.hooks.signal({ v: SIGNAL_VERSION, kind: 'candidate', candidate: init });
  }

  /** Applies one remote signal. Rejects with a PeerKitError; the negotiation stays usable. */
  async handle(signal: HelloSignal | DescriptionSignal | CandidateSignal): Promise<void> {
    if (signal.kind === 'hello') {
      this.remoteTieBreaker = signal.tb;
      if (this.tieBreaker === signal.tb && this.politeOption === undefined) {
        throw new PeerKitError('NEGOTIATION_FAILED', 'Both sides drew the same tie-breaker; recreate a Peer.');
      }
      if (this.waitingForRoles && this.polite === false) {
        this.waitingForRoles = false;
        await this.negotiate();
      }
      return;
    }
    if (signal.kind === 'candidate') {
      const fate = this.fate(signal.candidate);
      if (fate === 'wait') return this.keep(signal.candidate);
      return fate === 'add' ? this.addCandidate(signal.candidate) : undefined;
    }
    const readyForOffer = !this.makingOffer && (this.pc.signalingState === 'stable' || this.answerPending);
    const collision = signal.type === 'offer' && !readyForOffer;
    this.ignoreOffer = !this.polite && collision;
    if (this.ignoreOffer) return;
    this.answerPending = signal.type === 'answer';
    const before = ufragsOf(this.pc.remoteDescription?.sdp);
    // Loaded only for answers after the first negotiation, so the core does not carry it.
    const sdp = signal.type === 'answer' && this.settled ? (await import('./dtls-role.js')).keepDtlsRole(signal.sdp, this.settled, this.pc.currentRemoteDescription) : signal.sdp;
    try {
      await setRemote(this.pc, { type: signal.type, sdp }, collision);
    } catch (err) {
      throw new PeerKitError('BAD_SIGNAL', `The remote ${signal.type} was refused.`, { cause: err });
    } finally {
      this.answerPending = false;
    }
    this.settled ??= settledBy(this.pc);
    const now = ufragsOf(this.pc.remoteDescription?.sdp);
    for (const ufrag of before) if (!now.has(ufrag)) this.retired.add(ufrag);
    const waiting = this.early;
    this.early = [];
    for (const candidate of waiting) {
      const fate = this.fate(candidate);
      if (fate === 'wait') this.early.push(candidate);
      else if (fate === 'add') await this.addCandidate(candidate).catch(this.hooks.error);
    }
    if (signal.type === 'offer') {
      try {
        await setLocal(this.pc, 'answer');
      } catch (err) {
        throw new PeerKitError('NEGOTIATION_FAILED', 'The local answer failed.', { cause: err });
      }
      this.settled ??= settledBy(this.pc);
      this.sendDescription();
    }
  }

  /**
   * What to do with a remote candidate now. A candidate names its ICE generation by its ufrag
   * (JSEP, RFC 8829 section 5.10): one of the current remote description is added; one of a
   * generation whose description has not arrived yet waits for it, since browsers refuse it
   * (Firefox: "Unknown ufrag"; not a bug, webrtc-pc requires it:
   * https://w3c.github.io/webrtc-pc/#dom-peerconnection-addicecandidate) or accept it into a
   * generation that the description then replaces (Chromium), and either way it is lost; one of a
   * replaced description is dropped. Candidates of an offer this side ignored wait too: the remote
   * may offer the same credentials again once it has rolled back. A candidate without a ufrag
   * belongs to the latest description.
   */
  private fate(candidate: RTCIceCandidateInit): 'add' | 'wait' | 'drop' {
    if (!this.pc.remoteDescription) return 'wait';
    const ufrag = candidate.usernameFragment;
    if (!ufrag || ufragsOf(this.pc.remoteDescription.sdp).has(ufrag)) return 'add';
    return this.retired.has(ufrag) ? 'drop' : 'wait';
  }

  private keep(candidate: RTCIceCandidateInit): void {
    if (this.early.length >= MAX_EARLY_CANDIDATES) {
      throw new PeerKitError('BAD_SIGNAL', `Over ${MAX_EARLY_CANDIDATES} candidates before their description; dropped one.`);
    }
    this.early.push(candidate);
  }

  private async addCandidate(candidate: RTCIceCandidateInit): Promise<void> {
    try {
      await this.pc.addIceCandidate(candidate);
    } catch (err) {
      // Candidates of an offer we ignored, or of an ICE generation that a rollback or restart
      // replaced, are expected to fail and carry no information.
      const ufrag = candidate.usernameFragment;
      if (this.ignoreOffer || (ufrag && !ufragsOf(this.pc.remoteDescription?.sdp).has(ufrag))) return;
      throw new PeerKitError('BAD_SIGNAL', 'A remote ICE candidate was refused.', { cause: err });
    }
  }

  private sendDescription(): void {
    const description = this.pc.localDescription;
    if (!description || (description.type !== 'offer' && description.type !== 'answer')) return;
    this.hooks.signal({ v: SIGNAL_VERSION, kind: 'description', type: description.type, sdp: description.sdp });
  }
}

/** Applies a remote description, rolling a colliding local offer back by hand where the browser does not. */
async function setRemote(pc: RTCPeerConnection, description: RTCSessionDescriptionInit, collision: boolean): Promise<void> {
  try {
    await pc.setRemoteDescription(description);
  } catch (err) {
    // setRemoteDescription rolls a colliding local offer back by itself in browsers. libwebrtc
    // does so only when its embedder turns implicit rollback on, as Chromium does since
    // https://crbug.com/980875; node-webrtc leaves it off and refuses instead (still so with
    // @roamhq/wrtc 0.10, libwebrtc M106), so roll back by hand there and apply the offer again.
    if (!collision || pc.signalingState !== 'have-local-offer') throw err;
    await pc.setLocalDescription({ type: 'rollback' });
    await pc.setRemoteDescription(description);
  }
}

/** Applies the local description the state calls for; false when there was nothing to do. */
async function setLocal(pc: RTCPeerConnection, intent: 'offer' | 'answer'): Promise<boolean> {
  try {
    await pc.setLocalDescription();
    return true;
  } catch (err) {
    // node-webrtc (@roamhq/wrtc) lacks parameterless setLocalDescription() and throws a TypeError
    // for it (https://github.com/node-webrtc/node-webrtc/issues/677); browsers never do. Its
    // rejection lands a turn late, when an offer may have arrived: that offer's handler answers
    // it, so the offer we meant is dropped.
    if (!(err instanceof TypeError)) throw err;
    if (intent === 'offer' && pc.signalingState !== 'stable') return false;
    await pc.setLocalDescription(intent === 'offer' ? await pc.createOffer() : await pc.createAnswer());
    return true;
  }
}

/** The first completed offer/answer, as `{ local, remote }` descriptions. */
export interface Settled {
  local: RTCSessionDescriptionInit;
  remote: RTCSessionDescriptionInit;
}

const settledBy = (pc: RTCPeerConnection): Settled | undefined => {
  const local = pc.currentLocalDescription;
  const remote = pc.currentRemoteDescription;
  return local && remote ? { local, remote } : undefined;
};
