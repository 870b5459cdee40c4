import type { PeerKitError } from '../errors.js';
import { listen } from '../util.js';

type Diagnose = typeof import('./ice-servers.js').gatheringError;

/** Whether a STUN/TURN error means the server refused the credentials (RFC 8489, RFC 8656). */
export const isRefusal = ({ errorCode }: RTCPeerConnectionIceErrorEvent): boolean => errorCode === 401 || errorCode === 403 || errorCode === 441;

/**
 * Watches candidate gathering for what ICE itself never reports: TURN servers that refuse the
 * credentials (expired or wrong REST credentials) and a relay-only Peer left with no relay
 * candidate, which would otherwise wait forever in `new`. The code that says what went wrong
 * (./ice-servers.ts) loads only when something did.
 *
 * @param report - `fatal` when the connection cannot succeed
 * @returns a function that stops watching, and a promise the Peer waits for before it negotiates
 */
export function watchGathering(
  pc: RTCPeerConnection,
  relayOnly: boolean,
  report: (error: PeerKitError, fatal: boolean) => void,
): [stop: () => void, ready: Promise<unknown>] {
  let failures: RTCPeerConnectionIceErrorEvent[] = [];
  let relays = 0;
  let warned = false;
  let diagnose: Diagnose | undefined;
  const load = (): Promise<Diagnose> => import('./ice-servers.js').then(({ gatheringError }) => (diagnose = gatheringError));
  // A relay-only Peer with no relay candidate must fail with this reason, not with the bare ICE
  // failure that Firefox fires in the same turn: it negotiates only once the code is loaded. A
  // failure to load shows when the code is needed, where it is loaded again.
  const ready = relayOnly ? load().catch(() => undefined) : Promise.resolve();
  const stop = listen(pc, {
    icecandidateerror: (event: Event) => failures.push(event as RTCPeerConnectionIceErrorEvent),
    icecandidate: ({ candidate }: RTCPeerConnectionIceEvent) => {
      if (candidate?.type === 'relay' || / typ relay/.test(candidate?.candidate ?? '')) relays += 1;
    },
    icegatheringstatechange: () => {
      if (pc.iceGatheringState === 'gathering') {
        failures = [];
        relays = 0;
      }
      if (pc.iceGatheringState !== 'complete') return;
      const fatal = relayOnly && relays === 0;
      if (!fatal && (warned || !failures.some(isRefusal))) return;
      warned ||= !fatal;
      const seen = failures;
      const tell = (gatheringError: Diagnose): void => report(gatheringError(seen, fatal), fatal);
      if (diagnose) tell(diagnose);
      else void load().then(tell);
    },
  });
  return [stop, ready];
}
