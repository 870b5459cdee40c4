// The Room's SFrame sender keys (docs/protocol.md, section 8.6; its test vectors are checked by
// protocol-vectors.test.mjs): every input of the derivation matters, and the key message parser
// refuses what is malformed. Run after `npm run --silent build`.
import assert from 'node:assert/strict';
import { mock, test } from 'node:test';
import { deriveSenderKey, fromHex } from '../../dist/e2ee/sender-key.js';
import { KeySchedule, REKEY_DEBOUNCE_MS, SWITCH_DELAY_MS } from '../../dist/room/key-schedule.js';
import { parseKeySignal } from '../../dist/room/media-keys.js';

const hex = (bytes) => Buffer.from(bytes).toString('hex');

const INPUT = ['correct horse battery staple', 'board', 0x12345678, '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f'];

test('every input changes the base key: another secret, room, key id or material', async () => {
  const [secret, room, kid, material] = INPUT;
  const baseKey = hex(await deriveSenderKey(secret, room, kid, fromHex(material)));
  const other = fromHex(material);
  other[0] ^= 1;
  const variants = [
    deriveSenderKey(`${secret}!`, room, kid, fromHex(material)),
    deriveSenderKey(secret, `${room}!`, kid, fromHex(material)),
    deriveSenderKey(secret, room, kid + 1, fromHex(material)),
    deriveSenderKey(secret, room, kid, other),
  ];
  for (const variant of await Promise.all(variants)) assert.notEqual(hex(variant), baseKey);
});

test('parseKeySignal takes a well-formed key message and nothing else', () => {
  const good = { v: 1, kind: 'sframe-key', kid: 7, epoch: 2, m: 'ab'.repeat(32) };
  assert.deepEqual(parseKeySignal({ ...good, extra: true }), good);
  assert.deepEqual(parseKeySignal({ ...good, r: 1 }), { ...good, r: 1 });
  assert.deepEqual(parseKeySignal({ ...good, r: true }), good);
  for (const bad of [
    null,
    { ...good, v: 2 },
    { ...good, kind: 'hello' },
    { ...good, kid: -1 },
    { ...good, kid: 2 ** 32 },
    { ...good, kid: 1.5 },
    { ...good, epoch: '2' },
    { ...good, m: 'AB'.repeat(32) },
    { ...good, m: 'ab'.repeat(31) },
  ]) {
    assert.equal(parseKeySignal(bad), undefined, JSON.stringify(bad));
  }
});

/**
 * Runs `body` with a KeySchedule over Node's fake setTimeout, which records the keys each member
 * was given and each switch and discard; the real timers are back afterwards.
 */
function withSchedule(body) {
  mock.timers.enable({ apis: ['setTimeout'] });
  let drawn = 0;
  const held = new Map();
  const log = [];
  const keys = new KeySchedule({
    draw: (epoch) => ({ id: ++drawn, epoch }),
    give: (member, key) => held.get(member).add(key.id),
    switched: (key, old) => log.push(`switch ${old.id}->${key.id}`),
    discarded: (key) => log.push(`discard ${key.id}`),
  });
  const member = (name) => {
    const m = { name };
    held.set(m, new Set());
    keys.admitted(m);
    return m;
  };
  // A millisecond at a time: Node 20's mock timers do not run, within one tick, a timer set by a
  // callback of that tick.
  const tick = (ms) => {
    for (let i = 0; i < ms; i++) mock.timers.tick(1);
  };
  try {
    body({ keys, member, held, log, tick });
  } finally {
    keys.close();
    mock.timers.reset();
  }
}

test('a member gone while a new key waits to be used cannot decrypt more than debounce + switch delay after it was gone', () => {
  const BOUND = REKEY_DEBOUNCE_MS + SWITCH_DELAY_MS;
  // Gone at every point of a pending change: before the new key is drawn, just after, midway, just before its use.
  for (const offset of [0, REKEY_DEBOUNCE_MS + 1, 600, BOUND - 1]) {
    withSchedule(({ keys, member, held, log, tick }) => {
      const [a, b, leaver] = [member('a'), member('b'), member('leaver')];
      tick(10 * BOUND);
      // A newcomer starts a change: a new key is handed to everyone, the leaver included.
      member('c');
      tick(offset);
      assert.equal(keys.removed(leaver), true);
      tick(BOUND);
      const message = `gone ${offset} ms into the change (${log.join(', ')})`;
      assert.equal(held.get(leaver).has(keys.current.id), false, message);
      // The others hold what is used, and nothing further is pending.
      for (const m of [a, b]) assert.equal(held.get(m).has(keys.current.id), true, message);
      const settled = keys.current.id;
      tick(10 * BOUND);
      assert.equal(keys.current.id, settled, message);
    });
  }
});

test('members leaving one after another within a change: each loses the picture within the bound of its own leaving', () => {
  withSchedule(({ keys, member, held, log, tick }) => {
    const a = member('a');
    const [x, y] = [member('x'), member('y')];
    tick(5000);
    const epoch = keys.current.epoch;
    log.length = 0;
    keys.removed(x);
    tick(700);
    keys.removed(y);
    // At x's bound, the key in use is one neither x nor y was given, though y left only 400 ms before.
    tick(REKEY_DEBOUNCE_MS + SWITCH_DELAY_MS - 700);
    assert.equal(held.get(x).has(keys.current.id), false);
    assert.equal(held.get(y).has(keys.current.id), false);
    assert.equal(held.get(a).has(keys.current.id), true);
    // One change seen from outside: one epoch more, one switch, the key y held discarded unused.
    assert.equal(keys.current.epoch, epoch + 1);
    assert.deepEqual(log.map((line) => line.split(' ')[0]), ['discard', 'switch']);
  });
});

test('a member admitted while a new key waits gets that key, and no change starts for it', () => {
  withSchedule(({ keys, member, held, log, tick }) => {
    member('a');
    member('b');
    tick(REKEY_DEBOUNCE_MS + 1);
    const late = member('late');
    tick(SWITCH_DELAY_MS);
    assert.equal(held.get(late).has(keys.current.id), true);
    assert.equal(held.get(late).size, 1);
    tick(5000);
    assert.equal(log.filter((line) => line.startsWith('switch')).length, 1);
  });
});
