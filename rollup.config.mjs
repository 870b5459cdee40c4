// tsc (TypeScript 7, the native compiler) type-checks and emits dist/*.js and .d.ts; rollup only
// bundles that emitted JavaScript into the one-file CDN build. See README, "Building".
import commonjs from '@rollup/plugin-commonjs';
import resolve from '@rollup/plugin-node-resolve';
import terser from '@rollup/plugin-terser';

export default {
  input: 'dist/cdn.js',
  output: {
    file: 'dist/peerkit.min.js',
    format: 'iife',
    name: 'PeerKit',
    sourcemap: true,
    plugins: [terser({ ecma: 2020 })],
  },
  // webrtc-adapter's `sdp` dependency is CommonJS.
  plugins: [resolve({ browser: true }), commonjs()],
};
