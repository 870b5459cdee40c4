// Installed before every browser test file when PEERKIT_THROWING_LISTENERS is set (see
// web-test-runner.config.mjs): every event of every Peer, Channel, Room and transport gets one
// more listener, which throws. peerkit must behave exactly as without it, so the whole suite runs
// once this way; the exceptions reach `reportError` and are swallowed here, as deliberate.
import { Emitter } from '../dist/emitter.js';

const deliberate = new WeakSet();
const installed = new WeakMap();
const emit = Emitter.prototype.emit;

function thrower() {
  const error = new Error('a listener that throws, installed by test/throwing-listeners.js');
  deliberate.add(error);
  throw error;
}

Emitter.prototype.emit = function (event, ...args) {
  let events = installed.get(this);
  if (events === undefined) installed.set(this, (events = new Set()));
  if (!events.has(event)) {
    events.add(event);
    this.on(event, thrower);
  }
  return emit.call(this, event, ...args);
};

let thrown = 0;
window.addEventListener(
  'error',
  (event) => {
    if (!deliberate.has(event.error)) return;
    thrown += 1;
    event.preventDefault();
    event.stopImmediatePropagation();
  },
  true,
);
window.__peerkitDeliberateThrows = () => thrown;
