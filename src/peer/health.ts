import { PeerKitError } from '../errors.js';
import { iceIsUp } from '../util.js';
import { IceRestarter } from './ice-restart.js';
import { Liveness } from './liveness.js';
import { watchNetwork } from './network.js';
import type { ResolvedPeerOptions } from './options.js';

/** How connection health reaches the rest of the Peer. */
export interface HealthHooks {
  log(...args: unknown[]): void;
  /** Pings the remote on the default channel. */
  ping(): void;
  /** Something the Peer's state is derived from changed. */
  changed(): void;
  /** The connection cannot succeed: the Peer fails with this error and closes. */
  fatal(error: PeerKitError): void;
}

const ufragOf = (description: RTCSessionDescription | null): string | undefined =>
  /a=ice-ufrag:(\S+)/.exec(description?.sdp ?? '')?.[1];

/**
 * How long a connection that never came up may go without an answer to any connectivity check,
 * counted from the last candidate on either side, before it fails. Browsers take longer to say so
 * themselves: Firefox 11 s, and Chromium never reports ICE `failed` (https://crbug.com/982793):
 * at 15 s its ICE says `disconnected` and the connection `failed`.
 */
const UNANSWERED_CHECKS_MS = 10000;

const count = (n: number, what: string): string => `${n} ${what}${n === 1 ? '' : 's'}`;

/**
 * Connection health of one Peer: whether it connects in time, whether the remote is still heard
 * (see {@link Liveness}), when ICE restarts (see {@link IceRestarter}), what network changes
 * mean, and when to give up, with a reason the user can act on.
 *
 * A connection that never came up is never restarted: a restart repeats the same checks between
 * the same candidates, so it fails at once with `ICE_FAILED` naming what was tried.
 */
export class ConnectionHealth {
  private readonly restarter: IceRestarter;
  private readonly liveness: Liveness;
  /** Whether ICE was restarted since the remote went quiet (see {@link iceHealth}). */
  private restartedInSilence = false;
  /** The page said `offline` and nothing arrived from the remote since. */
  private offline = false;
  /** Whether the Peer was connected once. */
  private up = false;
  private stopped = false;
  private localCandidates = 0;
  private remoteCandidates = 0;
  private readonly connectTimer: ReturnType<typeof setTimeout> | undefined;
  private checksTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly waiters = new Set<(err: PeerKitError) => void>();
  private readonly unwatch: () => void;

  constructor(
    private readonly pc: RTCPeerConnection,
    private readonly options: ResolvedPeerOptions,
    private readonly hooks: HealthHooks,
  ) {
    this.restarter = new IceRestarter(
      { graceMs: options.disconnectedGraceMs, maxAttempts: options.maxIceRestarts, attemptTimeoutMs: options.iceRestartTimeoutMs },
      () => this.restart('restarting ICE'),
      () => this.hooks.fatal(new PeerKitError('ICE_FAILED', `The connection failed; ${options.maxIceRestarts} ICE restarts did not help.`)),
      () => this.iceHealth(),
    );
    this.liveness = new Liveness(options.silenceMs, hooks.ping, () => {
      hooks.log(this.liveness.silent ? 'the remote went silent' : 'the remote is heard again');
      this.restartedInSilence = false;
      this.check();
    });
    if (options.connectTimeoutMs > 0) {
      this.connectTimer = setTimeout(() => this.hooks.fatal(this.timeoutError()), options.connectTimeoutMs);
    }
    const countLocal = ({ candidate }: RTCPeerConnectionIceEvent): void => {
      if (!candidate?.candidate) return;
      this.localCandidates += 1;
      this.armChecks();
    };
    const described = (): void => this.armChecks();
    pc.addEventListener('icecandidate', countLocal);
    pc.addEventListener('signalingstatechange', described);
    const unwatchNetwork = watchNetwork(options.network, {
      changed: () => {
        this.offline = false;
        if (this.up && !this.stopped) this.restart('the network changed: restarting ICE');
        this.check();
      },
      offline: () => {
        this.offline = true;
        this.restartedInSilence = false;
        this.check();
      },
    });
    this.unwatch = () => {
      pc.removeEventListener('icecandidate', countLocal);
      pc.removeEventListener('signalingstatechange', described);
      unwatchNetwork();
    };
  }

  /** Whether the remote counts as gone though ICE may say it is connected: silent, or the page offline. */
  get quiet(): boolean {
    return this.liveness.silent || this.offline;
  }

  /** The default channel opened: start listening for the remote. */
  start(): void {
    this.liveness.start();
  }

  /** The Peer reached `connected` for the first time. */
  connected(): void {
    this.up = true;
    clearTimeout(this.connectTimer);
    clearTimeout(this.checksTimer);
  }

  /** Something arrived from the remote, on any channel. */
  heard(): void {
    this.liveness.heard();
    if (!this.offline) return;
    this.offline = false;
    this.check();
  }

  /** A candidate arrived from the remote. */
  remoteCandidate(): void {
    this.remoteCandidates += 1;
    this.armChecks();
  }

  /** Feeds the restart policy the ICE state as {@link iceHealth} sees it; the `iceconnectionstatechange` handler. */
  check(): void {
    // A Peer closing has stopped restarting; late ICE events must not start it again.
    if (this.stopped) return;
    if (!this.up && (this.pc.iceConnectionState === 'failed' || this.pc.connectionState === 'failed')) {
      return this.hooks.fatal(this.neverUpError());
    }
    this.restarter.update(this.iceHealth());
    this.hooks.changed();
  }

  /**
   * Restarts ICE and waits for the new credentials to be in use and connected.
   *
   * @returns rejects with `CLOSED` when the Peer closes first or, after `iceRestartTimeoutMs`, `TIMEOUT`
   */
  restartAndWait(): Promise<void> {
    const before = ufragOf(this.pc.localDescription);
    const done = new Promise<void>((resolve, reject) => {
      const check = (): void => {
        const pc = this.pc;
        if (pc.signalingState === 'stable' && ufragOf(pc.localDescription) !== before && iceIsUp(pc.iceConnectionState)) finish();
      };
      const timer = setTimeout(
        () => finish(new PeerKitError('TIMEOUT', `ICE restart took over ${this.options.iceRestartTimeoutMs} ms.`)),
        this.options.iceRestartTimeoutMs,
      );
      const finish = (err?: PeerKitError): void => {
        clearTimeout(timer);
        this.waiters.delete(finish);
        this.pc.removeEventListener('signalingstatechange', check);
        this.pc.removeEventListener('iceconnectionstatechange', check);
        if (err) reject(err);
        else resolve();
      };
      this.waiters.add(finish);
      this.pc.addEventListener('signalingstatechange', check);
      this.pc.addEventListener('iceconnectionstatechange', check);
    });
    this.pc.restartIce();
    return done;
  }

  /** Stops every timer and listener; pending {@link restartAndWait} calls reject with `CLOSED`. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.connectTimer);
    clearTimeout(this.checksTimer);
    this.restarter.stop();
    this.liveness.stop();
    this.unwatch();
    for (const finish of this.waiters) finish(new PeerKitError('CLOSED', 'Closed during the ICE restart.'));
  }

  /** (Re)starts the wait for an answered check, once both descriptions are in place and until the Peer is up. */
  private armChecks(): void {
    if (this.up || this.stopped || !this.pc.remoteDescription || !this.pc.localDescription) return;
    clearTimeout(this.checksTimer);
    this.checksTimer = setTimeout(() => void this.judgeChecks(), UNANSWERED_CHECKS_MS);
  }

  private async judgeChecks(): Promise<void> {
    let answered = false;
    try {
      (await this.pc.getStats()).forEach((report: { type?: string; state?: string; responsesReceived?: number }) => {
        if (report.type === 'candidate-pair' && (report.state === 'succeeded' || (report.responsesReceived ?? 0) > 0)) answered = true;
      });
    } catch {
      // A connection closed meanwhile has no stats; nothing to judge.
      return;
    }
    // A check was answered: ICE works and the rest (DTLS, SCTP) is left to connectTimeoutMs.
    if (answered || this.up || this.stopped || iceIsUp(this.pc.iceConnectionState)) return;
    this.hooks.fatal(this.neverUpError());
  }

  private restart(why: string): void {
    this.hooks.log(why);
    if (this.quiet) this.restartedInSilence = true;
    this.pc.restartIce();
  }

  /**
   * The ICE state, except that a quiet remote overrules ICE's claim to be connected until one
   * restart was tried. After that ICE is believed again: a restart cannot hurry SCTP, which may
   * wait out its retransmission backoff before anything flows, and giving up on silence alone
   * would close a connection that is coming back. The Peer stays `reconnecting` meanwhile.
   */
  private iceHealth(): RTCIceConnectionState {
    const state = this.pc.iceConnectionState;
    return iceIsUp(state) && this.quiet && !this.restartedInSilence ? 'disconnected' : state;
  }

  private remoteCandidateCount(): number {
    return this.remoteCandidates + (this.pc.remoteDescription?.sdp.match(/^a=candidate:/gm)?.length ?? 0);
  }

  private neverUpError(): PeerKitError {
    const local = this.localCandidates;
    const remote = this.remoteCandidateCount();
    const tried = [
      local === 0 ? 'no candidates were gathered locally' : `${count(local, 'candidate')} were gathered locally`,
      remote === 0 ? 'none arrived from the remote' : `${count(remote, 'candidate')} arrived from the remote`,
    ];
    if (local > 0 && remote > 0) tried.push('every connectivity check between them failed');
    const hint = this.options.iceServers?.length ? '' : ' No STUN or TURN server is set: peers behind different NATs need one.';
    return new PeerKitError('ICE_FAILED', `The connection never came up: ${tried.join(', ')}.${hint}`);
  }

  private timeoutError(): PeerKitError {
    const pc = this.pc;
    const where = !pc.remoteDescription
      ? 'no description arrived from the remote; are signals delivered both ways?'
      : `ICE is ${pc.iceConnectionState} with ${count(this.localCandidates, 'local candidate')} and ${count(this.remoteCandidateCount(), 'remote candidate')}, the connection ${pc.connectionState}.`;
    return new PeerKitError('CONNECT_TIMEOUT', `The Peer did not connect within ${this.options.connectTimeoutMs} ms: ${where}`);
  }
}
