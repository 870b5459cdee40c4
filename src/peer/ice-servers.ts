import { PeerKitError } from '../errors.js';
import { listen } from '../util.js';

/** STUN/TURN error codes that mean the server refused the credentials (RFC 8489, RFC 8656). */
const REFUSED = new Set([401, 403, 441]);

/**
 * Watches candidate gathering for what ICE itself never reports: TURN servers that refuse the
 * credentials (expired or wrong REST credentials) and a relay-only Peer left with no relay
 * candidate, which would otherwise wait forever in `new`.
 *
 * @param report - `fatal` when the connection cannot succeed
 * @returns a function that stops watching
 */
export function watchGathering(pc: RTCPeerConnection, relayOnly: boolean, report: (error: PeerKitError, fatal: boolean) => void): () => void {
  let refusals: string[] = [];
  let unreachable: string[] = [];
  let relays = 0;
  let warned = false;
  const onError = (event: Event): void => {
    const { errorCode, url, errorText } = event as RTCPeerConnectionIceErrorEvent;
    const line = `${url || 'server'}: ${errorCode} ${errorText}`.trim();
    (REFUSED.has(errorCode) ? refusals : unreachable).push(line);
  };
  const onCandidate = ({ candidate }: RTCPeerConnectionIceEvent): void => {
    if (candidate?.type === 'relay' || / typ relay/.test(candidate?.candidate ?? '')) relays += 1;
  };
  const onGathering = (): void => {
    if (pc.iceGatheringState === 'gathering') {
      refusals = [];
      unreachable = [];
      relays = 0;
      return;
    }
    if (pc.iceGatheringState !== 'complete') return;
    const refused = refusals.length > 0;
    if (relayOnly && relays === 0) {
      const why = refused
        ? `the TURN server refused the credentials (${refusals.join('; ')}); expired?`
        : unreachable.length > 0
          ? `no TURN server answered (${unreachable.join('; ')})`
          : 'no TURN server is configured in iceServers';
      report(new PeerKitError(refused ? 'TURN_UNAUTHORIZED' : 'ICE_FAILED', `Relay-only, no relay candidate: ${why}.`), true);
    } else if (refused && !warned) {
      warned = true;
      report(new PeerKitError('TURN_UNAUTHORIZED', `A TURN server refused the credentials (${refusals.join('; ')}); going on without it.`), false);
    }
  };
  return listen(pc, { icecandidateerror: onError, icecandidate: onCandidate, icegatheringstatechange: onGathering });
}
