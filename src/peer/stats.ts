/** One end of the ICE candidate pair in use. */
export interface CandidateSummary {
  /** `host`, `srflx`, `prflx` or `relay`. */
  type: string | null;
  /** `udp` or `tcp`. */
  protocol: string | null;
  /** The candidate's IP address (or mDNS name), as the browser reports it. */
  address: string | null;
  /** The candidate's port. */
  port: number | null;
}

/** A short summary of a Peer's connection, from `peer.getStats()`. */
export interface PeerStats {
  /** When the browser took the figures, in ms since the epoch. */
  timestamp: number;
  /** Round-trip time on the selected candidate pair, in ms; null until measured. */
  rtt: number | null;
  /** Bytes sent on the selected candidate pair. */
  bytesSent: number;
  /** Bytes received on the selected candidate pair. */
  bytesReceived: number;
  /** Bits per second sent since the previous `getStats()`; null on the first call. */
  sendBitrate: number | null;
  /** Bits per second received since the previous `getStats()`; null on the first call. */
  receiveBitrate: number | null;
  /** `relay` when either end is a TURN relay candidate, `direct` otherwise; `unknown` before a pair is selected. */
  path: 'direct' | 'relay' | 'unknown';
  /** This end's candidate of the selected pair; null before a pair is selected. */
  local: CandidateSummary | null;
  /** The remote's candidate of the selected pair; null before a pair is selected. */
  remote: CandidateSummary | null;
}

type Stat = Record<string, unknown>;

const num = (x: unknown): number | null => (typeof x === 'number' && Number.isFinite(x) ? x : null);
const str = (x: unknown): string | null => (typeof x === 'string' ? x : null);

function candidate(stat: Stat | undefined): CandidateSummary | null {
  if (!stat) return null;
  return {
    type: str(stat['candidateType']),
    protocol: str(stat['protocol']),
    address: str(stat['address']) ?? str(stat['ip']),
    port: num(stat['port']),
  };
}

function selectedPair(stats: Map<string, Stat>): Stat | undefined {
  for (const stat of stats.values()) {
    // Chrome and libwebrtc name the pair on the transport; Firefox before 153 has no transport
    // stats (https://bugzilla.mozilla.org/show_bug.cgi?id=1225723) and marks the pair itself
    // (https://developer.mozilla.org/en-US/docs/Web/API/RTCIceCandidatePairStats/selected).
    const id = stat['type'] === 'transport' ? str(stat['selectedCandidatePairId']) : null;
    if (id && stats.has(id)) return stats.get(id);
  }
  for (const stat of stats.values()) {
    if (stat['type'] === 'candidate-pair' && (stat['selected'] === true || (stat['nominated'] === true && stat['state'] === 'succeeded'))) {
      return stat;
    }
  }
  return undefined;
}

const rate = (bytes: number, before: number | undefined, ms: number): number | null =>
  before === undefined || ms <= 0 ? null : Math.max(0, ((bytes - before) * 8 * 1000) / ms);

/**
 * Summarises an `RTCStatsReport` as seen through the selected candidate pair.
 *
 * @param previous - the summary before this one, to turn byte counts into bitrates
 */
export function summarizeStats(report: RTCStatsReport, previous?: PeerStats): PeerStats {
  const stats = new Map<string, Stat>();
  report.forEach((stat: Stat) => stats.set(String(stat['id']), stat));
  const pair = selectedPair(stats);
  const local = candidate(stats.get(String(pair?.['localCandidateId'])));
  const remote = candidate(stats.get(String(pair?.['remoteCandidateId'])));
  const timestamp = num(pair?.['timestamp']) ?? Date.now();
  const bytesSent = num(pair?.['bytesSent']) ?? 0;
  const bytesReceived = num(pair?.['bytesReceived']) ?? 0;
  const current = num(pair?.['currentRoundTripTime']);
  const total = num(pair?.['totalRoundTripTime']);
  const responses = num(pair?.['responsesReceived']);
  const rttSeconds = current ?? (total !== null && responses ? total / responses : null);
  const elapsed = previous ? timestamp - previous.timestamp : 0;
  return {
    timestamp,
    rtt: rttSeconds === null ? null : rttSeconds * 1000,
    bytesSent,
    bytesReceived,
    sendBitrate: rate(bytesSent, previous?.bytesSent, elapsed),
    receiveBitrate: rate(bytesReceived, previous?.bytesReceived, elapsed),
    path: !pair ? 'unknown' : local?.type === 'relay' || remote?.type === 'relay' ? 'relay' : 'direct',
    local,
    remote,
  };
}
