// The Negotiator's decisions (glare, rollback, which candidates to add, keep or drop) against a
// fake RTCPeerConnection: pure logic, so a fake is allowed here. The fake follows the webrtc-pc
// signaling state machine, like Firefox refuses a candidate whose ufrag is not in the remote
// description, and like Chromium refuses an answer that flips the DTLS role of the association it
// keeps. Real negotiation is tested in browsers (test/browser/glare.test.js).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Negotiator } from '../../dist/peer/negotiator.js';
import { PeerKitError } from '../../dist/index.js';

const sdp = (ufrag, setup = 'actpass', fingerprint = 'REMOTE') =>
  `v=0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=ice-ufrag:${ufrag}\r\na=fingerprint:sha-256 ${fingerprint}\r\na=setup:${setup}\r\n`;
const offer = (ufrag) => ({ v: 1, kind: 'description', type: 'offer', sdp: sdp(ufrag) });
const answer = (ufrag, setup = 'passive', fingerprint = 'REMOTE') => ({ v: 1, kind: 'description', type: 'answer', sdp: sdp(ufrag, setup, fingerprint) });
const setupOf = (description) => description?.sdp.match(/a=setup:(\S+)/)?.[1];
const fingerprintOf = (description) => description?.sdp.match(/a=fingerprint:(.+?)\r/)?.[1];
const otherRole = (role) => ({ active: 'passive', passive: 'active' })[role];
const candidate = (ufrag, port = 5000) => ({
  v: 1,
  kind: 'candidate',
  candidate: { candidate: `candidate:1 1 udp 1 198.18.7.2 ${port} typ host`, sdpMid: '0', usernameFragment: ufrag },
});
const tick = () => new Promise((resolve) => setImmediate(resolve));

/** Enough of RTCPeerConnection for negotiation, with a log of what was done to it. */
class FakeConnection {
  signalingState = 'stable';
  localDescription = null;
  remoteDescription = null;
  currentLocalDescription = null;
  currentRemoteDescription = null;
  dtlsRole = undefined;
  added = [];
  rollbacks = 0;
  ufrag = 'local1';

  /** @param implicitRollback - false behaves like node-webrtc, which refuses an offer in have-local-offer */
  constructor({ implicitRollback = true } = {}) {
    this.implicitRollback = implicitRollback;
  }

  async setLocalDescription(description) {
    await tick();
    if (description?.type === 'rollback') {
      if (this.signalingState !== 'have-local-offer') throw new Error('InvalidStateError: nothing to roll back');
      this.rollbacks += 1;
      this.signalingState = 'stable';
      return;
    }
    if (this.signalingState === 'have-remote-offer') {
      this.localDescription = { type: 'answer', sdp: sdp(this.ufrag, 'active', 'LOCAL') };
      this.signalingState = 'stable';
      this.settled();
    } else {
      this.localDescription = { type: 'offer', sdp: sdp(this.ufrag, 'actpass', 'LOCAL') };
      this.signalingState = 'have-local-offer';
    }
  }

  async setRemoteDescription(description) {
    await tick();
    if (description.type === 'offer' && this.signalingState === 'have-local-offer') {
      if (!this.implicitRollback) throw new Error('InvalidStateError: Called in wrong state: have-local-offer');
      this.rollbacks += 1;
    }
    if (description.type === 'answer' && this.signalingState !== 'have-local-offer') throw new Error('InvalidStateError: no offer to answer');
    if (description.type === 'answer' && this.dtlsRole && fingerprintOf(description) === fingerprintOf(this.currentRemoteDescription)) {
      if (otherRole(setupOf(description)) !== this.dtlsRole) throw new Error('InvalidAccessError: Failed to set SSL role for the transport.');
    }
    this.remoteDescription = description;
    this.signalingState = description.type === 'offer' ? 'have-remote-offer' : 'stable';
    if (description.type === 'answer') this.settled();
  }

  settled() {
    this.currentLocalDescription = this.localDescription;
    this.currentRemoteDescription = this.remoteDescription;
    // This side's role in its one DTLS association, which the first negotiation set up.
    const local = this.currentLocalDescription;
    this.dtlsRole ??= local.type === 'answer' ? setupOf(local) : otherRole(setupOf(this.currentRemoteDescription));
  }

  async addIceCandidate(init) {
    await tick();
    const ufrags = [...(this.remoteDescription?.sdp ?? '').matchAll(/a=ice-ufrag:(\S+)/g)].map((m) => m[1]);
    if (init.usernameFragment && !ufrags.includes(init.usernameFragment)) throw new Error('OperationError: Unknown ufrag');
    this.added.push(init.usernameFragment);
  }
}

function negotiator(polite, pc = new FakeConnection()) {
  const sent = [];
  const errors = [];
  const n = new Negotiator(pc, polite, { signal: (s) => sent.push(s), error: (e) => errors.push(e) });
  return { n, pc, sent, errors };
}

/** A negotiator that completed one offer/answer as the answering side, then made an offer of its own. */
async function offering(polite, pc) {
  const side = negotiator(polite, pc);
  await side.n.handle(offer('remote1'));
  await side.n.negotiate();
  assert.equal(side.pc.signalingState, 'have-local-offer');
  side.sent.length = 0;
  return side;
}

test('on glare the polite side rolls its own offer back and answers the remote offer', async () => {
  const { n, pc, sent } = await offering(true);
  await n.handle(offer('remote2'));
  assert.equal(pc.rollbacks, 1);
  assert.equal(pc.signalingState, 'stable');
  assert.deepEqual(sent.map((s) => s.type), ['answer']);
});

test('on glare the impolite side ignores the remote offer and keeps its own', async () => {
  const { n, pc, sent } = await offering(false);
  await n.handle(offer('remote2'));
  assert.equal(pc.rollbacks, 0);
  assert.equal(pc.signalingState, 'have-local-offer');
  assert.equal(pc.remoteDescription.sdp, sdp('remote1'));
  assert.deepEqual(sent, []);
});

test('the polite side rolls back by hand where setRemoteDescription refuses to (node-webrtc)', async () => {
  const { n, pc, sent } = await offering(true, new FakeConnection({ implicitRollback: false }));
  await n.handle(offer('remote2'));
  assert.equal(pc.rollbacks, 1);
  assert.equal(pc.remoteDescription.sdp, sdp('remote2'));
  assert.deepEqual(sent.map((s) => s.type), ['answer']);
});

test('candidates of an offer the impolite side ignored are neither added nor reported', async () => {
  const { n, pc, errors } = await offering(false);
  await n.handle(offer('ignored'));
  await n.handle(candidate('ignored'));
  await n.handle(answer('remote1'));
  assert.deepEqual(pc.added, []);
  assert.deepEqual(errors, []);
});

test('a candidate without a ufrag that fails while an offer is ignored is not reported', async () => {
  const { n, pc } = await offering(false);
  pc.addIceCandidate = async () => {
    throw new Error('OperationError: no such transport');
  };
  await n.handle(offer('ignored'));
  await n.handle({ v: 1, kind: 'candidate', candidate: { candidate: 'candidate:1 1 udp 1 198.18.7.2 5000 typ host', sdpMid: '0' } });
});

test('candidates that arrive before any description wait for it', async () => {
  const { n, pc } = negotiator(true);
  await n.handle(candidate('remote1', 1));
  await n.handle(candidate('remote1', 2));
  assert.deepEqual(pc.added, []);
  await n.handle(offer('remote1'));
  assert.deepEqual(pc.added, ['remote1', 'remote1']);
});

test('candidates of a new ICE generation that arrive before its answer wait for it, then are added', async () => {
  const { n, pc, errors } = await offering(false);
  pc.signalingState = 'stable';
  pc.ufrag = 'local2';
  await n.negotiate();
  await n.handle(candidate('remote2'));
  assert.deepEqual(pc.added, [], 'Firefox would refuse it: Unknown ufrag');
  await n.handle(answer('remote2'));
  assert.deepEqual(pc.added, ['remote2']);
  assert.deepEqual(errors, []);
});

test('candidates of a remote restart that arrive before its offer wait for it', async () => {
  const { n, pc, sent } = negotiator(false);
  await n.handle(offer('remote1'));
  await n.handle(candidate('remote2'));
  assert.deepEqual(pc.added, []);
  await n.handle(offer('remote2'));
  assert.deepEqual(pc.added, ['remote2']);
  assert.deepEqual(sent.map((s) => s.type), ['answer', 'answer']);
});

test('candidates of a replaced ICE generation are dropped without an error', async () => {
  const { n, pc, errors } = negotiator(false);
  await n.handle(offer('remote1'));
  await n.handle(offer('remote2'));
  await assert.doesNotReject(n.handle(candidate('remote1')));
  assert.deepEqual(pc.added, []);
  assert.deepEqual(errors, []);
});

test('a candidate of the current generation that the browser refuses is a BAD_SIGNAL', async () => {
  const { n, pc } = negotiator(false);
  await n.handle(offer('remote1'));
  pc.addIceCandidate = async () => {
    throw new Error('OperationError: bad candidate');
  };
  await assert.rejects(n.handle(candidate('remote1')), (err) => err instanceof PeerKitError && err.code === 'BAD_SIGNAL');
});

test('the polite side does not make the first offer; the impolite side does', async () => {
  const polite = negotiator(true);
  await polite.n.negotiate();
  assert.deepEqual(polite.sent, []);
  const impolite = negotiator(false);
  await impolite.n.negotiate();
  assert.deepEqual(impolite.sent.map((s) => s.type), ['offer']);
});

test('with no polite option, the roles wait for the hello and the lower tie-breaker yields', async () => {
  const { n, sent } = negotiator(undefined);
  await n.negotiate();
  assert.deepEqual(sent, []);
  assert.equal(n.polite, undefined);
  await n.handle({ v: 1, kind: 'hello', tb: n.tieBreaker + 1 });
  assert.equal(n.polite, true);
  const other = negotiator(undefined);
  await other.n.negotiate();
  await other.n.handle({ v: 1, kind: 'hello', tb: 0 });
  assert.equal(other.n.polite, false);
  assert.deepEqual(other.sent.map((s) => s.type), ['offer'], 'the impolite side offers once it knows');
});

test('an ICE restart answer that would flip the DTLS role (Firefox as DTLS server) keeps the role and completes', async () => {
  // The remote offered first, so it is the DTLS server; its answer to this side's restart says
  // 'active' anyway, as Firefox's does (https://bugzilla.mozilla.org/show_bug.cgi?id=1329028).
  const { n, pc, errors } = await offering(false);
  assert.equal(pc.dtlsRole, 'active');
  await n.handle(answer('remote2', 'active'));
  assert.equal(pc.signalingState, 'stable');
  assert.equal(setupOf(pc.remoteDescription), 'passive');
  assert.equal(pc.dtlsRole, 'active');
  assert.deepEqual(errors, []);
});

test('an answer with a new certificate (a new DTLS association) keeps the role it chose', async () => {
  const { n, pc } = await offering(false);
  await n.handle(answer('remote2', 'active', 'NEW'));
  assert.equal(setupOf(pc.remoteDescription), 'active');
});

test('an answer that keeps the DTLS role is applied unchanged', async () => {
  const { n, pc } = negotiator(false);
  await n.negotiate();
  await n.handle(answer('remote1', 'active'));
  assert.equal(pc.dtlsRole, 'passive');
  await n.negotiate();
  await n.handle(answer('remote2', 'active'));
  assert.equal(pc.remoteDescription.sdp, sdp('remote2', 'active'));
});

test('after answering with the wrong role itself, the DTLS server leaves a correct answer as it is', async () => {
  // This side made the first offer (DTLS server) and, like Firefox, answered the remote's restart
  // with 'active'; the remote's answer to this side's next offer rightly says 'active' again.
  const { n, pc } = negotiator(false);
  await n.negotiate();
  await n.handle(answer('remote1', 'active'));
  await n.handle(offer('remote2'));
  assert.equal(setupOf(pc.currentLocalDescription), 'active');
  await n.negotiate();
  await n.handle(answer('remote3', 'active'));
  assert.equal(pc.remoteDescription.sdp, sdp('remote3', 'active'));
});
