import { expect } from 'chai';
import {canvasTrack, closeAll, expectDelivery, next, pair, within } from './helpers.js';

const TRIALS = 100;

/** Resolves once `peer` has received a track and a channel. */
const gotBoth = (peer) => Promise.all([next(peer, 'track'), next(peer, 'channel')]);

describe('glare', () => {
  it(`${TRIALS} trials in a row: both sides add a channel and a track at the same moment, all connect`, async () => {
    const tracks = [canvasTrack('red'), canvasTrack('blue')];
    for (let i = 0; i < TRIALS; i++) {
      const [a, b] = pair();
      const errors = [];
      a.on('error', (e) => errors.push(e));
      b.on('error', (e) => errors.push(e));
      const atA = gotBoth(a);
      const atB = gotBoth(b);
      a.channel('from-a');
      b.channel('from-b');
      a.addTrack(tracks[0]);
      b.addTrack(tracks[1]);
      await within(10000, Promise.all([a.connected, b.connected, atA, atB]), `trial ${i}`);
      expect(errors, `trial ${i}`).to.deep.equal([]);
      await closeAll(a, b);
    }
    tracks.forEach((t) => t.stop());
  });

  it('both sides renegotiating at once after connecting still converge', async () => {
    const [a, b] = pair();
    await Promise.all([a.connected, b.connected]);
    for (let round = 0; round < 10; round++) {
      const atA = gotBoth(a);
      const atB = gotBoth(b);
      const ta = canvasTrack();
      const tb = canvasTrack();
      a.addTrack(ta);
      b.addTrack(tb);
      a.channel(`a${round}`);
      b.channel(`b${round}`);
      await within(10000, Promise.all([atA, atB]), `round ${round}`);
      expect(a.connection.signalingState).to.equal('stable');
    }
    await expectDelivery(a, b, 'still talking');
    await closeAll(a, b);
  });

  it('an explicit polite option on one side only is honoured', async () => {
    const [a, b] = pair({ polite: true }, {});
    a.addTrack(canvasTrack());
    b.addTrack(canvasTrack());
    await within(10000, Promise.all([a.connected, b.connected, next(a, 'track'), next(b, 'track')]), 'connecting');
    expect(a.polite).to.equal(true);
    expect(b.polite).to.equal(false);
    await closeAll(a, b);
  });
});
