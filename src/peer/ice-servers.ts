import { PeerKitError } from '../errors.js';
import { isRefusal } from './gathering.js';

/**
 * What the ICE servers said during a gathering that went wrong (see ./gathering.ts): a relay-only
 * Peer with no relay candidate (`fatal`), or a TURN server that refused the credentials.
 */
export function gatheringError(failures: readonly RTCPeerConnectionIceErrorEvent[], fatal: boolean): PeerKitError {
  const lines = (refused: boolean): string =>
    failures
      .filter((failure) => isRefusal(failure) === refused)
      .map(({ url, errorCode, errorText }) => `${url || 'server'}: ${errorCode} ${errorText}`.trim())
      .join('; ');
  const refusals = lines(true);
  if (!fatal) return new PeerKitError('TURN_UNAUTHORIZED', `A TURN server refused the credentials (${refusals}); going on without it.`);
  const unreachable = lines(false);
  const why = refusals
    ? `the TURN server refused the credentials (${refusals}); expired?`
    : unreachable
      ? `no TURN server answered (${unreachable})`
      : 'no TURN server is configured in iceServers';
  return new PeerKitError(refusals ? 'TURN_UNAUTHORIZED' : 'ICE_FAILED', `Relay-only, no relay candidate: ${why}.`);
}
