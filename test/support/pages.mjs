// What the Node-driven browser tests share: Debian's browsers launched with the project's flags,
// and a handle on a page that calls into one global object. Pages come from startStatic
// (servers.mjs).
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { chromium } from 'playwright-core';
import puppeteer from 'puppeteer-core';
import { CHROMIUM_ARGS, CHROMIUM_PATH, FIREFOX_PATH, FIREFOX_PREFS } from '../../scripts/browsers.mjs';
import { within } from './wait.mjs';

/** Why a browser cannot run here, or undefined when it can. */
export async function missing(path) {
  try {
    await access(path, constants.X_OK);
    return undefined;
  } catch {
    return `${path} is not installed (set CHROMIUM_PATH / FIREFOX_PATH to another binary)`;
  }
}

/** Debian's Chromium through Playwright. */
export const launchChromium = (timeout = 60000) => chromium.launch({ executablePath: CHROMIUM_PATH, timeout, args: CHROMIUM_ARGS });

/** Debian's Firefox ESR through Puppeteer over WebDriver BiDi. */
export const launchFirefox = (timeout = 60000) =>
  within(timeout, puppeteer.launch({ browser: 'firefox', executablePath: FIREFOX_PATH, headless: true, extraPrefsFirefox: FIREFOX_PREFS }), 'launching Firefox');

/**
 * A page whose script defines `window[global]`; `call(fn, ...args)` runs one of its functions
 * and, when that fails, says so with the page's last console lines.
 */
export function side(name, page, global, stepMs = 20000) {
  const log = [];
  page.on('console', (msg) => log.push(`${msg.type()}: ${msg.text()}`));
  page.on('pageerror', (err) => log.push(`pageerror: ${err.message ?? err}`));
  return {
    name,
    page,
    async call(fn, ...args) {
      try {
        return await within(stepMs + 5000, page.evaluate(([g, f, a]) => window[g][f](...a), [global, fn, args]), `${name} ${fn}()`);
      } catch (err) {
        const tail = log.slice(-20).join('\n  ');
        throw new Error(`${name}: ${fn}() failed: ${err.message}${tail ? `\n  console:\n  ${tail}` : ''}`, { cause: err });
      }
    },
  };
}
