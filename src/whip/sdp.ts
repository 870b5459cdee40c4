/**
 * The SDP a WHIP/WHEP client writes by hand: trickle-ICE fragments (RFC 8840) for PATCH, and the
 * remote description after an ICE restart, rebuilt from the server's answer fragment
 * (RFC 9725 section 4.4.1).
 * @internal
 * @packageDocumentation
 */

/** A local candidate waiting to be trickled. */
export interface LocalCandidate {
  candidate: string;
  sdpMid: string | null;
}

function lines(sdp: string): string[] {
  return sdp.split(/\r?\n/).filter((line) => line !== '');
}

const first = (all: string[], prefix: string): string | undefined => all.find((line) => line.startsWith(prefix));

/** Each media section's `m=` line by its `a=mid`, in order. */
function sections(sdp: string): { mid: string; mLine: string }[] {
  const out: { mid: string; mLine: string }[] = [];
  let mLine: string | undefined;
  for (const line of lines(sdp)) {
    if (line.startsWith('m=')) mLine = line;
    else if (line.startsWith('a=mid:') && mLine !== undefined) out.push({ mid: line.slice(6), mLine });
  }
  return out;
}

/**
 * A fragment with the local description's ICE credentials and `candidates`, each under the media
 * section it was gathered for; `end` adds `a=end-of-candidates`.
 */
export function buildFragment(localSdp: string, candidates: LocalCandidate[], end: boolean): string {
  const all = lines(localSdp);
  const media = sections(localSdp);
  const out = [first(all, 'a=ice-ufrag:'), first(all, 'a=ice-pwd:')].filter((line): line is string => line !== undefined);
  const byMid = new Map<string, string[]>();
  for (const { candidate, sdpMid } of candidates) {
    const mid = sdpMid ?? media[0]?.mid ?? '0';
    byMid.set(mid, [...(byMid.get(mid) ?? []), candidate.startsWith('a=') ? candidate : `a=${candidate}`]);
  }
  const head = media[0];
  if (end && byMid.size === 0 && head !== undefined) byMid.set(head.mid, []);
  for (const { mid, mLine } of media) {
    const found = byMid.get(mid);
    if (found === undefined) continue;
    out.push(mLine, `a=mid:${mid}`, ...found);
    if (end) out.push('a=end-of-candidates');
  }
  return `${out.join('\r\n')}\r\n`;
}

/** What an answer fragment to an ICE restart says. */
export interface RestartAnswer {
  ufrag: string;
  pwd: string;
  candidates: { candidate: string; sdpMid: string }[];
}

/** Reads the server's answer to an ICE restart; undefined when it lacks credentials. */
export function parseRestartAnswer(fragment: string, defaultMid: string): RestartAnswer | undefined {
  let ufrag: string | undefined;
  let pwd: string | undefined;
  let mid = defaultMid;
  const candidates: { candidate: string; sdpMid: string }[] = [];
  for (const line of lines(fragment)) {
    if (line.startsWith('a=ice-ufrag:')) ufrag = line.slice(12);
    else if (line.startsWith('a=ice-pwd:')) pwd = line.slice(10);
    else if (line.startsWith('a=mid:')) mid = line.slice(6);
    else if (line.startsWith('a=candidate:')) candidates.push({ candidate: line.slice(2), sdpMid: mid });
  }
  return ufrag === undefined || pwd === undefined ? undefined : { ufrag, pwd, candidates };
}

/**
 * The remote description with the restart's credentials and without old candidates. When the
 * server was the offerer (WHEP's counter-offer), its `a=setup:actpass` becomes the role it took,
 * the opposite of `localSetup`, so that the rebuilt description is a valid answer.
 */
export function restartedRemote(remoteSdp: string, answer: RestartAnswer, localSetup: string | undefined): string {
  const serverSetup = localSetup === 'active' ? 'passive' : localSetup === 'passive' ? 'active' : undefined;
  const out: string[] = [];
  for (const line of lines(remoteSdp)) {
    if (line.startsWith('a=ice-ufrag:')) out.push(`a=ice-ufrag:${answer.ufrag}`);
    else if (line.startsWith('a=ice-pwd:')) out.push(`a=ice-pwd:${answer.pwd}`);
    else if (line === 'a=setup:actpass' && serverSetup !== undefined) out.push(`a=setup:${serverSetup}`);
    else if (!line.startsWith('a=candidate:') && line !== 'a=end-of-candidates') out.push(line);
  }
  return `${out.join('\r\n')}\r\n`;
}

/** The `a=setup` role of a description (`active`, `passive`, `actpass`). */
export function setupOf(sdp: string | undefined): string | undefined {
  return /a=setup:(\w+)/.exec(sdp ?? '')?.[1];
}

/** The first `a=mid` of a description. */
export function firstMid(sdp: string | undefined): string {
  return sections(sdp ?? '')[0]?.mid ?? '0';
}
