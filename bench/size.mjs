// Bundle sizes as a user's bundler would see them: each entry bundled with its dependencies,
// minified, then gzipped. Everything stays in memory; nothing is written to dist/.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import commonjs from '@rollup/plugin-commonjs';
import resolve from '@rollup/plugin-node-resolve';
import terser from '@rollup/plugin-terser';
import { rollup } from 'rollup';

const dist = (path) => fileURLToPath(new URL(`../dist/${path}`, import.meta.url));

/** Budgets in min+gzip bytes; `null` means the figure is printed for information only. */
export const ENTRIES = [
  // The core is what every user ships: Peer with its Channel, signals and errors. Rooms,
  // transports and media helpers are opt-in named exports that tree-shaking drops when unused.
  // 10 KiB until ICE restarts between Firefox and Chromium were made to hold (the DTLS role kept
  // through a restart answer, loaded lazily, and one restart per outage rather than one per side);
  // 10.25 KiB until a remote silent for 20 s after an ICE restart made the Peer fail with TIMEOUT
  // rather than stay reconnecting for as long as SCTP's backoff or a frozen page lasts (~0.12 KiB).
  { name: "core: import { Peer } from 'peerkit'", source: "import { Peer } from 'peerkit';\nexport { Peer };\n", budget: 10656 },
  // 16 KiB until exactly-once room.send() and rebuilt Peers (sequence numbers, acknowledgements,
  // replay and the room channel) added about 2.5 KiB, and media: 'sfu' about 0.7 KiB more (its
  // WHIP/WHEP module itself loads only when a Room uses it); 19 KiB until room.sendFile() (its
  // transfers follow rebuilt Peers), the SFrame key messages of encrypted SFU rooms and the hooks
  // of media: 'auto' added about 0.45 KiB (the transfer, SFrame and mode code itself loads lazily);
  // 20 KiB until the core's bound on silence after an ICE restart (above).
  { name: "import { Room, WebSocketTransport } from 'peerkit'", source: "export { Room, WebSocketTransport } from 'peerkit';\n", budget: 20672 },
  { name: 'dist/index.js, every export', input: dist('index.js'), budget: null },
  { name: "peerkit/whip: import { publish, play } (WHIP/WHEP clients)", input: dist('whip/index.js'), budget: 6144 },
  { name: 'peerkit/websocket (transport alone)', input: dist('signaling/transports/websocket.js'), budget: 4096 },
  // MQTT.js and nostr-tools come only with these subpaths; the entries above must not grow with them.
  { name: "peerkit/mqtt (MqttTransport with MQTT.js's browser build)", input: dist('signaling/transports/mqtt.js'), budget: null },
  { name: 'peerkit/nostr (NostrTransport with nostr-tools/pure)', input: dist('signaling/transports/nostr.js'), budget: null },
  { name: 'dist/peerkit.min.js (CDN, with webrtc-adapter)', file: dist('peerkit.min.js'), budget: null },
];

const VIRTUAL = '\0bench-entry';

/** Resolves the virtual entry, and `peerkit` to the built package as a user's import would. */
function entryPlugin(source) {
  return {
    name: 'bench-entry',
    resolveId: (id) => (id === VIRTUAL ? VIRTUAL : id === 'peerkit' ? dist('index.js') : null),
    load: (id) => (id === VIRTUAL ? source : null),
  };
}

async function minified(entry) {
  if (entry.file) return readFile(entry.file);
  const bundle = await rollup({
    input: entry.source ? VIRTUAL : entry.input,
    plugins: [...(entry.source ? [entryPlugin(entry.source)] : []), resolve({ browser: true }), commonjs()],
    onwarn: (warning, warn) => warning.code !== 'CIRCULAR_DEPENDENCY' && warn(warning),
  });
  try {
    const { output } = await bundle.generate({ format: 'es', plugins: [terser({ ecma: 2020 })] });
    // What a page loads up front: the entry chunk and every chunk it imports statically. Chunks
    // only imported dynamically (the Room's SFU module) load when used, so they do not count.
    const chunks = new Map(output.map((chunk) => [chunk.fileName, chunk]));
    const loaded = new Set();
    const visit = (name) => {
      if (loaded.has(name)) return;
      loaded.add(name);
      for (const imported of chunks.get(name)?.imports ?? []) visit(imported);
    };
    visit(output[0].fileName);
    return Buffer.concat([...loaded].map((name) => Buffer.from(chunks.get(name).code)));
  } finally {
    await bundle.close();
  }
}

/** Measures every entry; each result carries the printed line and whether it met its budget. */
export async function measureSizes() {
  const results = [];
  for (const entry of ENTRIES) {
    const code = await minified(entry);
    const gz = gzipSync(code, { level: 9 }).byteLength;
    const verdict = entry.budget === null ? '(information, no budget)' : `(target <= ${entry.budget}) ${gz <= entry.budget ? 'PASS' : 'FAIL'}`;
    results.push({
      ...entry,
      min: code.byteLength,
      gzip: gz,
      pass: entry.budget === null || gz <= entry.budget,
      line: `size: ${entry.name}: min ${code.byteLength} B, min+gzip ${gz} B ${verdict}`,
    });
  }
  return results;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const result of await measureSizes()) console.log(result.line);
}
