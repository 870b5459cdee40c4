/** The CDN build: the whole SDK as the global `PeerKit`, with webrtc-adapter applied on load. */
export { adapter } from './adapter.js';
export * from './index.js';
