/**
 * Opt-in browser shim: importing `peerkit/adapter` loads webrtc-adapter, which patches the
 * page's WebRTC globals to smooth over differences between engines and versions. The core never
 * imports it, so bundler users who target current browsers do not pay for it; the CDN build
 * includes it.
 *
 * @example
 * ```ts
 * import 'peerkit/adapter';
 * import { Peer } from 'peerkit';
 * ```
 */
import adapter from 'webrtc-adapter';

/** webrtc-adapter's handle: `adapter.browserDetails` names the engine and version it shimmed. */
export { adapter };
