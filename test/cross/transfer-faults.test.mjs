// A large file from Chromium to Firefox and back while the network breaks under it: UDP dropped
// (nftables) twice, then the address the Peers meet on removed once. The first two the Peers ride
// out with ICE restarts on the same connection; the third kills Firefox's SCTP association, so
// both sides make new Peers and the transfer resumes on them from what the receiver verified.
// The file must arrive with the sender's SHA-256, and the bytes sent twice are printed per
// interruption and held to one block each: blocks go as 128 KiB pieces, the receiver keeps the
// start of the block it had in part and asks for the rest, so what goes twice is what the broken
// connection's buffers held (the channel's high-water mark is 256 KiB), not whole blocks.
//
// Needs the built dist/peerkit.min.js and root (nft, ip); run inside the private namespace:
//   bash scripts/netns.sh node --test test/cross/transfer-faults.test.mjs
// PEERKIT_FAULT_MIB sets the size of each direction's file in MiB.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';
import { CHROMIUM_PATH as CHROMIUM, FIREFOX_PATH as FIREFOX } from '../../scripts/browsers.mjs';
import { networkPlugin } from '../network-plugin.mjs';
import { launchChromium, launchFirefox, missing, side as pageSide } from '../support/pages.mjs';
import { startRelay } from '../support/relay.mjs';
import { startStatic } from '../support/servers.mjs';
import { until, within } from '../support/wait.mjs';

const MiB = 1 << 20;
const BLOCK = MiB;
// 1 GiB each way, as the issue asks. The received file is checked as the SHA-256 of each of its
// 16 MiB slices (WebCrypto, in seconds), not as one streaming SHA-256 in JS (half a minute per
// 256 MiB). PEERKIT_FAULT_MIB sets another size.
const SIZE = Number(process.env.PEERKIT_FAULT_MIB ?? 1024) * MiB;
const SLICE_MIB = 16;
const STEP_MS = 30000;
const TRANSFER_MS = Math.max(120000, (SIZE / MiB) * 1500);
const LAUNCH_MS = 60000;

/** The SHA-256 of each 16 MiB slice of the file the pages make (transfer-faults-page.html, patternFile), computed here on its own. */
function expectedSlices(size) {
  const pattern = Buffer.alloc(MiB);
  let x = 0x9e3779b9;
  for (let i = 0; i < MiB; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    pattern[i] = x & 0xff;
  }
  const slices = [];
  const stamp = Buffer.alloc(4);
  for (let n = 0; n < size / MiB; n++) {
    if (n % SLICE_MIB === 0) slices.push(createHash('sha256'));
    stamp.writeUInt32BE(n);
    slices.at(-1).update(stamp);
    slices.at(-1).update(pattern.subarray(4));
  }
  return slices.map((hash) => hash.digest('hex'));
}

const cleanup = [];
const network = networkPlugin();
const fault = (name, broken) => network.executeCommand({ command: 'network', payload: { fault: name, broken } });
// Set by before(): why the tests skip, why the setup failed, and the two pages.
let skipReason, setupError, chrome, fox;

before(async () => {
  skipReason = (await missing(CHROMIUM)) ?? (await missing(FIREFOX)) ?? (await fault('silence', false)).unavailable;
  if (skipReason) return;
  try {
    const [files, relay] = await Promise.all([startStatic(['/dist/', '/test/cross/']), startRelay()]);
    cleanup.push(files.close, relay.close);
    [chrome, fox] = await Promise.all(
      [
        ['chromium', launchChromium],
        ['firefox', launchFirefox],
      ].map(async ([name, launch]) => {
        const browser = await launch(LAUNCH_MS);
        cleanup.push(() => browser.close());
        const page = await browser.newPage();
        await page.goto(`${files.base}/test/cross/transfer-faults-page.html`, { timeout: STEP_MS });
        const one = pageSide(name, page, 'tf', TRANSFER_MS);
        await one.call('join', relay.url, STEP_MS);
        return one;
      }),
    );
    await until('both pages reaching the relay', () => relay.clients() === 2, STEP_MS);
    for (const one of [chrome, fox]) await one.call('start');
    await Promise.all([chrome.call('connected', STEP_MS), fox.call('connected', STEP_MS)]);
  } catch (err) {
    setupError = err;
  }
});

after(async () => {
  await Promise.all([fault('silence', false), fault('address', false)]).catch(() => {});
  for (const close of cleanup.reverse()) await within(15000, Promise.resolve().then(close), 'cleanup').catch(() => {});
});

/** Resolves with both pages' Peer states once `test` holds for the pair. */
async function both(what, test, ms = STEP_MS) {
  let last;
  await until(
    what,
    async () => {
      last = await Promise.all([chrome.call('state'), fox.call('state')]);
      return test(last);
    },
    ms,
    100,
  ).catch(async (err) => {
    const seen = await Promise.all([chrome.call('diagnose'), fox.call('diagnose')]).catch((why) => `not known: ${why.message}`);
    throw new Error(`${err.message}; pages: ${JSON.stringify(last)}; beneath: ${JSON.stringify(seen, null, 1)}`, { cause: err });
  });
  return last;
}

for (const [from, to] of [
  ['chromium', 'firefox'],
  ['firefox', 'chromium'],
]) {
  test(`${SIZE / MiB} MiB from ${from} to ${to} arrives intact through two UDP outages and an address removal, with at most one block's worth of bytes sent twice per interruption`, { timeout: TRANSFER_MS + 6 * STEP_MS }, async (t) => {
    if (skipReason) return t.skip(skipReason);
    if (setupError) throw setupError;
    const [sender, receiver] = from === 'chromium' ? [chrome, fox] : [fox, chrome];
    const expected = expectedSlices(SIZE);
    await Promise.all([sender.call('reset'), receiver.call('reset')]);
    const t0 = Date.now();
    await sender.call('send', SIZE, `${from}-to-${to}.bin`);

    /** Rethrows `err` with where each side's transfer and Peer stood. */
    const stuck = async (err) => {
      const seen = await Promise.all([sender.call('sending'), receiver.call('receiving'), sender.call('state'), receiver.call('state'), sender.call('errors'), receiver.call('errors')]);
      throw new Error(`${err.message}; sender ${JSON.stringify(seen[0])} ${JSON.stringify(seen[2])}, receiver ${JSON.stringify(seen[1])} ${JSON.stringify(seen[3])}; sender errors: ${seen[4].join(' | ')}; receiver errors: ${seen[5].join(' | ')}`, { cause: err });
    };
    const reached = (share) =>
      until(`${Math.round(share * 100)} % verified`, async () => (await sender.call('sending')).bytes >= share * SIZE, TRANSFER_MS, 100).catch(stuck);
    const interruptions = [];
    for (const [share, kind] of [
      [0.2, 'silence'],
      [0.45, 'silence'],
      [0.7, 'address'],
    ]) {
      await reached(share);
      const { generation } = await sender.call('state');
      const before = (await sender.call('sending')).resentBytes;
      const brokenAt = Date.now();
      await fault(kind, true);
      // Broken until the Peers notice (Firefox's close the address removal, reconnecting the drop)
      // and a little past, so a restart is tried while nothing gets through.
      await both(`both Peers noticing the ${kind} fault`, (pair) => pair.every((s) => s.generation > generation || s.state !== 'connected'));
      await new Promise((resolve) => setTimeout(resolve, 1500));
      await fault(kind, false);
      const mended = await both(`both Peers connected again after the ${kind} fault`, ([a, b]) => a.state === 'connected' && b.state === 'connected' && a.generation === b.generation);
      interruptions.push({ kind, share, before, brokenMs: Date.now() - brokenAt, generations: mended.map((s) => s.generation) });
    }

    const sent = await sender.call('sent', TRANSFER_MS).catch(stuck);
    const seconds = (Date.now() - t0) / 1000;
    const got = await receiver.call('received', STEP_MS);
    interruptions.forEach((step, i) => (step.resent = (interruptions[i + 1]?.before ?? sent.resentBytes) - step.before));
    t.diagnostic(`${from} -> ${to}: ${SIZE / MiB} MiB in ${seconds.toFixed(1)} s (${(SIZE / MiB / seconds).toFixed(1)} MiB/s with the outages, until done); the receiver hashed it in ${(got.hashMs / 1000).toFixed(1)} s`);
    for (const step of interruptions) {
      t.diagnostic(`${step.kind} at ${step.share * 100} %: ${step.resent} bytes sent twice (${(step.resent / BLOCK).toFixed(3)} of a ${BLOCK}-byte block); broken for ${step.brokenMs} ms; Peer generations after it ${step.generations.join('/')}`);
    }
    for (const side of [sender, receiver]) t.diagnostic(`${side.name} Peer errors: ${(await side.call('errors')).join(' | ') || 'none'}`);
    t.diagnostic(`bytes sent twice in all: ${sent.resentBytes}; blocks fetched again for damage: ${got.refetchedBlocks}`);

    assert.equal(got.size, SIZE);
    assert.equal(got.slices.length, expected.length);
    got.slices.forEach((hash, i) => assert.equal(hash, expected[i], `slice ${i} of the received file has the SHA-256 of the one sent`));
    const [, , removal] = interruptions;
    assert.ok(removal.generations.every((g) => g > 1), 'the address removal made new Peers, so the transfer resumed on another connection');
    for (const step of interruptions) assert.ok(step.resent <= BLOCK, `the ${step.kind} fault at ${step.share * 100} % made ${step.resent} bytes go twice, more than a block`);
    // Peer errors (a failed restart, the closed association) belong to the faults; the transfer must have none.
    for (const side of [sender, receiver]) assert.deepEqual((await side.call('errors')).filter((e) => /^(transfers|send|accept)/.test(e)), []);
  });
}
