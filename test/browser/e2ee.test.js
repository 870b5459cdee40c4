import { expect } from 'chai';
import { createMediaEncryption, detectEncodedTransformApi, encodedTransformConfig } from '../../dist/e2ee/media-encryption.js';
import { canvasTrack, closeAll, next, pair, sleep, until, within } from './helpers.js';

const KEY_1 = new Uint8Array(16).fill(1);
const KEY_2 = new Uint8Array(16).fill(2);

/** Video frames the receiving side of `peer` has decoded so far. */
async function framesDecoded(peer) {
  let frames = 0;
  (await peer.connection.getStats()).forEach((s) => {
    if (s.type === 'inbound-rtp' && s.kind === 'video') frames += s.framesDecoded ?? 0;
  });
  return frames;
}

/** Resolves once `peer` has decoded more than `count` video frames. */
const decodesBeyond = (peer, count, label) => until(label, async () => (await framesDecoded(peer)) > count, 15000, 100);

/**
 * A Peer sending a painted video track to another, each side with its own MediaEncryption (the
 * receiver's may be absent): the sender protected under key id 1, the receiver's receivers as
 * they arrive. Each side has KEY_1 as key id 1 before any media flows, unless told otherwise.
 */
async function encryptedPair({ api, receiverEncrypts = true, receiverHasKey = true, workerUrl } = {}) {
  const config = encodedTransformConfig(api ?? detectEncodedTransformApi());
  const [a, b] = pair({ config }, { config });
  const options = { overlapMs: 3000, ...(api ? { api } : {}), ...(workerUrl ? { workerUrl } : {}) };
  const sending = createMediaEncryption(options);
  const receiving = receiverEncrypts ? createMediaEncryption(options) : undefined;
  sending.setKey(1, KEY_1);
  if (receiverHasKey) receiving?.setKey(1, KEY_1);
  const errors = [];
  const recovered = [];
  receiving?.on('error', (err) => errors.push(err));
  receiving?.on('recover', (receiver) => recovered.push(receiver));
  b.connection.addEventListener('track', (event) => receiving?.protectReceiver(event.receiver));
  await a.connected;
  const track = canvasTrack();
  a.addTrack(track, new MediaStream([track]));
  const sender = a.connection.getSenders().find((s) => s.track === track);
  sending.protectSender(sender, 1);
  const [remote] = await within(10000, next(b, 'track'), 'the track arriving');
  const close = async () => {
    track.stop();
    sending.close();
    receiving?.close();
    await closeAll(a, b);
  };
  return { a, b, remote, sender, sending, receiving, errors, recovered, close };
}

/**
 * The colour at the centre of the picture `track` plays, as [r, g, b], once it has played one
 * frame; `undefined` if it plays none within `ms`.
 */
async function centreColour(track, ms = 3000) {
  const video = document.createElement('video');
  video.muted = true;
  video.srcObject = new MediaStream([track]);
  document.body.append(video);
  // Never awaited: a video that decodes nothing never starts playing.
  video.play().catch(() => undefined);
  try {
    await until('a frame', () => video.videoWidth > 0, ms, 50);
    await sleep(300);
  } catch {
    return undefined;
  } finally {
    video.remove();
  }
  const canvas = document.createElement('canvas');
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  const context = canvas.getContext('2d');
  context.drawImage(video, 0, 0);
  return [...context.getImageData(canvas.width / 2, canvas.height / 2, 1, 1).data.slice(0, 3)];
}

/** Near the canvas track's teal (0, 128, 128), allowing for the codec. */
const isTeal = (rgb) => rgb !== undefined && rgb[0] < 40 && Math.abs(rgb[1] - 128) < 40 && Math.abs(rgb[2] - 128) < 40;

/** The decoded-frame counts of `peer` every `stepMs` for `durationMs`. */
async function sampleDecoded(peer, durationMs, stepMs = 250) {
  const samples = [];
  for (let t = 0; t < durationMs; t += stepMs) {
    samples.push(await framesDecoded(peer));
    await sleep(stepMs);
  }
  return samples;
}

/** The longest run of consecutive samples without a new decoded frame. */
function longestStall(samples) {
  let longest = 0;
  let run = 0;
  for (let i = 1; i < samples.length; i++) {
    run = samples[i] > samples[i - 1] ? 0 : run + 1;
    longest = Math.max(longest, run);
  }
  return longest;
}

const APIS = [undefined];
// Chromium has both APIs; its older encoded insertable streams get the same tests.
if (typeof RTCRtpSender === 'function' && 'createEncodedStreams' in RTCRtpSender.prototype) APIS.push('encoded-streams');

describe('e2ee', function () {
  before(function () {
    if (typeof RTCPeerConnection === 'undefined' || !detectEncodedTransformApi()) this.skip();
  });

  it('createMediaEncryption refuses bad input with BAD_ARGUMENT and a closed one with CLOSED', () => {
    expect(() => createMediaEncryption({ suite: 'AES_128_CTR_HMAC_SHA256_80' })).to.throw().with.property('code', 'BAD_ARGUMENT');
    expect(() => createMediaEncryption({ overlapMs: -1 })).to.throw().with.property('code', 'BAD_ARGUMENT');
    const e2ee = createMediaEncryption();
    expect(() => e2ee.setKey(1, new Uint8Array(8))).to.throw().with.property('code', 'BAD_ARGUMENT');
    expect(() => e2ee.setKey(-1, KEY_1)).to.throw().with.property('code', 'BAD_ARGUMENT');
    expect(() => e2ee.removeKey(1.5)).to.throw().with.property('code', 'BAD_ARGUMENT');
    e2ee.close();
    e2ee.close();
    expect(() => e2ee.setKey(1, KEY_1)).to.throw().with.property('code', 'CLOSED');
  });

  for (const api of APIS) {
    const via = api ?? detectEncodedTransformApi();

    it(`with the same key on both sides, encrypted video decodes (${via})`, async () => {
      const p = await encryptedPair({ api });
      await decodesBeyond(p.b, 20, 'decoding encrypted video');
      expect(p.errors.map((e) => e.message)).to.deep.equal([]);
      const colour = await centreColour(p.remote);
      expect(isTeal(colour), `centre pixel ${colour}`).to.equal(true);
      await p.close();
    });

    it(`a receiver without the key decodes nothing, reports DECRYPT_FAILED once, and recovers after setKey (${via})`, async () => {
      const p = await encryptedPair({ api, receiverHasKey: false });
      await until('DECRYPT_FAILED', () => p.errors.length > 0, 10000);
      await sleep(3000);
      expect(p.errors).to.have.length(1);
      expect(p.errors[0].code).to.equal('DECRYPT_FAILED');
      expect(await framesDecoded(p.b)).to.equal(0);
      p.receiving.setKey(1, KEY_1);
      await decodesBeyond(p.b, 10, 'decoding after the key arrived');
      expect(p.recovered).to.have.length(1);
      expect(p.errors).to.have.length(1);
      await p.close();
    });

    it(`key rotation with overlap has no gap: a new key under a new key id, then under the same one (${via})`, async () => {
      const p = await encryptedPair({ api });
      await decodesBeyond(p.b, 10, 'decoding before the rotation');
      const sampling = sampleDecoded(p.b, 6000);
      // A new key id: receivers learn it first, the sender switches, the old id is removed
      // and its last frames still decrypt during the overlap.
      p.receiving.setKey(2, KEY_2);
      p.sending.setKey(2, KEY_2);
      await sleep(500);
      p.sending.protectSender(p.sender, 2);
      p.sending.removeKey(1);
      p.receiving.removeKey(1);
      await sleep(2000);
      // The same key id with a new key: the receiver keeps the one it replaced for the overlap.
      p.receiving.setKey(2, KEY_1);
      await sleep(500);
      p.sending.setKey(2, KEY_1);
      const samples = await sampling;
      expect(samples.at(-1)).to.be.greaterThan(samples[0] + 40);
      expect(longestStall(samples), `decoded frames over time: ${samples}`).to.be.at.most(2);
      expect(p.errors).to.have.length(0);
      await p.close();
    });
  }

  it('the default worker starts from the copy inside peerkit: no worker script is fetched', async () => {
    // Both engines list a worker script's fetch among the page's resource entries, as the
    // control below shows; an emptied and enlarged buffer keeps earlier tests from filling it.
    performance.setResourceTimingBufferSize(1000);
    performance.clearResourceTimings();
    const workerFetches = () =>
      performance
        .getEntriesByType('resource')
        .filter((entry) => /\/sframe-worker\.js$/.test(new URL(entry.name).pathname))
        .map((entry) => entry.name);
    const p = await encryptedPair();
    await decodesBeyond(p.b, 10, 'decoding with the default worker');
    expect(p.errors).to.have.length(0);
    expect(workerFetches()).to.deep.equal([]);
    await p.close();
    const control = new URL('/dist/sframe-worker.js', location.href).href;
    const fetching = createMediaEncryption({ workerUrl: control });
    await until('the control worker fetch being listed', () => workerFetches().length > 0, 10000, 50);
    expect(workerFetches()).to.deep.equal([control]);
    fetching.close();
  });

  it('under a CSP without worker-src blob: the default worker is UNSUPPORTED, saying what to allow', async () => {
    const frame = document.createElement('iframe');
    const module = new URL('/dist/e2ee/media-encryption.js', location.href).href;
    // The frame reports the first error, whether the engine throws at once or fires `error`.
    frame.srcdoc = `<meta http-equiv="Content-Security-Policy" content="worker-src 'self'">
<script type="module">
import { createMediaEncryption } from ${JSON.stringify(module)};
const report = (err) => parent.postMessage({ code: err.code, message: err.message }, '*');
try {
  createMediaEncryption().on('error', report);
} catch (err) {
  report(err);
}
</script>`;
    const reported = new Promise((resolve) => addEventListener('message', function onMessage(event) {
      if (event.source !== frame.contentWindow) return;
      removeEventListener('message', onMessage);
      resolve(event.data);
    }));
    document.body.append(frame);
    try {
      const { code, message } = await within(10000, reported, 'the worker being refused');
      expect(code).to.equal('UNSUPPORTED');
      expect(message).to.contain('worker-src blob:');
    } finally {
      frame.remove();
    }
  });

  it('a worker script on another origin starts through a same-origin blob module (a CDN copy of peerkit)', async () => {
    const other = new URL('/dist/e2ee/sframe-worker.js', location.href);
    other.hostname = location.hostname === 'localhost' ? '127.0.0.1' : 'localhost';
    const p = await encryptedPair({ workerUrl: other });
    await decodesBeyond(p.b, 10, 'decoding with cross-origin workers');
    expect(p.errors.map((err) => `${err.code}: ${err.message}`)).to.deep.equal([]);
    await p.close();
  });

  it('a worker script that does not load is an UNSUPPORTED error', async () => {
    const e2ee = createMediaEncryption({ workerUrl: new URL('/no/such/worker.js', location.href) });
    const [error, receiver] = await within(10000, next(e2ee, 'error'), 'the worker failing');
    expect(error.code).to.equal('UNSUPPORTED');
    expect(receiver).to.equal(undefined);
    e2ee.close();
  });

  it('audio frames are encrypted too: a receiver without the key fails once, then decrypts and plays', async () => {
    const [a, b] = pair();
    const sending = createMediaEncryption();
    const receiving = createMediaEncryption();
    sending.setKey(1, KEY_1);
    const errors = [];
    receiving.on('error', (err, receiver) => errors.push([err, receiver]));
    b.connection.addEventListener('track', (event) => receiving.protectReceiver(event.receiver));
    await a.connected;
    // Both engines run with fake devices (scripts/browsers.mjs): a beeping microphone.
    const microphone = await navigator.mediaDevices.getUserMedia({ audio: true });
    const [track] = microphone.getAudioTracks();
    a.addTrack(track, microphone);
    sending.protectSender(a.connection.getSenders().find((s) => s.track === track), 1);
    await until('DECRYPT_FAILED for audio', () => errors.length > 0, 10000);
    expect(errors[0][0].code).to.equal('DECRYPT_FAILED');
    expect(errors[0][1].track.kind).to.equal('audio');
    const recovered = next(receiving, 'recover');
    receiving.setKey(1, KEY_1);
    expect((await within(10000, recovered, 'audio decrypting')).track.kind).to.equal('audio');
    expect(errors).to.have.length(1);
    track.stop();
    sending.close();
    receiving.close();
    await closeAll(a, b);
  });

  it('frames on the wire are encrypted: a receiver without transforms never shows the picture', async () => {
    const p = await encryptedPair({ receiverEncrypts: false });
    await until('encrypted packets arriving', async () => {
      let received = 0;
      (await p.b.connection.getStats()).forEach((s) => {
        if (s.type === 'inbound-rtp' && s.kind === 'video') received += s.packetsReceived ?? 0;
      });
      return received > 50;
    }, 10000, 100);
    const colour = await centreColour(p.remote);
    // The clear VP8 tag claims a partition longer than any frame, so libvpx refuses them all
    // (undefined: no frame at all); were one decoded, it would be noise, never the teal picture.
    expect(isTeal(colour), `centre pixel ${colour} after ${await framesDecoded(p.b)} frames decoded`).to.equal(false);
    await p.close();
  });
});
