import { expect } from 'chai';
import { Peer, PeerKitError } from '../../dist/index.js';

describe('an engine without WebRTC', () => {
  it('new Peer() fails at once with UNSUPPORTED, saying the engine has no RTCPeerConnection', () => {
    // Debian's WebKitGTK has none; elsewhere the global is taken away for the length of the test.
    const saved = Object.getOwnPropertyDescriptor(globalThis, 'RTCPeerConnection');
    if (saved) delete globalThis.RTCPeerConnection;
    try {
      expect(() => new Peer()).to.throw(PeerKitError).with.property('code', 'UNSUPPORTED');
      expect(() => new Peer()).to.throw(/RTCPeerConnection/);
    } finally {
      if (saved) Object.defineProperty(globalThis, 'RTCPeerConnection', saved);
    }
  });
});
