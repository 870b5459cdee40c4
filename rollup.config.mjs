// tsc (TypeScript 7, the native compiler) type-checks and emits dist/*.js and .d.ts; rollup only
// bundles that emitted JavaScript into the one-file CDN build, and the two optional transports
// into ES modules with their libraries inside, for pages without a bundler (the demo). See
// README, "Building".
import commonjs from '@rollup/plugin-commonjs';
import resolve from '@rollup/plugin-node-resolve';
import terser from '@rollup/plugin-terser';

// webrtc-adapter's `sdp` dependency is CommonJS.
const plugins = () => [resolve({ browser: true }), commonjs()];

const transport = (name) => ({
  input: `dist/signaling/transports/${name}.js`,
  output: { file: `dist/peerkit-${name}.min.js`, format: 'es', inlineDynamicImports: true, sourcemap: true, plugins: [terser({ ecma: 2020 })] },
  plugins: plugins(),
});

export default [
  {
    input: 'dist/cdn.js',
    output: {
      file: 'dist/peerkit.min.js',
      format: 'iife',
      name: 'PeerKit',
      // One file: the Room's lazily loaded SFU module goes inside it.
      inlineDynamicImports: true,
      sourcemap: true,
      plugins: [terser({ ecma: 2020 })],
    },
    plugins: plugins(),
  },
  // The SFrame worker in one file beside the CDN build, where that build's default worker URL
  // (./sframe-worker.js against its own URL) finds it.
  {
    input: 'dist/e2ee/sframe-worker.js',
    output: { file: 'dist/sframe-worker.js', format: 'es', sourcemap: true, plugins: [terser({ ecma: 2020 })] },
    plugins: plugins(),
  },
  transport('mqtt'),
  transport('nostr'),
];
