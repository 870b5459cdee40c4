// The Redis store's room mirror, fed by hand: pure logic, no Redis. Build first: npm run build.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RoomMirror } from '../../server/dist/redis-mirror.js';

const SELF = 'self-instance';
const OTHER = 'other-instance';

/** A local member that keeps every frame handed to it. */
function member(id) {
  const frames = [];
  return { id, frames, deliver: (frame) => frames.push(frame) };
}

const present = (seq, id, instance = OTHER) => ({ seq, instance, info: { id } });
const joinEvent = (seq, id, instance = OTHER) => ({ kind: 'join', seq, instance, id, frame: `joined:${id}` });
const leaveEvent = (seq, id, instance = OTHER) => ({ kind: 'leave', seq, instance, id, frame: '' });
const left = (id) => JSON.stringify({ v: 1, type: 'member-left', id });

test('events that arrive before the first snapshot wait for it, and those it covers are dropped', () => {
  const mirror = new RoomMirror(SELF);
  mirror.receive(joinEvent(3, 'bob'));
  mirror.receive(leaveEvent(4, 'bob'));
  mirror.receive(joinEvent(6, 'carol'));
  assert.equal(mirror.instanceOf('carol'), undefined, 'nothing applied before the snapshot');
  const alice = member('alice');
  // The join script ran at 5: bob had come and gone, carol had not come yet, but her event
  // reached this instance before the join's reply.
  mirror.joined(alice, 5, [present(2, 'zoe')], 'unused');
  assert.deepEqual(alice.frames, ['joined:carol'], 'only what happened after the snapshot, and to the joiner too');
  assert.equal(mirror.instanceOf('bob'), undefined);
  assert.equal(mirror.instanceOf('zoe'), OTHER, 'the snapshot fills the mirror');
  assert.equal(mirror.instanceOf('carol'), OTHER);
  assert.equal(mirror.instanceOf('alice'), SELF);
});

test('a local member never hears of a change that happened before its own join', () => {
  const mirror = new RoomMirror(SELF);
  const alice = member('alice');
  const dave = member('dave');
  mirror.joined(alice, 10, [present(7, 'bob')], 'unused');
  mirror.joined(dave, 12, [present(7, 'bob'), present(10, 'alice', SELF), present(11, 'carol')], 'joined:dave');
  assert.deepEqual(alice.frames, ['joined:dave'], 'a later local join is announced in-process');
  // Carol's join (11) reaches this instance after dave's script returned.
  mirror.receive(joinEvent(11, 'carol'));
  mirror.receive(leaveEvent(13, 'bob'));
  assert.deepEqual(alice.frames, ['joined:dave', 'joined:carol', left('bob')]);
  assert.deepEqual(dave.frames, [left('bob')], 'carol was in dave\'s snapshot already');
  assert.equal(mirror.instanceOf('carol'), OTHER, 'the mirror still learns of carol');
});

test('events of this instance itself are not applied twice', () => {
  const mirror = new RoomMirror(SELF);
  const alice = member('alice');
  mirror.joined(alice, 1, [], 'unused');
  mirror.receive(joinEvent(2, 'bob', SELF));
  mirror.receive(leaveEvent(3, 'bob', SELF));
  assert.deepEqual(alice.frames, []);
  assert.equal(mirror.instanceOf('bob'), undefined);
});

test('routing: local members by object, others by instance, and a member that left by neither', () => {
  const mirror = new RoomMirror(SELF);
  const alice = member('alice');
  mirror.joined(alice, 2, [present(1, 'bob')], 'unused');
  assert.equal(mirror.local('alice'), alice);
  assert.equal(mirror.local('bob'), undefined);
  assert.equal(mirror.instanceOf('bob'), OTHER);
  mirror.receive(leaveEvent(3, 'bob'));
  assert.equal(mirror.instanceOf('bob'), undefined);
  assert.deepEqual(alice.frames, [left('bob')]);
});

test('left() announces to the local members that stay, and refuses a member that is not local', () => {
  const mirror = new RoomMirror(SELF);
  const [alice, bob] = [member('alice'), member('bob')];
  mirror.joined(alice, 1, [], 'unused');
  mirror.joined(bob, 2, [present(1, 'alice', SELF)], 'joined:bob');
  assert.equal(mirror.left('carol', 'left:carol'), false);
  assert.equal(mirror.left('bob', 'left:bob'), true);
  assert.equal(mirror.left('bob', 'left:bob'), false, 'only once');
  assert.deepEqual(alice.frames, ['joined:bob', 'left:bob']);
  assert.deepEqual(bob.frames, []);
  assert.equal(mirror.local('bob'), undefined);
  assert.equal(mirror.instanceOf('bob'), undefined);
  assert.equal(mirror.left('alice', undefined), true, 'no announce while shutting down');
});

test('a mirror is idle only with no local member and no join on its way', () => {
  const mirror = new RoomMirror(SELF);
  assert.equal(mirror.idle, true);
  mirror.beginJoin();
  assert.equal(mirror.idle, false);
  mirror.joined(member('alice'), 1, [], 'unused');
  mirror.endJoin();
  assert.equal(mirror.idle, false);
  mirror.left('alice', undefined);
  assert.equal(mirror.idle, true);
});

test('only the first snapshot sets the base: a second join replays nothing and drops nothing', () => {
  const mirror = new RoomMirror(SELF);
  const alice = member('alice');
  mirror.joined(alice, 5, [], 'unused');
  mirror.receive(joinEvent(6, 'bob'));
  // A second local join whose script ran at 8 (bob at 6, carol at 7, not yet received).
  const dave = member('dave');
  mirror.joined(dave, 8, [present(6, 'bob'), present(7, 'carol')], 'joined:dave');
  mirror.receive(joinEvent(7, 'carol'));
  assert.deepEqual(alice.frames, ['joined:bob', 'joined:dave', 'joined:carol']);
  assert.deepEqual(dave.frames, []);
});

test('a change that reaches this instance before a later join\'s reply still reaches that joiner, once', () => {
  const mirror = new RoomMirror(SELF);
  const alice = member('alice');
  mirror.beginJoin();
  mirror.joined(alice, 5, [], 'unused');
  mirror.endJoin();
  mirror.beginJoin();
  // Dave's script ran at 8; erin joined at 9 and carol left at 10 on another instance, and both
  // events arrived before dave's reply.
  mirror.receive(joinEvent(7, 'carol'));
  mirror.receive(joinEvent(9, 'erin'));
  mirror.receive(leaveEvent(10, 'carol'));
  const dave = member('dave');
  mirror.joined(dave, 8, [present(5, 'alice', SELF), present(7, 'carol')], 'joined:dave');
  mirror.endJoin();
  mirror.receive(joinEvent(11, 'fred'));
  assert.deepEqual(dave.frames, ['joined:erin', left('carol'), 'joined:fred']);
  assert.deepEqual(alice.frames, ['joined:carol', 'joined:erin', left('carol'), 'joined:dave', 'joined:fred']);
  // Once no join waits, nothing is kept for a joiner: a later one hears only what follows it.
  mirror.beginJoin();
  const gina = member('gina');
  mirror.joined(gina, 12, [present(5, 'alice', SELF), present(8, 'dave', SELF), present(9, 'erin'), present(11, 'fred')], 'joined:gina');
  mirror.endJoin();
  assert.deepEqual(gina.frames, []);
});

test('a local member that leaves while a join waits is announced gone to a joiner whose snapshot still had it', () => {
  const mirror = new RoomMirror(SELF);
  const [alice, bob] = [member('alice'), member('bob')];
  mirror.joined(alice, 1, [], 'unused');
  mirror.joined(bob, 2, [present(1, 'alice', SELF)], 'joined:bob');
  mirror.beginJoin();
  mirror.left('alice', 'left:alice');
  mirror.beginJoin();
  mirror.left('bob', 'left:bob');
  // Carol's script ran before alice's leave script, dave's after both.
  const carol = member('carol');
  mirror.joined(carol, 3, [present(1, 'alice', SELF), present(2, 'bob', SELF)], 'joined:carol');
  const dave = member('dave');
  mirror.joined(dave, 6, [present(3, 'carol', SELF)], 'joined:dave');
  mirror.endJoin();
  mirror.endJoin();
  assert.deepEqual(carol.frames, [left('alice'), left('bob'), 'joined:dave']);
  assert.deepEqual(dave.frames, []);
});
