// Every page of examples/ opened as a reader would, through `npm start`'s static server, in
// Chromium and in Firefox: each sets `data-status="done"` on its body once its exchange worked.
// Run inside the private network namespace: bash scripts/netns.sh node --test test/user/examples.test.mjs
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { startDemo } from '../../scripts/start.mjs';
import { CHROMIUM_PATH, FIREFOX_PATH } from '../../scripts/browsers.mjs';
import { launchChromium, launchFirefox, missing } from '../support/pages.mjs';
import { within } from '../support/wait.mjs';

const PAGES = readdirSync(fileURLToPath(new URL('../../examples', import.meta.url))).filter((f) => f.endsWith('.html'));
const STEP_MS = 30000;

let demo;
const browsers = {};

before(async () => {
  demo = await startDemo({ port: 0 });
  if (!(await missing(CHROMIUM_PATH))) browsers.chromium = await launchChromium();
  if (!(await missing(FIREFOX_PATH))) browsers.firefox = await launchFirefox();
});

after(async () => {
  for (const browser of Object.values(browsers)) await within(15000, browser.close(), 'closing a browser').catch(() => {});
  await demo?.close();
});

/** Opens `page` of examples/ and waits until it says it is done, with its console on failure. */
async function open(browser, page, extra = async () => {}) {
  const tab = await browser.newPage();
  const log = [];
  tab.on('console', (msg) => log.push(`${msg.type()}: ${msg.text()}`));
  tab.on('pageerror', (err) => log.push(`pageerror: ${err.message ?? err}`));
  await tab.goto(new URL(`/examples/${page}`, demo.url).href);
  await extra(tab);
  try {
    await within(STEP_MS, tab.waitForFunction(() => document.body.dataset.status === 'done'), `${page}`);
  } catch (err) {
    const text = await tab.evaluate(() => document.body.innerText).catch(() => '');
    throw new Error(`${err.message}\npage: ${text}\nconsole:\n${log.join('\n')}`);
  }
  return tab;
}

test('examples/ holds the five documented pages', () => {
  assert.deepEqual(PAGES.sort(), ['call.html', 'data.html', 'file.html', 'room.html', 'script-tag.html']);
});

for (const engine of ['chromium', 'firefox']) {
  test(`every example page works in ${engine}`, async (t) => {
    const browser = browsers[engine];
    if (!browser) return t.skip(`${engine} is not installed`);
    for (const page of PAGES) {
      await t.test(page, async () => {
        if (page === 'room.html') {
          const room = `examples-${engine}-${Date.now()}`;
          // BroadcastChannel reaches only tabs of one profile: Playwright gives each newPage() a
          // context of its own, so both tabs open in one context there.
          const tabs = browser.newContext ? await browser.newContext() : browser;
          const first = await tabs.newPage();
          await first.goto(new URL(`/examples/room.html?room=${room}`, demo.url).href);
          const second = await open(tabs, `room.html?room=${room}`);
          await within(STEP_MS, first.waitForFunction(() => document.body.dataset.status === 'done'), 'the first tab hearing the second');
          await Promise.all([first.close(), second.close()]);
          if (tabs !== browser) await tabs.close();
          return;
        }
        const clickGenerated = (tab) => (page === 'file.html' ? tab.click('#generated') : Promise.resolve());
        const tab = await open(browser, page, clickGenerated);
        await tab.close();
      });
    }
  });
}
