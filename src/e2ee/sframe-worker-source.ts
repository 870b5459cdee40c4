/**
 * The SFrame worker (`sframe-worker.ts` with everything it imports) as the text of one
 * self-contained script, from which `media-encryption.ts` starts it through a `blob:` URL: no
 * file to serve, copy or find, in bundled apps, plain ES modules and the CDN build alike.
 *
 * This placeholder only type-checks and says what is wrong if it runs: `npm run build` replaces
 * the JavaScript tsc emits from it (`dist/e2ee/sframe-worker-source.js`) with the worker rollup
 * bundles (rollup.config.mjs). The declaration tsc emits stays right for both.
 * @packageDocumentation
 */

/** The SFrame worker's script, an ES module with no imports. */
export const sframeWorkerSource: string =
  "throw new Error('peerkit was compiled by tsc alone: run npm run build, which bundles the SFrame worker into dist/e2ee/sframe-worker-source.js');";
