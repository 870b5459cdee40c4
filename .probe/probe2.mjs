import puppeteer from 'puppeteer-core';
import { FIREFOX_PATH, FIREFOX_PREFS } from '../scripts/browsers.mjs';
import { startStatic } from '../test/support/servers.mjs';
const { close, base } = await startStatic(['/dist/', '/bench/']);
const browser = await puppeteer.launch({ browser: 'firefox', executablePath: FIREFOX_PATH, headless: true, extraPrefsFirefox: FIREFOX_PREFS });
const page = await browser.newPage();
page.on('console', (m) => console.log('console', m.text()));
await page.goto(`${base}/bench/transfer.html`);
const r = await page.evaluate(async () => {
  const { WorkerWriter } = await import('/dist/transfer/store-worker.js');
  const out = [];
  const w = await WorkerWriter.start('probe', 'x');
  const data = new Uint8Array(1 << 20).fill(7);
  const res = await Promise.allSettled([w.write('1', data), w.write('1', data), w.write('2', data), w.write('1', data)]);
  out.push(res.map((x) => x.status + (x.reason ? ' ' + x.reason.message : '')).join(', '));
  // main thread reads a file while the worker writes it
  const root = await navigator.storage.getDirectory();
  const dir = await (await root.getDirectoryHandle('probe')).getDirectoryHandle('x');
  const p = w.write('3', data);
  const f = await (await dir.getFileHandle('1')).getFile().then((f) => f.size, (e) => e.name);
  out.push(`read during write: ${f}; ${await p.then(() => 'ok', (e) => e.message)}`);
  // main-thread writable open on the same file as a worker write
  const h = await dir.getFileHandle('4', { create: true });
  const wr = await h.createWritable();
  out.push(`worker write while main writable open: ${await w.write('4', data).then(() => 'ok', (e) => e.message)}`);
  await wr.close();
  await w.close();
  await root.removeEntry('probe', { recursive: true });
  return out;
});
console.log(r);
await browser.close();
await close();
