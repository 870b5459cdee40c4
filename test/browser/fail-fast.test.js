import { expect } from 'chai';
import { Peer } from '../../dist/index.js';
import { closeAll, expectDelivery, next, pair, sleep, within } from './helpers.js';

/** An address inside the test's private namespace (198.18.7.0/24) that no one answers on. */
const NOWHERE = '198.18.7.9';

/** Rewrites the connection address of a candidate line (its fifth field) to NOWHERE. */
const unreachable = (line) => line.replace(/^((?:a=)?candidate:\S+ \d+ \S+ \d+ )\S+/, `$1${NOWHERE}`);

/**
 * Two Peers whose signals arrive with every candidate pointing at NOWHERE, in SDP and trickled.
 * `bye` is not relayed, so that each side fails for its own reason rather than because the other
 * gave up first.
 */
function unreachablePair(options) {
  const a = new Peer(options);
  const b = new Peer(options);
  const relay = (to) => (signal) => {
    if (signal.kind === 'candidate') {
      to.signal({ ...signal, candidate: { ...signal.candidate, candidate: unreachable(signal.candidate.candidate) } });
    } else if (signal.kind === 'description') {
      to.signal({ ...signal, sdp: signal.sdp.split('\r\n').map(unreachable).join('\r\n') });
    } else if (signal.kind !== 'bye') {
      to.signal(signal);
    }
  };
  a.on('signal', relay(b));
  b.on('signal', relay(a));
  return [a, b];
}

/** Records the order of a Peer's `error`, `state` and `close` events, with the time of each. */
function record(peer) {
  const events = [];
  const start = performance.now();
  const at = () => Math.round(performance.now() - start);
  peer.on('error', (err) => events.push({ what: 'error', code: err.code, at: at() }));
  peer.on('state', (state) => events.push({ what: `state:${state}`, at: at() }));
  peer.on('reconnecting', () => events.push({ what: 'reconnecting', at: at() }));
  peer.on('close', () => events.push({ what: 'close', at: at() }));
  return events;
}

describe('Calls that fail fail fast, with the reason', () => {
  it('a Peer whose signals are never delivered fails with CONNECT_TIMEOUT, and connected rejects with it', async () => {
    const peer = new Peer({ connectTimeoutMs: 1500 });
    const events = record(peer);
    const started = performance.now();
    const err = await within(5000, peer.connected.then(() => null, (e) => e), 'the connect timeout');
    const took = performance.now() - started;
    expect(err.code).to.equal('CONNECT_TIMEOUT');
    expect(err.message).to.match(/1500 ms.*no description arrived/);
    expect(took).to.be.within(1400, 3000);
    if (peer.state !== 'closed') await next(peer, 'close');
    expect(events.map((e) => e.what)).to.deep.equal(['error', 'state:closed', 'close']);
    const closed = events.find((e) => e.what === 'state:closed').at;
    expect(events.at(-1).at - closed, 'close follows state closed at once').to.be.below(200);
  });

  it('connectTimeoutMs 0 waits: a Peer with no remote is still new after a while', async () => {
    const peer = new Peer({ connectTimeoutMs: 0 });
    const errors = [];
    peer.on('error', (e) => errors.push(e));
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(peer.state).to.equal('new');
    expect(errors).to.deep.equal([]);
    await peer.close();
  });

  it('a connection that never came up fails with ICE_FAILED within 15 s, naming what was tried, without ICE restarts', async () => {
    const [a, b] = unreachablePair();
    const events = record(a);
    const offers = [];
    a.on('signal', (s) => s.kind === 'description' && offers.push(s.type));
    b.on('signal', (s) => s.kind === 'description' && offers.push(s.type));
    const started = performance.now();
    const failure = (peer) => peer.connected.then(() => null, (e) => e);
    const [err, errB] = await within(15000, Promise.all([failure(a), failure(b)]), 'failing');
    expect(errB?.code, 'the other side fails the same way').to.equal('ICE_FAILED');
    expect(err, 'connected rejects').to.be.an('error');
    expect(err.code).to.equal('ICE_FAILED');
    expect(err.message).to.match(/never came up: \d+ candidates? were gathered locally, \d+ candidates? arrived from the remote, every connectivity check between them failed/);
    expect(performance.now() - started).to.be.below(15000);
    expect(offers, 'one offer and one answer: no restart').to.deep.equal(['offer', 'answer']);
    if (a.state !== 'closed') await next(a, 'close');
    const whats = events.map((e) => e.what);
    expect(whats).to.not.include('reconnecting');
    expect(whats.slice(-3)).to.deep.equal(['error', 'state:closed', 'close']);
    expect(events.at(-1).at - events.at(-2).at, 'close follows state closed at once').to.be.below(200);
  });

  it('a negative or non-numeric connectTimeoutMs throws BAD_ARGUMENT', () => {
    for (const connectTimeoutMs of [-1, Number.NaN, '30000']) {
      expect(() => new Peer({ connectTimeoutMs }), String(connectTimeoutMs)).to.throw().with.property('code', 'BAD_ARGUMENT');
    }
  });

  it('a Peer whose remote page freezes (its browser still answers ICE, its script sends nothing) restarts ICE once, then fails with TIMEOUT 20 s later instead of reconnecting for ever', async function () {
    this.timeout(40000);
    const a = new Peer({ silenceMs: 2000, disconnectedGraceMs: 500, iceRestartTimeoutMs: 4000 });
    const b = new Peer();
    let frozen = false;
    const held = [];
    a.on('signal', (m) => (frozen ? held.push(m) : b.signal(m)));
    b.on('signal', (m) => a.signal(m));
    await within(10000, Promise.all([a.connected, b.connected]), 'connecting');
    // b's first pings: a remote that never pinged may just be quiet (the next test).
    await sleep(2500);
    const events = record(a);
    // What a frozen page's Peer does: no pings, and no signal handled (so no ICE restart answered).
    frozen = true;
    b.main.ping = () => {};
    const err = await within(30000, next(a, 'error'), 'the error');
    expect(err.code).to.equal('TIMEOUT');
    expect(err.message).to.match(/nothing came from the remote for 20000 ms after a restart/);
    if (a.state !== 'closed') await next(a, 'close');
    expect(events.map((e) => e.what)).to.deep.equal(['state:reconnecting', 'reconnecting', 'error', 'state:closed', 'close']);
    const [reconnecting, failed] = [events[0].at, events[2].at];
    expect(failed - reconnecting, 'the silence counted from the restart, 20 s').to.be.within(19500, 22500);
    expect(held.some((m) => m.kind === 'description' && m.type === 'offer'), 'one ICE restart was offered').to.equal(true);
    await closeAll(a, b);
  });

  it('a remote that does not ping (silenceMs 0) is never closed for its silence: the Peer restarts ICE once, stays reconnecting past the 20 s, and is connected again when the remote sends', async function () {
    this.timeout(40000);
    const [a, b] = pair({ silenceMs: 2000, disconnectedGraceMs: 500, iceRestartTimeoutMs: 4000 }, { silenceMs: 0 });
    await within(10000, Promise.all([a.connected, b.connected]), 'connecting');
    const events = record(a);
    await sleep(25000);
    expect(events.map((e) => e.what)).to.deep.equal(['state:reconnecting', 'reconnecting']);
    const got = next(a, 'data');
    await b.send('still here');
    expect(await within(10000, got, 'the message')).to.equal('still here');
    await within(5000, next(a, 'reconnect'), 'reconnect');
    await closeAll(a, b);
  });

  it('a connection that came up still connects and carries data under a short connectTimeoutMs', async () => {
    const [a, b] = pair({ connectTimeoutMs: 10000 });
    await within(10000, Promise.all([a.connected, b.connected]), 'connecting');
    await expectDelivery(a, b, 'in time');
    await closeAll(a, b);
  });
});

describe('Listener isolation', () => {
  let savedOnError;
  let reported;
  const onError = (event) => {
    reported.push(event.error);
    event.preventDefault();
  };
  beforeEach(() => {
    reported = [];
    // The page's reportError reaches window.onerror too, where mocha would fail the test.
    savedOnError = window.onerror;
    window.onerror = () => true;
    window.addEventListener('error', onError);
  });
  afterEach(() => {
    window.removeEventListener('error', onError);
    window.onerror = savedOnError;
  });

  it('listeners that throw on state, signal and connect do not stop a Peer from connecting, and are reported', async () => {
    const [a, b] = pair();
    const boom = (where) => () => {
      throw new Error(`app listener on ${where}`);
    };
    a.on('state', boom('state'));
    a.on('signal', boom('signal'));
    a.on('connect', boom('connect'));
    b.on('state', boom('state'));
    const connects = [];
    a.on('connect', () => connects.push('a'));
    await within(10000, Promise.all([a.connected, b.connected]), 'connecting despite the throwing listeners');
    expect(connects, 'the listener after the throwing one still ran').to.deep.equal(['a']);
    await expectDelivery(a, b, 'still fine');
    const messages = new Set(reported.map((e) => e?.message));
    expect([...messages]).to.include.members(['app listener on state', 'app listener on signal', 'app listener on connect']);
    await closeAll(a, b);
  });

  it('a once listener that throws runs once and is removed', async () => {
    const [a, b] = pair();
    let calls = 0;
    const once = () => {
      calls += 1;
      throw new Error('once');
    };
    a.once('state', once);
    await within(10000, Promise.all([a.connected, b.connected]), 'connecting');
    expect(calls).to.equal(1);
    // By identity: the suite's run with throwing listeners adds one of its own to every event.
    expect(a.listeners('state')).to.not.include(once);
    await closeAll(a, b);
  });
});
