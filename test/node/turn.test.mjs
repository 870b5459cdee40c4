// Relay-only peers through a real coturn (Debian's `turnserver`) with credentials minted by the
// signaling server: the right secret connects and moves data, a wrong or expired one fails. As
// root the suite re-runs itself inside scripts/netns.sh unless it already is inside it, so coturn
// and the peers use the namespace's veth address and nothing else. Build first: npm run build.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import wrtc from '@roamhq/wrtc';
import { createSignalingServer, turnCredentials } from '../../server/dist/index.js';
import { Peer } from '../../dist/index.js';
import { coturnMissing, startCoturn } from '../../scripts/coturn.mjs';
import { HOST } from '../support/servers.mjs';
import { joinAs } from '../support/signal-client.mjs';
import { sleep } from '../support/wait.mjs';

const SECRET = 'coturn-and-peerkit-share-this';
const missing = coturnMissing();
if (missing) console.log(`# skipping the coturn tests: ${missing}`);

/**
 * Starts coturn and a signaling server that mints credentials for it with `serverSecret`.
 * Everything is torn down in reverse order, so Peers close while their relay is still there.
 */
async function setup(t, serverSecret) {
  const cleanup = [];
  t.after(async () => {
    for (const step of cleanup.reverse()) await step();
  });
  const turn = await startCoturn({ secret: SECRET });
  cleanup.push(() => turn.stop());
  const server = createSignalingServer({ logger: false, turn: { secret: serverSecret, urls: turn.urls } });
  const { port } = await server.listen(0, HOST);
  cleanup.push(() => server.close());
  const url = `ws://${HOST}:${port}`;
  const room = 'turn-room';
  const alice = await joinAs(t, url, room);
  const bob = await joinAs(t, url, room);
  return { turn, alice, bob, cleanup };
}

/** Two relay-only Peers built from the ICE servers in their own joined frames, signalling through the server. */
function relayPair({ alice, bob, cleanup }) {
  const peer = (client) =>
    new Peer({
      wrtc,
      iceServers: client.joined.iceServers,
      iceTransportPolicy: 'relay',
      polite: client === bob,
      // Channels that never opened need not be waited for long on close.
      channel: { closeTimeoutMs: 500 },
    });
  const a = peer(alice);
  const b = peer(bob);
  cleanup.push(() => Promise.all([a.close(), b.close()]));
  a.on('signal', (payload) => alice.send({ v: 1, type: 'signal', to: bob.id, payload }));
  b.on('signal', (payload) => bob.send({ v: 1, type: 'signal', to: alice.id, payload }));
  for (const [client, p] of [[alice, a], [bob, b]]) {
    client.ws.on('message', (data) => {
      const frame = JSON.parse(data.toString());
      if (frame.type === 'signal') p.signal(frame.payload);
    });
  }
  return [a, b];
}

/** What a raw wrtc RTCPeerConnection reports while gathering relay candidates with these servers. */
async function gatherRelay(iceServers) {
  const pc = new wrtc.RTCPeerConnection({ iceServers, iceTransportPolicy: 'relay' });
  const candidates = [];
  const errors = [];
  pc.onicecandidate = (e) => e.candidate && candidates.push(e.candidate.candidate);
  pc.onicecandidateerror = (e) => errors.push({ errorCode: e.errorCode, errorText: e.errorText, url: e.url });
  pc.createDataChannel('probe');
  await pc.setLocalDescription(await pc.createOffer());
  const started = Date.now();
  while (pc.iceGatheringState !== 'complete' && Date.now() - started < 15_000) await sleep(25);
  const state = pc.iceGatheringState;
  pc.close();
  return { candidates, errors, state, ms: Date.now() - started };
}

if (!missing && process.env.PEERKIT_NETNS === undefined) {
  // Root outside the namespace: run the same tests inside one, and report them as one test here.
  test('the coturn tests pass inside a private network namespace', { timeout: 120_000 }, () => {
    const script = fileURLToPath(new URL('../../scripts/netns.sh', import.meta.url));
    // Without NODE_TEST_CONTEXT, which would make the inner runner talk to this one instead of printing.
    const { NODE_TEST_CONTEXT, ...env } = process.env;
    const run = spawnSync('bash', [script, process.execPath, '--test', '--test-reporter=spec', fileURLToPath(import.meta.url)], {
      encoding: 'utf8',
      env,
    });
    process.stdout.write(run.stdout.replace(/^/gm, '#   '));
    assert.equal(run.status, 0, run.stderr);
  });
} else {
  const options = { skip: missing ?? false, timeout: 60_000 };

  test('two relay-only Peers connect through coturn with credentials from joined and exchange data', options, async (t) => {
    const [a, b] = relayPair(await setup(t, SECRET));
    const started = Date.now();
    await Promise.all([a.connected, b.connected]);
    console.log(`# relay-only Peers connected through coturn in ${Date.now() - started} ms`);
    const got = new Promise((resolve) => b.once('data', resolve));
    await a.send('through the relay');
    assert.equal(await got, 'through the relay');
    const bytes = new Uint8Array(256 * 1024).map((_, i) => i % 253);
    const big = new Promise((resolve) => a.once('data', resolve));
    await b.send(bytes);
    assert.deepEqual(await big, bytes);
    const stats = await a.getStats();
    assert.equal(stats.path, 'relay', 'getStats() says the path is relayed');
  });

  test('with the right secret wrtc gathers relay candidates on the coturn address', options, async (t) => {
    const { turn, alice } = await setup(t, SECRET);
    const { candidates, errors } = await gatherRelay(alice.joined.iceServers);
    assert.ok(candidates.length > 0, 'relay candidates');
    assert.ok(candidates.every((c) => c.includes(' typ relay ') && c.includes(` ${turn.address} `)), candidates.join('\n'));
    assert.deepEqual(errors.filter((e) => e.errorCode === 401), []);
  });

  const badCredentials = {
    // The server was given another secret than coturn's.
    'a wrong secret': { serverSecret: 'not-the-coturn-secret', iceServersOf: ({ alice }) => alice.joined.iceServers },
    // Minted the way the server does, but two minutes ago with a one-minute lifetime.
    'an expired credential': {
      serverSecret: SECRET,
      iceServersOf: ({ turn, alice }) => [
        turnCredentials({ secret: SECRET, urls: turn.urls, ttlSeconds: 60 }, alice.id, Date.now() / 1000 - 120),
      ],
    },
  };
  for (const [name, { serverSecret, iceServersOf }] of Object.entries(badCredentials)) {
    test(`with ${name}, wrtc reports icecandidateerror 401 Unauthorized for each TURN URL and gathers no relay candidate`, options, async (t) => {
      const setupResult = await setup(t, serverSecret);
      const { turn } = setupResult;
      const iceServers = iceServersOf(setupResult);
      const { candidates, errors, state, ms } = await gatherRelay(iceServers);
      console.log(`# ${name}: gathering ${state} after ${ms} ms; icecandidateerror ${JSON.stringify(errors)}`);
      assert.equal(state, 'complete', 'gathering ends, it does not hang');
      assert.deepEqual(candidates, []);
      const unauthorized = errors.filter((e) => e.errorCode === 401);
      assert.ok(unauthorized.length > 0, JSON.stringify(errors));
      assert.ok(unauthorized.every((e) => e.errorText === 'Unauthorized' && turn.urls.includes(e.url)), JSON.stringify(unauthorized));
      assert.deepEqual(new Set(unauthorized.map((e) => e.url)), new Set(turn.urls), 'one per TURN URL at least');
    });
  }

  test('with a wrong secret two relay-only Peers fail with TURN_UNAUTHORIZED instead of hanging', options, async (t) => {
    const [a, b] = relayPair(await setup(t, 'not-the-coturn-secret'));
    const started = Date.now();
    const errors = await Promise.all([a, b].map((p) => p.connected.then(() => null, (error) => error)));
    console.log(`# wrong secret, Peer: ${errors.map((e) => e?.code).join(', ')} after ${Date.now() - started} ms`);
    for (const error of errors) assert.equal(error?.code, 'TURN_UNAUTHORIZED', String(error));
  });
}
