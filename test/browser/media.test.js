import { expect } from 'chai';
import { camera, canvasTrack, closeAll, next, pair, within } from './helpers.js';

/** Resolves once a <video> playing `stream` has decoded a frame. */
async function decodes(stream) {
  const video = document.createElement('video');
  video.muted = true;
  video.playsInline = true;
  video.srcObject = stream;
  document.body.append(video);
  await video.play().catch(() => undefined);
  await within(10000, new Promise((resolve) => {
    const poll = () => (video.videoWidth > 0 ? resolve() : setTimeout(poll, 50));
    poll();
  }), 'decoding a frame');
  const width = video.videoWidth;
  video.remove();
  return width;
}

describe('media', () => {
  it('a track added after connecting arrives with its stream, and plays', async () => {
    const [a, b] = pair();
    await a.connected;
    const track = await camera();
    const local = new MediaStream([track]);
    const arrived = next(b, 'track');
    const stream = next(b, 'stream');
    a.addTrack(track, local);
    const [remote, streams] = await within(10000, arrived, 'track');
    expect(remote.kind).to.equal('video');
    expect(streams[0].id).to.equal(local.id);
    expect((await stream).id).to.equal(local.id);
    expect(await decodes(streams[0])).to.be.greaterThan(0);
    track.stop();
    await closeAll(a, b);
  });

  it('removeTrack renegotiates and the remote track ends up muted or removed', async () => {
    const [a, b] = pair();
    await a.connected;
    const track = canvasTrack();
    const local = new MediaStream([track]);
    a.addTrack(track, local);
    const [, [stream]] = await within(10000, next(b, 'track'), 'track');
    const removed = new Promise((resolve) => stream.addEventListener('removetrack', resolve, { once: true }));
    a.removeTrack(track);
    await within(10000, removed, 'the remote stream losing the track');
    expect(stream.getTracks()).to.have.length(0);
    expect(() => a.removeTrack(track)).to.throw().with.property('code', 'BAD_ARGUMENT');
    track.stop();
    await closeAll(a, b);
  });

  it('replaceTrack swaps the sent track without renegotiating', async () => {
    const [a, b] = pair();
    await a.connected;
    const first = canvasTrack('red');
    a.addTrack(first, new MediaStream([first]));
    const [, [stream]] = await within(10000, next(b, 'track'), 'track');
    let renegotiated = false;
    a.on('signal', (m) => m.kind === 'description' && (renegotiated = true));
    const second = canvasTrack('green');
    await a.replaceTrack(first, second);
    expect(await decodes(stream)).to.be.greaterThan(0);
    expect(renegotiated).to.equal(false);
    // The replacement is now the handle for the sender.
    a.removeTrack(second);
    first.stop();
    second.stop();
    await closeAll(a, b);
  });

  it('adding the same track twice is refused with BAD_ARGUMENT', async () => {
    const [a, b] = pair();
    const track = canvasTrack();
    a.addTrack(track);
    expect(() => a.addTrack(track)).to.throw().with.property('code', 'BAD_ARGUMENT');
    track.stop();
    await closeAll(a, b);
  });
});
