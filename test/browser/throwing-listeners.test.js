import { expect } from 'chai';
import { closeAll, expectDelivery, needsWebRTC, pair } from './helpers.js';

// Meaningful in the run with PEERKIT_THROWING_LISTENERS set (scripts/run-tests.mjs does one):
// proves the throwing listeners were really installed and really threw, so the rest of that run
// passing means peerkit ignored them.
describe('listeners that throw', () => {
  it('are installed on every event when the suite runs with them, and peerkit carries on', async function () {
    needsWebRTC(this);
    const [a, b] = pair();
    await expectDelivery(a, b, 'despite the throwing listeners');
    await closeAll(a, b);
    if (typeof window.__peerkitDeliberateThrows === 'function') expect(window.__peerkitDeliberateThrows()).to.be.greaterThan(10);
  });
});
