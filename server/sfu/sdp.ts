/**
 * The little SDP the bridge must read and write: trickle-ICE fragments (RFC 8840,
 * `application/trickle-ice-sdpfrag`) and new ICE credentials in a full description, which is how
 * an RFC 9725 ICE restart is turned into the renegotiation Janus expects.
 */

/** A remote candidate with the media section it belongs to. */
export interface FragCandidate {
  sdpMid: string;
  sdpMLineIndex: number;
  candidate: string;
}

/** What a trickle-ICE fragment says. */
export interface Fragment {
  ufrag: string | undefined;
  pwd: string | undefined;
  candidates: FragCandidate[];
  /** `a=end-of-candidates` was present. */
  end: boolean;
}

function lines(sdp: string): string[] {
  return sdp.split(/\r?\n/).filter((line) => line.length > 0);
}

/** The `a=mid` values of a description, in m-line order. */
export function mids(sdp: string): string[] {
  return lines(sdp)
    .filter((line) => line.startsWith('a=mid:'))
    .map((line) => line.slice('a=mid:'.length));
}

/**
 * Reads a fragment; `sessionMids` places candidates on their m-line index. Candidates before any
 * `a=mid` belong to the first media section, where a BUNDLE transport lives.
 */
export function parseFragment(text: string, sessionMids: string[]): Fragment {
  const fragment: Fragment = { ufrag: undefined, pwd: undefined, candidates: [], end: false };
  let mid = sessionMids[0] ?? '0';
  for (const line of lines(text)) {
    if (line.startsWith('a=ice-ufrag:')) fragment.ufrag = line.slice('a=ice-ufrag:'.length);
    else if (line.startsWith('a=ice-pwd:')) fragment.pwd = line.slice('a=ice-pwd:'.length);
    else if (line.startsWith('a=mid:')) mid = line.slice('a=mid:'.length);
    else if (line === 'a=end-of-candidates') fragment.end = true;
    else if (line.startsWith('a=candidate:')) {
      const index = sessionMids.indexOf(mid);
      fragment.candidates.push({ sdpMid: mid, sdpMLineIndex: index < 0 ? 0 : index, candidate: line.slice(2) });
    }
  }
  return fragment;
}

/** `sdp` with every `a=ice-ufrag`/`a=ice-pwd` replaced and its candidates removed. */
export function withIceCredentials(sdp: string, ufrag: string, pwd: string): string {
  const out: string[] = [];
  for (const line of lines(sdp)) {
    if (line.startsWith('a=ice-ufrag:')) out.push(`a=ice-ufrag:${ufrag}`);
    else if (line.startsWith('a=ice-pwd:')) out.push(`a=ice-pwd:${pwd}`);
    else if (!line.startsWith('a=candidate:') && line !== 'a=end-of-candidates') out.push(line);
  }
  return `${out.join('\r\n')}\r\n`;
}

/**
 * The fragment answering an ICE restart (RFC 9725 section 4.4.1): the server's new credentials and
 * its candidates, on the first media section, where BUNDLE puts the one transport.
 */
export function restartFragment(sdp: string): string {
  const all = lines(sdp);
  const media = all.findIndex((line) => line.startsWith('m='));
  const mediaLines = media < 0 ? [] : all.slice(media);
  const nextMedia = mediaLines.findIndex((line, i) => i > 0 && line.startsWith('m='));
  const first = nextMedia < 0 ? mediaLines : mediaLines.slice(0, nextMedia);
  const pick = (prefix: string): string[] => all.filter((line) => line.startsWith(prefix)).slice(0, 1);
  const out = [
    ...pick('a=ice-ufrag:'),
    ...pick('a=ice-pwd:'),
    ...first.filter((line) => line.startsWith('m=') || line.startsWith('a=mid:')),
    ...first.filter((line) => line.startsWith('a=candidate:')),
    'a=end-of-candidates',
  ];
  return `${out.join('\r\n')}\r\n`;
}
