/**
 * WHIP (RFC 9725) and WHEP clients: publish a stream to, and play one from, any WHIP/WHEP server
 * (peerkit-signal's Janus bridge, MediaMTX, Cloudflare, ...). Also exported from the main entry.
 * @packageDocumentation
 */
export { publish, WhipSession } from './publish.js';
export type { PublishOptions, WhipSessionEvents } from './publish.js';
export { play, WhepSession } from './play.js';
export type { PlayOptions, WhepSessionEvents } from './play.js';
export type { MediaSessionOptions, MediaSessionState } from './connection.js';
export type { FetchLike } from './http.js';
