// The pure parts of WHIP/WHEP on both sides: Link headers, status codes, Retry-After, trickle-ICE
// fragments and the descriptions rebuilt after an ICE restart.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { iceServersFromLinks, retryAfterMs, statusCode } from '../../dist/whip/http.js';
import { buildFragment, parseRestartAnswer, restartedRemote } from '../../dist/whip/sdp.js';
import { mids, parseFragment, restartFragment, withIceCredentials } from '../../server/dist/sfu/sdp.js';

const OFFER = [
  'v=0', 'o=- 1 2 IN IP4 127.0.0.1', 's=-', 't=0 0', 'a=group:BUNDLE 0 1',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111', 'c=IN IP4 0.0.0.0', 'a=ice-ufrag:abcd', 'a=ice-pwd:pwdpwdpwdpwdpwdpwdpwdpwd', 'a=setup:actpass', 'a=mid:0',
  'a=candidate:1 1 udp 2122260223 198.18.7.1 50000 typ host', 'a=end-of-candidates',
  'm=video 9 UDP/TLS/RTP/SAVPF 96', 'c=IN IP4 0.0.0.0', 'a=ice-ufrag:abcd', 'a=ice-pwd:pwdpwdpwdpwdpwdpwdpwdpwd', 'a=setup:actpass', 'a=mid:1',
  '',
].join('\r\n');

test('Link headers with rel="ice-server" become ICE servers, commas inside quotes and <> included; other rels are ignored', () => {
  const header = '<stun:stun.example.net>; rel="ice-server", <turn:turn.example.net?transport=udp>; rel="ice-server"; username="u,1"; credential="p;w"; credential-type="password", </other>; rel="next"';
  assert.deepEqual(iceServersFromLinks(header), [
    { urls: 'stun:stun.example.net' },
    { urls: 'turn:turn.example.net?transport=udp', username: 'u,1', credential: 'p;w' },
  ]);
  assert.deepEqual(iceServersFromLinks(null), []);
});

test('HTTP statuses map to the documented codes', () => {
  assert.deepEqual([401, 403, 404, 400, 422, 409, 500, 503, 415].map(statusCode), [
    'UNAUTHORIZED', 'UNAUTHORIZED', 'NOT_FOUND', 'BAD_REQUEST', 'BAD_REQUEST', 'NOT_LIVE', 'SERVER_ERROR', 'SERVER_ERROR', 'BAD_REQUEST',
  ]);
});

test('Retry-After in seconds or as a date; the fallback when absent or unreadable', () => {
  const res = (value) => new Response(null, { status: 503, headers: value === undefined ? {} : { 'retry-after': value } });
  assert.equal(retryAfterMs(res('3'), 1000), 3000);
  assert.equal(retryAfterMs(res(undefined), 1000), 1000);
  assert.equal(retryAfterMs(res('soon'), 1000), 1000);
  const inTwo = retryAfterMs(res(new Date(Date.now() + 2000).toUTCString()), 1000);
  assert.ok(inTwo > 0 && inTwo <= 2000, String(inTwo));
});

test('a trickle fragment carries the credentials, each candidate under its m-line and mid, and end-of-candidates', () => {
  const fragment = buildFragment(OFFER, [{ candidate: 'candidate:2 1 udp 1 198.18.7.1 50001 typ host', sdpMid: '0' }], true);
  assert.equal(fragment, ['a=ice-ufrag:abcd', 'a=ice-pwd:pwdpwdpwdpwdpwdpwdpwdpwd', 'm=audio 9 UDP/TLS/RTP/SAVPF 111', 'a=mid:0', 'a=candidate:2 1 udp 1 198.18.7.1 50001 typ host', 'a=end-of-candidates', ''].join('\r\n'));
  // The server reads back what the client wrote.
  const parsed = parseFragment(fragment, mids(OFFER));
  assert.deepEqual(parsed, { ufrag: 'abcd', pwd: 'pwdpwdpwdpwdpwdpwdpwdpwd', candidates: [{ sdpMid: '0', sdpMLineIndex: 0, candidate: 'candidate:2 1 udp 1 198.18.7.1 50001 typ host' }], end: true });
});

test('an ICE restart round trip: the server swaps credentials and answers a fragment; the client rebuilds the remote description as a valid answer', () => {
  const restarted = withIceCredentials(OFFER, 'efgh', 'newpwdnewpwdnewpwdnewpwd');
  assert.doesNotMatch(restarted, /abcd|a=candidate|end-of-candidates/);
  assert.equal(restarted.match(/a=ice-ufrag:efgh/g).length, 2);
  const answerFragment = restartFragment(OFFER);
  const answer = parseRestartAnswer(answerFragment, '0');
  assert.deepEqual(answer, { ufrag: 'abcd', pwd: 'pwdpwdpwdpwdpwdpwdpwdpwd', candidates: [{ candidate: 'candidate:1 1 udp 2122260223 198.18.7.1 50000 typ host', sdpMid: '0' }] });
  // WHEP: the server's old offer becomes an answer: actpass turns into the role it took.
  const remote = restartedRemote(OFFER, { ...answer, ufrag: 'ijkl' }, 'active');
  assert.match(remote, /a=setup:passive/);
  assert.doesNotMatch(remote, /a=setup:actpass|a=candidate|a=ice-ufrag:abcd/);
  assert.equal(parseRestartAnswer('a=mid:0\r\n', '0'), undefined);
});
