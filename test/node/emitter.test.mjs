// Emitter: eventemitter3's API with listeners isolated from each other and from peerkit.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Emitter } from '../../dist/emitter.js';

/** Runs `body` with globalThis.reportError collecting what it is given. */
function reporting(body) {
  const reported = [];
  const saved = globalThis.reportError;
  globalThis.reportError = (err) => reported.push(err);
  try {
    body();
  } finally {
    if (saved === undefined) delete globalThis.reportError;
    else globalThis.reportError = saved;
  }
  return reported;
}

test('a listener that throws does not stop the others, and emit returns normally', () => {
  const e = new Emitter();
  const calls = [];
  const boom = new Error('boom');
  e.on('x', (v) => calls.push(`first ${v}`));
  e.on('x', () => {
    throw boom;
  });
  e.on('x', (v) => calls.push(`third ${v}`));
  let returned;
  const reported = reporting(() => (returned = e.emit('x', 1)));
  assert.equal(returned, true);
  assert.deepEqual(calls, ['first 1', 'third 1']);
  assert.deepEqual(reported, [boom]);
});

test('a single listener that throws is reported too', () => {
  const e = new Emitter();
  const reported = reporting(() => {
    e.on('x', () => {
      throw new Error('only');
    });
    e.emit('x');
  });
  assert.equal(reported[0].message, 'only');
});

test('once listeners run once, even when they throw; context and arguments are kept', () => {
  const e = new Emitter();
  const seen = [];
  const context = { name: 'ctx' };
  reporting(() => {
    e.once('x', function (a, b, c, d, f) {
      seen.push([this.name, a, b, c, d, f]);
      throw new Error('once');
    }, context);
    e.on('x', () => seen.push('on'));
    e.emit('x', 1, 2, 3, 4, 5);
    e.emit('x', 6);
  });
  assert.deepEqual(seen, [['ctx', 1, 2, 3, 4, 5], 'on', 'on']);
  assert.equal(e.listenerCount('x'), 1);
});

test('emit without listeners returns false; off removes; listeners() lists the functions given', () => {
  const e = new Emitter();
  const f = () => {};
  assert.equal(e.emit('x'), false);
  e.on('x', f);
  assert.deepEqual(e.listeners('x'), [f]);
  e.off('x', f);
  assert.equal(e.emit('x'), false);
});

test('a listener that removes a later one during emit does not stop it this time (as eventemitter3)', () => {
  const e = new Emitter();
  const calls = [];
  const second = () => calls.push('second');
  e.on('x', () => e.off('x', second));
  e.on('x', second);
  e.emit('x');
  e.emit('x');
  assert.deepEqual(calls, ['second']);
});

test('in Node, without reportError, the exception becomes an uncaughtException after emit returns', () => {
  const dist = fileURLToPath(new URL('../../dist/emitter.js', import.meta.url));
  const script = `
    const { Emitter } = await import(${JSON.stringify(dist)});
    const order = [];
    process.on('uncaughtException', (err) => { order.push('uncaught ' + err.message); console.log(order.join(', ')); });
    const e = new Emitter();
    e.on('x', () => { throw new Error('app bug'); });
    e.on('x', () => order.push('second'));
    e.emit('x');
    order.push('returned');
  `;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(out.trim(), 'second, returned, uncaught app bug');
});
