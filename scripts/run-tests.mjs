// Runs every suite in turn (Node unit and server tests, the browser suite in Chromium, in Firefox
// and, for the files that need no WebRTC, in WebKit, the cross-engine and end-to-end page tests,
// the package as a new user installs it, the type tests) and ends with one line:
// `tests: N passed, N failed`.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const scratch = mkdtempSync(join(tmpdir(), 'peerkit-test-'));
const totals = { passed: 0, failed: 0, skipped: 0 };
const lines = [];
const failures = [];

function run(command, args, env = {}) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      process.stdout.write(chunk);
    });
    child.on('close', (code) => resolve({ code, out }));
  });
}

function add(name, tally, code) {
  // A runner that died without reporting still counts as a failure.
  if (code !== 0 && tally.failed === 0) tally.failed = 1;
  totals.passed += tally.passed;
  totals.failed += tally.failed;
  totals.skipped += tally.skipped ?? 0;
  lines.push(`${name}: ${tally.passed} passed, ${tally.failed} failed${tally.skipped ? `, ${tally.skipped} skipped` : ''}`);
  for (const failure of tally.failures ?? []) failures.push(`${name}: ${failure}`);
}

function nodeTally(out) {
  const pick = (key) => Number(new RegExp(`^# ${key} (\\d+)`, 'm').exec(out)?.[1] ?? 0);
  // Only the innermost failures: a file's or suite's own `not ok` repeats its failed tests.
  const notOk = [...out.matchAll(/^( *)not ok \d+ - (.*)$/gm)];
  const failures = notOk.filter((m, i) => !(notOk[i - 1] && notOk[i - 1][1].length > m[1].length)).map((m) => m[2]);
  return { passed: pick('pass'), failed: pick('fail') + pick('cancelled'), skipped: pick('skipped'), failures };
}

// --test-force-exit: a handle a test file leaks must not keep CI waiting once its tests have
// reported (test/node/whip-server.test.mjs leaves one behind, not yet found).
async function nodeSuite(name, paths) {
  const { code, out } = await run(process.execPath, ['--test', '--test-reporter=tap', '--test-force-exit', ...paths]);
  add(name, nodeTally(out), code);
}

async function browserSuite(engine, env = {}, label = `browser (${engine})`) {
  const counts = join(scratch, `${label.replace(/\W+/g, '-')}.json`);
  const { code } = await run(process.execPath, ['node_modules/@web/test-runner/dist/bin.js', '--config', 'web-test-runner.config.mjs'], {
    PEERKIT_BROWSER: engine,
    PEERKIT_COUNTS: counts,
    ...env,
  });
  let tally = { passed: 0, failed: 0, skipped: 0 };
  try {
    tally = JSON.parse(readFileSync(counts, 'utf8'));
  } catch {
    // No counts file: the runner never got to report.
  }
  add(label, tally, code);
}

async function typeTests() {
  const { code } = await run(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'test/types/tsconfig.json']);
  add('types', code === 0 ? { passed: 1, failed: 0 } : { passed: 0, failed: 1 }, code);
}

// Only the *.test.mjs files: node --test would take every script under a test/ folder for a test.
const testFiles = (dir) => (existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.test.mjs')).map((f) => join(dir, f)) : []);

await typeTests();
await nodeSuite('node', testFiles('test/node'));
await browserSuite('chromium');
await browserSuite('firefox');
await browserSuite('webkit');
// Once more with a throwing listener on every event of every peerkit object: nothing may change.
await browserSuite('chromium', { PEERKIT_THROWING_LISTENERS: '1' }, 'browser (chromium, throwing listeners)');
for (const [name, dir] of [['cross-engine', 'test/cross'], ['e2e', 'test/e2e'], ['new user', 'test/user']]) {
  const files = testFiles(dir);
  if (files.length > 0) await nodeSuite(name, files);
}
rmSync(scratch, { recursive: true, force: true });

console.log('\n' + lines.join('\n'));
if (failures.length > 0) console.log(`failed:\n${failures.map((name) => `  ${name}`).join('\n')}`);
console.log(`tests: ${totals.passed} passed, ${totals.failed} failed${totals.skipped ? `, ${totals.skipped} skipped` : ''}`);
process.exitCode = totals.failed > 0 ? 1 : 0;
