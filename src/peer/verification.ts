import { PeerKitError } from '../errors.js';

/**
 * Verifying a connection without trusting the signaling path. Each end of a DTLS connection has a
 * certificate whose fingerprint travels in the SDP; the browser refuses a DTLS peer whose
 * certificate does not match the fingerprint it was given. A signaling server that wants to sit
 * in the middle must therefore substitute fingerprints of its own, and then the two ends see
 * different pairs. A short string derived from the pair, read aloud or compared on screen, shows it.
 */

/** What two people compare to know they are connected to each other and to no one else. */
export interface Verification {
  /** This end's DTLS certificate fingerprint, as in the SDP (`sha-256 AB:CD:...`). */
  local: string;
  /** The fingerprint the remote end presented, and the browser verified during the handshake. */
  remote: string;
  /** Six digits derived from both fingerprints: the same on both ends, unless someone is in the middle. */
  sas: string;
}

/** The distinct `a=fingerprint` values of an SDP, in order, normalised. */
export function fingerprintsOf(sdp: string | undefined): string[] {
  const found = new Set<string>();
  for (const match of (sdp ?? '').matchAll(/^a=fingerprint:(\S+) ([0-9A-Fa-f:]+)\r?$/gm)) {
    found.add(`${match[1]?.toLowerCase()} ${match[2]?.toUpperCase()}`);
  }
  return [...found];
}

/**
 * Six decimal digits from SHA-256 over both fingerprints, taken in sorted order so both ends
 * compute the same string. 20 bits of the hash would do; 32 bits modulo 10^6 leave a bias
 * below one in four thousand.
 */
export async function shortAuthString(local: string, remote: string): Promise<string> {
  const input = new TextEncoder().encode(['peerkit-sas/1', ...[local, remote].sort()].join('\n'));
  const digest = new DataView(await crypto.subtle.digest('SHA-256', input));
  return String(digest.getUint32(0) % 1_000_000).padStart(6, '0');
}

/**
 * The verification of a connection whose descriptions are both applied.
 *
 * @throws PeerKitError `UNSUPPORTED` where the SDP carries no fingerprint or WebCrypto is missing
 */
export async function verificationOf(pc: RTCPeerConnection): Promise<Verification> {
  const local = fingerprintsOf(pc.localDescription?.sdp).join(', ');
  const remote = fingerprintsOf(pc.remoteDescription?.sdp).join(', ');
  if (local === '' || remote === '' || globalThis.crypto?.subtle === undefined) {
    throw new PeerKitError('UNSUPPORTED', 'No DTLS fingerprint to compare, or no WebCrypto to hash it.');
  }
  return { local, remote, sas: await shortAuthString(local, remote) };
}
