/**
 * Keeping the DTLS roles of an established connection through later negotiations: loaded by the
 * Negotiator only for answers after the first one.
 * @packageDocumentation
 */
import type { Settled } from './negotiator.js';

/** The values of one SDP attribute, in every media section. */
const valuesOf = (sdp: string | undefined, attribute: string): string[] =>
  [...(sdp ?? '').matchAll(new RegExp(`^a=${attribute}:(.+?)\\r?$`, 'gm'))].map((m) => m[1] ?? '');

/** The DTLS role (RFC 8842 `a=setup`) a description settles for its sender: `active` or `passive`, else undefined. */
const roleIn = (sdp: string | undefined): string | undefined => {
  const roles = new Set(valuesOf(sdp, 'setup'));
  const [role] = roles;
  return roles.size === 1 && (role === 'active' || role === 'passive') ? role : undefined;
};

const otherRole = (role: string | undefined): string | undefined => (role === 'active' ? 'passive' : role === 'passive' ? 'active' : undefined);

/**
 * This side's DTLS role (RFC 8842 `a=setup`) as the first completed offer/answer settled it:
 * given by this side's answer, or opposite to the remote's answer. Browsers keep one certificate,
 * hence one DTLS association, for the life of a connection, so it never changes; the later
 * descriptions cannot be trusted to say so (see {@link keepDtlsRole}).
 */
const roleOf = ({ local, remote }: Settled): string | undefined => (local.type === 'answer' ? roleIn(local.sdp) : otherRole(roleIn(remote.sdp)));

/**
 * A remote answer with the DTLS role it must have to keep the established DTLS association, where
 * the first negotiation (`settled`) gave this side its role.
 *
 * Offers always say `actpass` (JSEP, RFC 8829 section 5.2.1), so an answerer that keeps its
 * association must answer with the role it has (RFC 8842 section 5.3). Firefox answers `active`
 * even when it is the DTLS server, that is whenever it made the first offer and the other side
 * now offers, e.g. an ICE restart (https://bugzilla.mozilla.org/show_bug.cgi?id=1329028), and
 * Chromium refuses such an answer ("Failed to set SSL role for the transport") and stays in
 * `have-local-offer`. An answer that keeps the certificate fingerprints keeps the association,
 * since a new association needs a new certificate; its role is then the one it had.
 */
export function keepDtlsRole(sdp: string, settled: Settled, current: RTCSessionDescriptionInit | null): string {
  const theirs = otherRole(roleOf(settled));
  const answered = roleIn(sdp);
  if (!theirs || !answered || answered === theirs) return sdp;
  if (valuesOf(sdp, 'fingerprint').join() !== valuesOf(current?.sdp, 'fingerprint').join()) return sdp;
  return sdp.replace(/^a=setup:(active|passive)(\r?)$/gm, `a=setup:${theirs}$2`);
}
