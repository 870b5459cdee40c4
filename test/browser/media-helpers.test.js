import { expect } from 'chai';
import {
  PeerKitError,
  attach,
  getDisplayMedia,
  getUserMedia,
  isMuted,
  listDevices,
  mediaError,
  mute,
  onDeviceChange,
  switchDevice,
  unmute,
} from '../../dist/index.js';
import { sendMouse } from '@web/test-runner-commands';
import { closeAll, needsWebRTC, next, pair, within } from './helpers.js';

/** Resolves with the rejection of `promise`, failing if it resolves. */
async function rejection(promise) {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

/** Clicks a real button (a user gesture, as autoplay policies count them) and resolves with what its handler returned. */
async function clickToRun(handler) {
  const button = document.createElement('button');
  button.textContent = 'Sound on';
  button.style.cssText = 'position:fixed;left:0;top:0;width:100px;height:40px;z-index:9';
  document.body.append(button);
  const ran = new Promise((resolve) => button.addEventListener('click', () => resolve(handler()), { once: true }));
  await sendMouse({ type: 'click', position: [50, 20] });
  const result = await within(5000, ran, 'the click');
  button.remove();
  return result;
}

/** Resolves once `video` has decoded a frame, with its width. */
async function decoded(video) {
  await within(10000, new Promise((resolve) => {
    const poll = () => (video.videoWidth > 0 ? resolve() : setTimeout(poll, 50));
    poll();
  }), 'decoding a frame');
  return video.videoWidth;
}

function videoElement() {
  const video = document.createElement('video');
  document.body.append(video);
  return video;
}

const stopAll = (stream) => stream.getTracks().forEach((t) => t.stop());

describe('media helpers', () => {
  describe('mediaError', () => {
    const table = [
      ['NotAllowedError', 'PERMISSION_DENIED'],
      ['PermissionDeniedError', 'PERMISSION_DENIED'],
      ['SecurityError', 'PERMISSION_DENIED'],
      ['InvalidStateError', 'PERMISSION_DENIED'],
      ['NotFoundError', 'DEVICE_NOT_FOUND'],
      ['DevicesNotFoundError', 'DEVICE_NOT_FOUND'],
      ['NotReadableError', 'DEVICE_IN_USE'],
      ['TrackStartError', 'DEVICE_IN_USE'],
      ['AbortError', 'DEVICE_IN_USE'],
      ['OverconstrainedError', 'CONSTRAINT_NOT_SATISFIED'],
      ['NotSupportedError', 'UNSUPPORTED'],
      ['SomethingNewError', 'UNSUPPORTED'],
    ];
    for (const [name, code] of table) {
      it(`maps a ${name} DOMException to ${code}, keeping it as the cause`, () => {
        const browser = new DOMException('the browser said so', name);
        const err = mediaError(browser, 'user', { video: true });
        expect(err).to.be.instanceOf(PeerKitError);
        expect(err.code).to.equal(code);
        expect(err.cause).to.equal(browser);
        expect(err.message).to.contain('the browser said so');
      });
    }

    it('names the device that was asked for', () => {
      const denied = new DOMException('', 'NotAllowedError');
      expect(mediaError(denied, 'user', { audio: true }).message).to.match(/microphone/).and.not.match(/camera/);
      expect(mediaError(denied, 'user', { video: true }).message).to.match(/camera/).and.not.match(/microphone/);
      expect(mediaError(denied, 'user', { audio: true, video: true }).message).to.contain('camera or microphone');
      expect(mediaError(denied, 'display').message).to.match(/Screen sharing/);
    });

    it('an OverconstrainedError names the constraint, and one on deviceId means the device is gone', () => {
      const make = (constraint) =>
        typeof OverconstrainedError === 'function'
          ? new OverconstrainedError(constraint, '')
          : Object.assign(new DOMException('', 'OverconstrainedError'), { constraint });
      const width = mediaError(make('width'), 'user', { video: true });
      expect(width.code).to.equal('CONSTRAINT_NOT_SATISFIED');
      expect(width.message).to.contain('"width"');
      expect(mediaError(make('deviceId'), 'user', { video: true }).code).to.equal('DEVICE_NOT_FOUND');
    });

    it('a TypeError is misuse, and a PeerKitError passes through unchanged', () => {
      expect(mediaError(new TypeError('no constraints')).code).to.equal('BAD_ARGUMENT');
      const own = new PeerKitError('TIMEOUT', 'x');
      expect(mediaError(own)).to.equal(own);
    });
  });

  describe('getUserMedia and getDisplayMedia', () => {
    it('an exact width no camera has rejects with CONSTRAINT_NOT_SATISFIED naming "width"', async () => {
      const err = await rejection(getUserMedia({ video: { width: { exact: 99999 } } }));
      expect(err).to.be.instanceOf(PeerKitError);
      expect(err.code).to.equal('CONSTRAINT_NOT_SATISFIED');
      expect(err.message).to.contain('"width"');
      expect(err.cause.name).to.equal('OverconstrainedError');
    });

    it('a deviceId that matches no device rejects with DEVICE_NOT_FOUND', async () => {
      const err = await rejection(getUserMedia({ video: { deviceId: { exact: 'no-such-camera' } } }));
      expect(err.code).to.equal('DEVICE_NOT_FOUND');
      expect(err.message).to.contain('camera');
    });

    it('asking for nothing rejects with BAD_ARGUMENT', async () => {
      expect((await rejection(getUserMedia({}))).code).to.equal('BAD_ARGUMENT');
    });

    it('a browser without mediaDevices on a secure page rejects with UNSUPPORTED', async () => {
      expect(isSecureContext).to.equal(true);
      expect((await rejection(getUserMedia(undefined, { mediaDevices: null }))).code).to.equal('UNSUPPORTED');
      expect((await rejection(getDisplayMedia(undefined, { mediaDevices: null }))).code).to.equal('UNSUPPORTED');
      expect((await rejection(listDevices({ mediaDevices: null }))).code).to.equal('UNSUPPORTED');
    });

    it('getDisplayMedia without a screen-sharing API rejects with UNSUPPORTED', async () => {
      const phone = { getUserMedia: () => Promise.reject(new Error('unused')) };
      const err = await rejection(getDisplayMedia(undefined, { mediaDevices: phone }));
      expect(err.code).to.equal('UNSUPPORTED');
      expect(err.message).to.contain('share the screen');
    });

    it('resolves with the fake camera and microphone by default', async () => {
      const stream = await getUserMedia();
      expect(stream.getVideoTracks()).to.have.length(1);
      expect(stream.getAudioTracks()).to.have.length(1);
      stopAll(stream);
    });
  });

  describe('devices', () => {
    it('listDevices groups the devices by kind, with labels once allowed', async () => {
      const stream = await getUserMedia();
      const devices = await listDevices();
      expect(Object.keys(devices).sort()).to.deep.equal(['audioinput', 'audiooutput', 'videoinput']);
      expect(devices.videoinput.length).to.be.greaterThan(0);
      expect(devices.audioinput.length).to.be.greaterThan(0);
      for (const [kind, list] of Object.entries(devices)) for (const device of list) expect(device.kind).to.equal(kind);
      expect(devices.videoinput[0].label).to.not.equal('');
      stopAll(stream);
    });

    it('onDeviceChange delivers one list for a burst of changes, and nothing after unsubscribing', async () => {
      const lists = [];
      const stop = onDeviceChange((devices) => lists.push(devices));
      for (let i = 0; i < 3; i++) navigator.mediaDevices.dispatchEvent(new Event('devicechange'));
      await within(5000, new Promise((resolve) => {
        const poll = () => (lists.length > 0 ? resolve() : setTimeout(poll, 20));
        poll();
      }), 'a device list');
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(lists).to.have.length(1);
      expect(lists[0]).to.have.property('videoinput');
      stop();
      navigator.mediaDevices.dispatchEvent(new Event('devicechange'));
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(lists).to.have.length(1);
    });

    it('switchDevice swaps the camera mid-call with no renegotiation and stops the old track', async function () {
      needsWebRTC(this);
      const [a, b] = pair();
      await a.connected;
      const local = await getUserMedia({ video: { width: 320, height: 240 } });
      const [camera] = local.getVideoTracks();
      mute(camera);
      a.addTrack(camera, local);
      const [, [remote]] = await within(10000, next(b, 'track'), 'the remote track');
      let renegotiated = false;
      a.on('signal', (m) => m.kind === 'description' && (renegotiated = true));
      a.connection.addEventListener('negotiationneeded', () => (renegotiated = true));
      const { videoinput } = await listDevices();
      const target = videoinput[videoinput.length - 1].deviceId;

      const switched = await switchDevice(a, camera, target, { stream: local });

      expect(switched).to.not.equal(camera);
      expect(camera.readyState).to.equal('ended');
      expect(switched.readyState).to.equal('live');
      expect(switched.getSettings().deviceId).to.equal(target);
      expect(switched.getSettings().width).to.equal(320);
      expect(isMuted(switched), 'the muted state carries over').to.equal(true);
      expect(local.getVideoTracks()).to.deep.equal([switched]);
      expect(a.connection.getSenders().map((s) => s.track)).to.include(switched);
      unmute(switched);
      const video = videoElement();
      attach(video, remote);
      expect(await decoded(video)).to.be.greaterThan(0);
      expect(renegotiated).to.equal(false);
      video.remove();
      stopAll(local);
      await closeAll(a, b);
    });

    it('switchDevice to a missing device rejects with DEVICE_NOT_FOUND and keeps sending the old track', async function () {
      needsWebRTC(this);
      const [a, b] = pair();
      const local = await getUserMedia({ video: true });
      const [camera] = local.getVideoTracks();
      a.addTrack(camera, local);
      const err = await rejection(switchDevice(a, camera, 'unplugged', { stream: local }));
      expect(err.code).to.equal('DEVICE_NOT_FOUND');
      expect(camera.readyState).to.equal('live');
      expect(local.getVideoTracks()).to.deep.equal([camera]);
      expect(a.connection.getSenders().map((s) => s.track)).to.include(camera);
      stopAll(local);
      await closeAll(a, b);
    });

    it('switchDevice on a phone that cannot open two cameras stops the old one and tries again', async function () {
      needsWebRTC(this);
      const [a, b] = pair();
      const local = await getUserMedia({ video: true });
      const [camera] = local.getVideoTracks();
      a.addTrack(camera, local);
      const real = navigator.mediaDevices;
      // Such a phone: a second camera cannot start while the first is live.
      const phone = {
        getUserMedia: (constraints) =>
          camera.readyState === 'live' ? Promise.reject(new DOMException('Could not start video source', 'NotReadableError')) : real.getUserMedia(constraints),
      };
      const { videoinput } = await listDevices();
      const switched = await switchDevice(a, camera, videoinput[0].deviceId, { stream: local, mediaDevices: phone });
      expect(camera.readyState).to.equal('ended');
      expect(switched.readyState).to.equal('live');
      expect(a.connection.getSenders().map((s) => s.track)).to.include(switched);
      stopAll(local);
      await closeAll(a, b);
    });

    it('switchDevice stops the new track when the target refuses it', async () => {
      const local = await getUserMedia({ audio: true });
      const [mic] = local.getAudioTracks();
      const { audioinput } = await listDevices();
      let offered;
      const refusing = {
        replaceTrack: (_old, track) => {
          offered = track;
          return Promise.reject(new PeerKitError('BAD_ARGUMENT', 'not mine'));
        },
      };
      const err = await rejection(switchDevice(refusing, mic, audioinput[0].deviceId));
      expect(err.message).to.equal('not mine');
      expect(offered.readyState).to.equal('ended');
      expect(mic.readyState).to.equal('live');
      stopAll(local);
    });
  });

  describe('mute', () => {
    it('mute and unmute flip track.enabled, which isMuted reads', async () => {
      const stream = await getUserMedia({ audio: true });
      const [mic] = stream.getAudioTracks();
      expect(isMuted(mic)).to.equal(false);
      mute(mic);
      expect(mic.enabled).to.equal(false);
      expect(isMuted(mic)).to.equal(true);
      unmute(mic);
      expect(mic.enabled).to.equal(true);
      stopAll(stream);
    });
  });

  describe('attach', () => {
    it('a local preview plays muted and inline, and detach releases the element', async () => {
      const stream = await getUserMedia({ audio: true, video: true });
      const video = videoElement();
      const view = attach(video, stream, { local: true });
      expect(video.srcObject).to.equal(stream);
      expect(video.muted).to.equal(true);
      expect(video.hasAttribute('playsinline')).to.equal(true);
      expect(await within(10000, view.playing, 'playback')).to.equal('playing');
      expect(await decoded(video)).to.be.greaterThan(0);
      view.detach();
      view.detach();
      expect(video.srcObject).to.equal(null);
      expect(stream.getVideoTracks()[0].readyState, 'the tracks are not attach()\'s to stop').to.equal('live');
      video.remove();
      stopAll(stream);
    });

    it('a remote stream from a Peer plays, muted only where the autoplay policy refuses sound', async function () {
      needsWebRTC(this);
      const [a, b] = pair();
      const local = await getUserMedia({ audio: true, video: true });
      for (const track of local.getTracks()) a.addTrack(track, local);
      const remote = await within(10000, next(b, 'stream'), 'the remote stream');
      const video = videoElement();
      const view = attach(video, remote);
      const outcome = await within(10000, view.playing, 'playback');
      expect(outcome).to.be.oneOf(['playing', 'muted']);
      expect(video.muted).to.equal(outcome === 'muted');
      expect(await decoded(video)).to.be.greaterThan(0);
      view.detach();
      video.remove();
      stopAll(local);
      await closeAll(a, b);
    });

    it('when autoplay refuses sound it plays muted, and resume() from a click brings the sound', async () => {
      const stream = await getUserMedia({ audio: true, video: true });
      const video = videoElement();
      // The autoplay policy of a page nobody has clicked yet, in every engine (Firefox has it
      // for real): muted playback only, sound after a user gesture.
      video.play = function () {
        if (!this.muted && !navigator.userActivation.isActive) return Promise.reject(new DOMException('play() needs a user gesture', 'NotAllowedError'));
        return HTMLMediaElement.prototype.play.call(this);
      };
      const view = attach(video, stream);
      expect(await within(10000, view.playing, 'playback')).to.equal('muted');
      expect(video.muted).to.equal(true);
      expect(await decoded(video)).to.be.greaterThan(0);
      expect(await clickToRun(() => view.resume())).to.equal('playing');
      expect(video.muted).to.equal(false);
      view.detach();
      video.remove();
      stopAll(stream);
    });

    it('when autoplay refuses even muted playback, playing says blocked', async () => {
      const stream = await getUserMedia({ video: true });
      const video = videoElement();
      video.play = () => Promise.reject(new DOMException('low power mode', 'NotAllowedError'));
      const view = attach(video, stream, { local: true });
      expect(await view.playing).to.equal('blocked');
      view.detach();
      video.remove();
      stopAll(stream);
    });

    it('detaching before playback starts settles playing as detached', async () => {
      const stream = await getUserMedia({ video: true });
      const video = videoElement();
      const view = attach(video, stream, { local: true });
      view.detach();
      expect(await within(5000, view.playing, 'settling')).to.equal('detached');
      expect(await view.resume()).to.equal('detached');
      video.remove();
      stopAll(stream);
    });
  });
});
