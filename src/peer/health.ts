import { PeerKitError } from '../errors.js';
import { iceIsUp, listen } from '../util.js';
import { IceRestarter } from './ice-restart.js';
import { Liveness } from './liveness.js';
import { ufragsOf } from './negotiator.js';
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

/** This side's ICE credentials, to tell when a restart has replaced them. */
const ufragsIn = (pc: RTCPeerConnection): string => [...ufragsOf(pc.localDescription?.sdp)].join(' ');

/**
 * How long a connection that never came up may go without an answer to any connectivity check,
 * counted from the last candidate on either side, before it fails. Browsers take longer to say so
 * themselves: Firefox 11 s, and Chromium never reports ICE `failed` (https://crbug.com/982793):
 * at 15 s its ICE says `disconnected` and the connection `failed`.
 */
const UNANSWERED_CHECKS_MS = 10000;

/**
 * How long the remote may stay silent, counted from a restart begun in silence for as long as ICE
 * says it is connected, before the Peer fails. SCTP resends only when its retransmission timer
 * fires, and that timer doubled through the outage (up to RTO.max, 60 s:
 * https://www.rfc-editor.org/rfc/rfc9260#section-16); a remote page that is frozen never answers.
 * Either way a new connection is up sooner, and a Room rebuilds one with nothing lost. Firefox
 * keeps ICE `connected` through short outages (see Liveness), so the clock may include the rest
 * of the outage: seen in the namespace, the remote was heard again 6 to 8 s after the restart.
 */
const STALLED_MS = 20000;

const count = (n: number, what: string): string => `${n} ${what}${n === 1 ? '' : 's'}`;

/** Connection health of one Peer, as {@link watchHealth} returns it. */
export interface ConnectionHealth {
  /** Whether the remote counts as gone though ICE may say it is connected: silent, or the page offline. */
  readonly quiet: boolean;
  /** The default channel opened: start listening for the remote. */
  start(): void;
  /** The Peer reached `connected` for the first time. */
  connected(): void;
  /** Something arrived from the remote, on any channel; `ping` when it was a ping. */
  heard(ping?: true): void;
  /** A candidate arrived from the remote. */
  remoteCandidate(): void;
  /** Feeds the restart policy the ICE state as it counts for health; the `iceconnectionstatechange` handler. */
  check(): void;
  /**
   * Restarts ICE and waits for the new credentials to be in use and connected.
   *
   * @returns rejects with `CLOSED` when the Peer closes first or, after `iceRestartTimeoutMs`, `TIMEOUT`
   */
  restartAndWait(): Promise<void>;
  /** Stops every timer and listener; pending {@link restartAndWait} calls reject with `CLOSED`. */
  stop(): void;
}

/**
 * Watches the connection health of one Peer: whether it connects in time, whether the remote is
 * still heard (see {@link Liveness}), when ICE restarts (see {@link IceRestarter}), what network
 * changes mean, and when to give up, with a reason the user can act on. The state lives in this
 * closure rather than on an object, so that minifiers can shorten its names.
 *
 * A connection that never came up is never restarted: a restart repeats the same checks between
 * the same candidates, so it fails at once with `ICE_FAILED` naming what was tried.
 */
export function watchHealth(pc: RTCPeerConnection, options: ResolvedPeerOptions, hooks: HealthHooks): ConnectionHealth {
  /** Whether ICE was restarted since the remote went quiet (see {@link iceHealth}). */
  let restartedInSilence = false;
  /**
   * Whether the remote pings. One that does not (its `silenceMs` 0) is silent whenever it has
   * nothing to send, and silence alone must not close a connection (docs/protocol.md, 6.3).
   */
  let pinging = false;
  /** The page said `offline` and nothing arrived from the remote since. */
  let offline = false;
  /** Whether the Peer was connected once. */
  let up = false;
  let stopped = false;
  let localCandidates = 0;
  let remoteCandidates = 0;
  let checksTimer: ReturnType<typeof setTimeout> | undefined;
  let stallTimer: ReturnType<typeof setTimeout> | undefined;
  /** This side's ICE credentials, and when the remote last replaced them by restarting ICE itself. */
  let credentials = '';
  let remoteRestartAt = -Infinity;
  const waiters = new Set<(err: PeerKitError) => void>();

  const quiet = (): boolean => liveness.silent || offline;

  /**
   * The ICE state, except that a quiet remote overrules ICE's claim to be connected until one
   * restart was tried. After that ICE is believed again: a restart cannot hurry SCTP, which may
   * wait out its retransmission backoff before anything flows, and giving up on silence alone
   * would close a connection that is coming back. The Peer stays `reconnecting` meanwhile.
   */
  const iceHealth = (): RTCIceConnectionState => {
    const state = pc.iceConnectionState;
    return iceIsUp(state) && quiet() && !restartedInSilence ? 'disconnected' : state;
  };

  const remoteCandidateCount = (): number => remoteCandidates + (pc.remoteDescription?.sdp.match(/^a=candidate:/gm)?.length ?? 0);

  const neverUpError = (): PeerKitError => {
    const remote = remoteCandidateCount();
    const tried = [`${count(localCandidates, 'candidate')} were gathered locally`, `${count(remote, 'candidate')} arrived from the remote`];
    if (localCandidates > 0 && remote > 0) tried.push('every connectivity check between them failed');
    const hint = options.iceServers?.length ? '' : ' No STUN or TURN server is set: peers behind different NATs need one.';
    return new PeerKitError('ICE_FAILED', `The connection never came up: ${tried.join(', ')}.${hint}`);
  };

  const timeoutError = (): PeerKitError => {
    const where = !pc.remoteDescription
      ? 'no description arrived from the remote; are signals delivered both ways?'
      : `ICE ${pc.iceConnectionState} with ${count(localCandidates, 'local candidate')} and ${count(remoteCandidateCount(), 'remote candidate')}, connection ${pc.connectionState}.`;
    return new PeerKitError('CONNECT_TIMEOUT', `Not connected after ${options.connectTimeoutMs} ms: ${where}`);
  };

  /** Runs the {@link STALLED_MS} clock while ICE says it is connected after a restart in silence, and a remote that pings is still silent. */
  const watchStall = (): void => {
    if (!pinging || !restartedInSilence || !quiet() || !iceIsUp(pc.iceConnectionState)) {
      clearTimeout(stallTimer);
      stallTimer = undefined;
    } else if (stallTimer === undefined) {
      stallTimer = setTimeout(
        () => hooks.fatal(new PeerKitError('TIMEOUT', `ICE is up, but nothing came from the remote for ${STALLED_MS} ms after a restart: SCTP backing off, or a frozen page.`)),
        STALLED_MS,
      );
    }
  };

  const check = (): void => {
    // A Peer closing has stopped restarting; late ICE events must not start it again.
    if (stopped) return;
    if (!up && (pc.iceConnectionState === 'failed' || pc.connectionState === 'failed')) return hooks.fatal(neverUpError());
    restarter.update(iceHealth());
    watchStall();
    hooks.changed();
  };

  const restart = (why: string): void => {
    hooks.log(why);
    // Both sides notice an outage at about the same time. A second restart while the remote's is
    // still checking makes Firefox fail the connection within 200 ms (seen with Firefox ESR while
    // UDP was dropped): the remote's restart counts as this attempt; the next one follows if it fails.
    if (quiet()) restartedInSilence = true;
    // ICE may never leave `connected` (Firefox, see Liveness), so no state change would start the clock.
    watchStall();
    if (performance.now() - remoteRestartAt < options.iceRestartTimeoutMs) return hooks.log(`${why}: the remote restarted ICE already`);
    pc.restartIce();
  };

  const judgeChecks = async (): Promise<void> => {
    let answered = false;
    try {
      (await pc.getStats()).forEach((report: { type?: string; state?: string; responsesReceived?: number }) => {
        if (report.type === 'candidate-pair' && (report.state === 'succeeded' || (report.responsesReceived ?? 0) > 0)) answered = true;
      });
    } catch {
      // A connection closed meanwhile has no stats; nothing to judge.
      return;
    }
    // A check was answered: ICE works and the rest (DTLS, SCTP) is left to connectTimeoutMs.
    if (answered || up || stopped || iceIsUp(pc.iceConnectionState)) return;
    hooks.fatal(neverUpError());
  };

  /** (Re)starts the wait for an answered check, once both descriptions are in place and until the Peer is up. */
  const armChecks = (): void => {
    if (up || stopped || !pc.remoteDescription || !pc.localDescription) return;
    clearTimeout(checksTimer);
    checksTimer = setTimeout(() => void judgeChecks(), UNANSWERED_CHECKS_MS);
  };

  const restarter = new IceRestarter(
    { graceMs: options.disconnectedGraceMs, maxAttempts: options.maxIceRestarts, attemptTimeoutMs: options.iceRestartTimeoutMs },
    () => restart('restarting ICE'),
    () => hooks.fatal(new PeerKitError('ICE_FAILED', `The connection failed; ${options.maxIceRestarts} ICE restarts did not help.`)),
    iceHealth,
  );
  const liveness = new Liveness(options.silenceMs, hooks.ping, () => {
    hooks.log(liveness.silent ? 'remote silent' : 'remote heard again');
    restartedInSilence = false;
    check();
  });
  const connectTimer = options.connectTimeoutMs > 0 ? setTimeout(() => hooks.fatal(timeoutError()), options.connectTimeoutMs) : undefined;
  const signaled = (): void => {
    armChecks();
    const now = ufragsIn(pc);
    if (pc.signalingState !== 'stable' || now === credentials) return;
    if (credentials && pc.currentLocalDescription?.type === 'answer') remoteRestartAt = performance.now();
    credentials = now;
  };
  const countLocal = ({ candidate }: RTCPeerConnectionIceEvent): void => {
    if (!candidate?.candidate) return;
    localCandidates += 1;
    armChecks();
  };
  const stops = [
    listen(pc, { icecandidate: countLocal, signalingstatechange: signaled }),
    watchNetwork(options.network, {
      changed: () => {
        offline = false;
        if (up && !stopped) restart('network changed: restarting ICE');
        check();
      },
      offline: () => {
        offline = true;
        restartedInSilence = false;
        check();
      },
    }),
  ];

  return {
    get quiet() {
      return quiet();
    },
    start: () => liveness.start(),
    connected: () => {
      up = true;
      clearTimeout(connectTimer);
      clearTimeout(checksTimer);
    },
    heard: (ping) => {
      liveness.heard();
      if (ping) pinging = true;
      if (!offline) return;
      offline = false;
      check();
    },
    remoteCandidate: () => {
      remoteCandidates += 1;
      armChecks();
    },
    check,
    restartAndWait: () => {
      const before = ufragsIn(pc);
      const done = new Promise<void>((resolve, reject) => {
        const settled = (): void => {
          if (pc.signalingState === 'stable' && ufragsIn(pc) !== before && iceIsUp(pc.iceConnectionState)) finish();
        };
        const timer = setTimeout(
          () => finish(new PeerKitError('TIMEOUT', `ICE restart took over ${options.iceRestartTimeoutMs} ms.`)),
          options.iceRestartTimeoutMs,
        );
        const finish = (err?: PeerKitError): void => {
          clearTimeout(timer);
          waiters.delete(finish);
          stopListening();
          if (err) reject(err);
          else resolve();
        };
        waiters.add(finish);
        const stopListening = listen(pc, { signalingstatechange: settled, iceconnectionstatechange: settled });
      });
      pc.restartIce();
      return done;
    },
    stop: () => {
      if (stopped) return;
      stopped = true;
      clearTimeout(connectTimer);
      clearTimeout(checksTimer);
      clearTimeout(stallTimer);
      restarter.stop();
      liveness.stop();
      stops.forEach((stop) => stop());
      for (const finish of waiters) finish(new PeerKitError('CLOSED', 'Closed during the ICE restart.'));
    },
  };
}
