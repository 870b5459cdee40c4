/**
 * Types for the `PeerKit` global that the CDN file (`dist/peerkit.min.js`) defines, for pages
 * that load peerkit with a `<script>` tag and type-check their own scripts: add
 * `/// <reference types="peerkit/global" />` (or list `"peerkit/global"` in `compilerOptions.types`).
 * This module holds types only; importing it at run time does nothing.
 * @example
 * ```ts
 * /// <reference types="peerkit/global" />
 * const room = await PeerKit.Room.join('my-room', { transport: new PeerKit.BroadcastChannelTransport() });
 * ```
 * @module peerkit/global
 */
import type * as PeerKitModule from './cdn.js';

declare global {
  /** Everything `peerkit` exports, plus `adapter`, as the CDN file defines it on `window`. */
  const PeerKit: typeof PeerKitModule;
}

export {};
