// A real network failure mid-call: packets stop getting through, or the address the two Peers
// meet on disappears, then it mends. No one calls restartIce(): the Peers must notice, say so,
// restart ICE by themselves, and keep the same connection, channels and messages.
import { expect } from 'chai';
import { executeServerCommand } from '@web/test-runner-commands';
import { MemoryHub, MemoryTransport, Peer, Room } from '../../dist/index.js';
import { opened, until, within } from './helpers.js';

const LOOPBACK = / (127\.0\.0\.1|::1) /;

/**
 * Two Peers that can meet only on the namespace's outside address, as two machines would:
 * loopback candidates (Firefox gathers them here) are left out of the signals between them.
 */
function overTheLink(options) {
  const a = new Peer(options);
  const b = new Peer(options);
  const relay = (to) => (signal) => {
    if (signal.kind === 'candidate' && LOOPBACK.test(signal.candidate.candidate)) return;
    if (signal.kind === 'description') signal = { ...signal, sdp: signal.sdp.split('\r\n').filter((line) => !(line.startsWith('a=candidate') && LOOPBACK.test(line))).join('\r\n') };
    to.signal(signal);
  };
  a.on('signal', relay(b));
  b.on('signal', relay(a));
  return [a, b];
}

const ufrag = (peer) => /a=ice-ufrag:(\S+)/.exec(peer.connection.localDescription.sdp)[1];

const firefox = navigator.userAgent.includes('Firefox');
const network = (fault, broken) => executeServerCommand('network', { fault, broken });

/** Skips the test when the fault cannot be made here (not root, no nft); mends it afterwards. */
async function prepare(test, fault) {
  const probe = await network(fault, false);
  if (probe.unavailable) test.skip();
}

/** Quick to notice silence and to retry, so that an outage test takes seconds. */
const QUICK = { silenceMs: 2000, disconnectedGraceMs: 500, iceRestartTimeoutMs: 4000, maxIceRestarts: 5 };

/**
 * Breaks the network until every Peer of `peers()` is reconnecting, calls `meanwhile`, keeps it
 * broken past the grace (so a restart is tried while nothing gets through, as in a real outage),
 * mends it and waits until every Peer is connected again.
 * @returns what `meanwhile` returned, and how long noticing and recovering took, in ms
 */
async function outage(fault, peers, meanwhile) {
  const all = (state) => peers().every((peer) => peer.state === state);
  await network(fault, true);
  const brokenAt = performance.now();
  await until('every Peer reconnecting', () => all('reconnecting'), 10000);
  const noticed = performance.now() - brokenAt;
  const result = meanwhile();
  await new Promise((resolve) => setTimeout(resolve, 1500));
  await network(fault, false);
  const mendedAt = performance.now();
  await until('every Peer connected again', () => all('connected'), 30000);
  return { result, noticed, recovered: performance.now() - mendedAt };
}

describe('network failure', () => {
  afterEach(() => Promise.all([network('silence', false), network('address', false)]));

  if (firefox) {
    it('in Firefox, when the address the Peers meet on goes away, its SCTP association dies with it: both Peers close cleanly, with close events', async function () {
      await prepare(this, 'address');
      const [a, b] = overTheLink({ silenceMs: 2000 });
      await within(10000, Promise.all([a.connected, b.connected]), 'connecting');
      const closed = Promise.all([new Promise((resolve) => a.once('close', resolve)), new Promise((resolve) => b.once('close', resolve))]);
      await network('address', true);
      await within(10000, closed, 'both Peers closing');
      expect([a.state, b.state]).to.deep.equal(['closed', 'closed']);
    });
  }

  it('a Room of three rides out packets not getting through: every Peer reconnects by itself, no one leaves, and what was sent meanwhile arrives', async function () {
    await prepare(this, 'silence');
    const hub = new MemoryHub();
    const name = `outage-${Math.random().toString(36).slice(2)}`;
    const rooms = [];
    for (let i = 0; i < 3; i++) rooms.push(await Room.join(name, { transport: new MemoryTransport(hub), ...QUICK }));
    const peers = () => rooms.flatMap((room) => [...room.peers.values()]);
    const everyone = (state) => peers().length === 6 && peers().every((peer) => peer.state === state);
    await until('a mesh of three', () => everyone('connected'), 15000);
    const before = peers();
    const got = rooms.map(() => []);
    const left = [];
    rooms.forEach((room, i) => {
      room.on('data', (data, from) => got[i].push([data, from]));
      room.on('leave', (id) => left.push(id));
    });

    const { result: sent } = await outage('silence', peers, () => rooms.map((room, i) => room.send(`from ${i} while broken`)));
    await within(10000, Promise.all(sent), 'the sends made while broken');
    await until('the messages', () => got.every((box) => box.length === 2), 10000);

    rooms.forEach((room, i) => {
      const expected = rooms.filter((_, j) => j !== i).map((other) => [`from ${rooms.indexOf(other)} while broken`, other.selfId]);
      expect(got[i]).to.have.deep.members(expected);
    });
    expect(left).to.deep.equal([]);
    expect(peers()).to.have.members(before);
    await Promise.all(rooms.map((room) => room.leave()));
  });

  for (const [fault, what] of [
    ['silence', 'packets stop getting through'],
    ['address', 'the address the Peers meet on goes away'],
  ]) {
    if (firefox && fault === 'address') continue;

    it(`when ${what}, both Peers go reconnecting within seconds; once it mends they restart ICE by themselves, on the same connection, and nothing sent is lost`, async function () {
      await prepare(this, fault);
      const [a, b] = overTheLink(QUICK);
      const got = [];
      b.on('data', (data) => got.push(data));
      await within(10000, Promise.all([a.connected, b.connected]), 'connecting');
      const files = a.channel('files');
      await opened(files);
      const connection = a.connection;
      const before = ufrag(a);
      const events = [];
      for (const [name, peer] of [['a', a], ['b', b]]) {
        peer.on('reconnecting', () => events.push(`${name} reconnecting`));
        peer.on('reconnect', () => events.push(`${name} reconnect`));
      }

      const { result: during, noticed, recovered } = await outage(fault, () => [a, b], () => [a.send('sent while broken 1'), a.send('sent while broken 2')]);
      console.log(`${fault}: reconnecting after ${noticed.toFixed(0)} ms, connected again ${recovered.toFixed(0)} ms after it mended`);
      await within(10000, Promise.all(during), 'the sends made while broken');
      await a.send('after');
      await until('the messages', () => got.length === 3, 10000);

      expect(got).to.deep.equal(['sent while broken 1', 'sent while broken 2', 'after']);
      expect(events.sort()).to.deep.equal(['a reconnect', 'a reconnecting', 'b reconnect', 'b reconnecting']);
      expect(a.connection).to.equal(connection);
      expect(ufrag(a)).to.not.equal(before, 'ICE restarted with new credentials');
      expect(files.state).to.equal('open');
      await Promise.all([a.close(), b.close()]);
    });
  }
});
