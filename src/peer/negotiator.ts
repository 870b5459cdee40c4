import { PeerKitError } from '../errors.js';
import { MAX_TIE_BREAKER, SIGNAL_VERSION } from '../signaling/signal.js';
import type { CandidateSignal, DescriptionSignal, Signal } from '../signaling/signal.js';

/** How the negotiator reaches the rest of the Peer. */
export interface NegotiatorHooks {
  signal(signal: Signal): void;
  error(error: PeerKitError): void;
}

/** The most candidates kept while waiting for the description they belong to. */
const MAX_EARLY_CANDIDATES = 256;

/**
 * The W3C webrtc-pc "perfect negotiation" pattern (section 10.7 of the spec, "Perfect
 * Negotiation Example"): either side may offer whenever `negotiationneeded` fires; on a
 * collision the polite side rolls its offer back and the impolite side ignores the offer it
 * received. Who is polite comes from the `polite` option or,
 * when neither side got one, from the random tie-breaker each description carries.
 */
export class Negotiator {
  /** This side's tie-breaker: the lower one is polite. */
  readonly tieBreaker: number;
  private makingOffer = false;
  private ignoreOffer = false;
  private answerPending = false;
  private remoteTieBreaker: number | undefined;
  private readonly early: RTCIceCandidateInit[] = [];

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

  /** The `negotiationneeded` handler. */
  async negotiate(): Promise<void> {
    try {
      this.makingOffer = true;
      if (await setLocal(this.pc, 'offer')) this.sendDescription();
    } catch (err) {
      this.hooks.error(new PeerKitError('NEGOTIATION_FAILED', 'Could not create or apply a local offer.', { cause: err }));
    } finally {
      this.makingOffer = false;
    }
  }

  /** Applies one remote signal. Rejects with a PeerKitError; the negotiation stays usable. */
  async handle(signal: DescriptionSignal | CandidateSignal): Promise<void> {
    if (signal.kind === 'candidate') {
      if (!this.pc.remoteDescription) return this.keep(signal.candidate);
      return this.addCandidate(signal.candidate);
    }
    this.remoteTieBreaker = signal.tb;
    const readyForOffer = !this.makingOffer && (this.pc.signalingState === 'stable' || this.answerPending);
    const collision = signal.type === 'offer' && !readyForOffer;
    this.ignoreOffer = !this.polite && collision;
    if (this.ignoreOffer) return;
    this.answerPending = signal.type === 'answer';
    // Roll back explicitly, queued on the connection's operations chain ahead of the remote
    // offer: browsers would roll back implicitly, node-webrtc does not. It fails harmlessly when
    // the local offer it targets never got applied.
    if (collision) this.pc.setLocalDescription({ type: 'rollback' }).catch(() => undefined);
    try {
      await this.pc.setRemoteDescription({ type: signal.type, sdp: signal.sdp });
    } catch (err) {
      throw new PeerKitError('BAD_SIGNAL', `The browser refused the remote ${signal.type}.`, { cause: err });
    } finally {
      this.answerPending = false;
    }
    for (const candidate of this.early.splice(0)) await this.addCandidate(candidate).catch(this.hooks.error);
    if (signal.type === 'offer') {
      try {
        await setLocal(this.pc, 'answer');
      } catch (err) {
        throw new PeerKitError('NEGOTIATION_FAILED', 'Could not create or apply the local answer.', { cause: err });
      }
      this.sendDescription();
    }
  }

  private keep(candidate: RTCIceCandidateInit): void {
    if (this.early.length >= MAX_EARLY_CANDIDATES) {
      throw new PeerKitError('BAD_SIGNAL', `More than ${MAX_EARLY_CANDIDATES} candidates arrived before any description; dropped one.`);
    }
    this.early.push(candidate);
  }

  private async addCandidate(candidate: RTCIceCandidateInit): Promise<void> {
    try {
      await this.pc.addIceCandidate(candidate);
    } catch (err) {
      // Candidates of an offer we ignored, or of an ICE generation that a rollback or restart
      // replaced, are expected to fail and carry no information.
      if (this.ignoreOffer || this.stale(candidate)) return;
      throw new PeerKitError('BAD_SIGNAL', 'The browser refused a remote ICE candidate.', { cause: err });
    }
  }

  private stale(candidate: RTCIceCandidateInit): boolean {
    const ufrag = candidate.usernameFragment;
    return !!ufrag && !this.pc.remoteDescription?.sdp.includes(`a=ice-ufrag:${ufrag}\r\n`);
  }

  private sendDescription(): void {
    const description = this.pc.localDescription;
    if (!description || (description.type !== 'offer' && description.type !== 'answer')) return;
    this.hooks.signal({ v: SIGNAL_VERSION, kind: 'description', type: description.type, sdp: description.sdp, tb: this.tieBreaker });
  }
}

/** Applies the local description the state calls for; false when there was nothing to do. */
async function setLocal(pc: RTCPeerConnection, intent: 'offer' | 'answer'): Promise<boolean> {
  try {
    await pc.setLocalDescription();
    return true;
  } catch (err) {
    // node-webrtc (@roamhq/wrtc) predates parameterless setLocalDescription() and throws a
    // TypeError for it; browsers never do. Its rejection lands a turn late, when an offer may
    // have arrived: that offer's handler answers it, so the offer we meant is dropped.
    if (!(err instanceof TypeError)) throw err;
    if (intent === 'offer' && pc.signalingState !== 'stable') return false;
    await pc.setLocalDescription(intent === 'offer' ? await pc.createOffer() : await pc.createAnswer());
    return true;
  }
}
