import { PeerKitError } from '../errors.js';
import { isRecord } from '../util.js';

/** The version of the Peer signal format. A Peer refuses signals of any other version. */
export const SIGNAL_VERSION = 1;

/** The first signal of each side: its tie-breaker, which decides who is polite. */
export interface HelloSignal {
  /** The signal format's version, {@link SIGNAL_VERSION}. */
  v: typeof SIGNAL_VERSION;
  /** What the signal carries. */
  kind: 'hello';
  /** The lower number yields on collisions; 0 and 2^53 - 1 stand for an explicit `polite` option. */
  tb: number;
}

/** An SDP offer or answer. */
export interface DescriptionSignal {
  /** The signal format's version, {@link SIGNAL_VERSION}. */
  v: typeof SIGNAL_VERSION;
  /** What the signal carries. */
  kind: 'description';
  /** The description's type; peerkit never sends `pranswer` or `rollback`. */
  type: 'offer' | 'answer';
  /** The session description, starting with `v=0`. */
  sdp: string;
}

/** One trickled ICE candidate. */
export interface CandidateSignal {
  /** The signal format's version, {@link SIGNAL_VERSION}. */
  v: typeof SIGNAL_VERSION;
  /** What the signal carries. */
  kind: 'candidate';
  /** The candidate as `RTCIceCandidate.toJSON()` gives it. */
  candidate: RTCIceCandidateInit;
}

/** The sender closed its Peer. */
export interface ByeSignal {
  /** The signal format's version, {@link SIGNAL_VERSION}. */
  v: typeof SIGNAL_VERSION;
  /** What the signal carries. */
  kind: 'bye';
}

/** A message one Peer emits on `signal` and the other takes in `peer.signal()`: plain JSON. */
export type Signal = HelloSignal | DescriptionSignal | CandidateSignal | ByeSignal;

/** The largest tie-breaker; 0 and this value are kept for an explicit `polite` option. */
export const MAX_TIE_BREAKER = Number.MAX_SAFE_INTEGER;

const bad = (why: string, cause?: unknown): PeerKitError =>
  new PeerKitError('BAD_SIGNAL', `Ignored a malformed signal: ${why}.`, { cause });

const optional = (x: unknown, type: 'string' | 'number'): boolean =>
  x === undefined || x === null || typeof x === type;

function parseCandidate(c: unknown, maxBytes: number): RTCIceCandidateInit | PeerKitError {
  if (!isRecord(c) || typeof c['candidate'] !== 'string') return bad('a candidate needs a candidate string');
  if (c['candidate'].length > maxBytes) return bad('the candidate is too long');
  const { sdpMid, sdpMLineIndex, usernameFragment } = c;
  if (!optional(sdpMid, 'string') || !optional(sdpMLineIndex, 'number') || !optional(usernameFragment, 'string')) {
    return bad('sdpMid, sdpMLineIndex and usernameFragment must be a string, a number and a string');
  }
  if ((sdpMid ?? null) === null && (sdpMLineIndex ?? null) === null) return bad('a candidate needs sdpMid or sdpMLineIndex');
  if (typeof sdpMLineIndex === 'number' && !(Number.isInteger(sdpMLineIndex) && sdpMLineIndex >= 0)) {
    return bad('sdpMLineIndex must be a non-negative integer');
  }
  const init: RTCIceCandidateInit = { candidate: c['candidate'] };
  if (typeof sdpMid === 'string') init.sdpMid = sdpMid;
  if (typeof sdpMLineIndex === 'number') init.sdpMLineIndex = sdpMLineIndex;
  if (typeof usernameFragment === 'string') init.usernameFragment = usernameFragment;
  return init;
}

/**
 * Checks a signal from the remote side: a `Signal` object or its JSON text. Never throws.
 *
 * @param raw - whatever arrived
 * @param maxBytes - the longest SDP (and JSON text) accepted
 * @returns the typed signal, or a `PeerKitError` with code `BAD_SIGNAL` that says what is wrong
 */
export function parseSignal(raw: unknown, maxBytes: number): Signal | PeerKitError {
  let value = raw;
  if (typeof raw === 'string') {
    if (raw.length > maxBytes) return bad(`${raw.length} characters is more than the ${maxBytes} allowed`);
    try {
      value = JSON.parse(raw);
    } catch (err) {
      return bad('it is not JSON', err);
    }
  }
  if (!isRecord(value)) return bad('a signal is a JSON object');
  if (value['v'] !== SIGNAL_VERSION) return bad(`version ${String(value['v'])} is not ${SIGNAL_VERSION}`);
  switch (value['kind']) {
    case 'hello': {
      const tb = value['tb'];
      if (typeof tb !== 'number' || !Number.isInteger(tb) || tb < 0 || tb > MAX_TIE_BREAKER) {
        return bad('tb must be an integer between 0 and 2^53 - 1');
      }
      return { v: SIGNAL_VERSION, kind: 'hello', tb };
    }
    case 'description': {
      const { type, sdp } = value;
      if (type !== 'offer' && type !== 'answer') return bad('a description is an offer or an answer');
      if (typeof sdp !== 'string' || !sdp.startsWith('v=0')) return bad('the SDP must be a string starting with v=0');
      if (sdp.length > maxBytes) return bad(`an SDP of ${sdp.length} characters is more than the ${maxBytes} allowed`);
      return { v: SIGNAL_VERSION, kind: 'description', type, sdp };
    }
    case 'candidate': {
      const candidate = parseCandidate(value['candidate'], maxBytes);
      return candidate instanceof PeerKitError ? candidate : { v: SIGNAL_VERSION, kind: 'candidate', candidate };
    }
    case 'bye':
      return { v: SIGNAL_VERSION, kind: 'bye' };
    default:
      return bad(`unknown kind ${JSON.stringify(value['kind'])}`);
  }
}
