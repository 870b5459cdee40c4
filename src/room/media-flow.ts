/** What a route's flow is read from: an RTCPeerConnection, or a WHIP/WHEP session. */
export type StatsSource = { getStats(): Promise<RTCStatsReport> };

/**
 * Frames decoded (video) plus packets received (audio) so far on `source`; 0 without one. A
 * count that grows between two reads means media flows there.
 */
export async function received(source: StatsSource | undefined): Promise<number> {
  if (source === undefined) return 0;
  let total = 0;
  const stats = await source.getStats().catch(() => undefined);
  stats?.forEach((report: { type?: string; kind?: string; framesDecoded?: number; packetsReceived?: number }) => {
    if (report.type !== 'inbound-rtp') return;
    total += report.kind === 'video' ? (report.framesDecoded ?? 0) : (report.packetsReceived ?? 0);
  });
  return total;
}

/** Resolves after `ms`. */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
