// What the Node-driven browser tests share: a static file server on loopback, Debian's browsers
// launched with the project's flags, and a handle on a page that calls into one global object.
import { constants } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import puppeteer from 'puppeteer-core';
import { CHROMIUM_ARGS, CHROMIUM_PATH, FIREFOX_PATH, FIREFOX_PREFS } from '../../scripts/browsers.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.css': 'text/css', '.map': 'application/json', '.svg': 'image/svg+xml', '.png': 'image/png' };

/** Rejects if `promise` takes longer than `ms`. */
export function within(ms, promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} took more than ${ms} ms`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Serves the given folders of `root` (the repository unless told; e.g. `/dist/`), nothing else, on
 * loopback, with `headers` added to every file (the bench's cross-origin isolation, for a finer clock).
 */
export async function startStatic(folders, root = ROOT, headers = {}) {
  const server = createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname));
    if (!folders.some((folder) => path.startsWith(folder))) return res.writeHead(404).end();
    try {
      const body = await readFile(join(root, path));
      res.writeHead(200, { ...headers, 'content-type': TYPES[extname(path)] ?? 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { close: () => new Promise((resolve) => server.close(resolve)), base: `http://127.0.0.1:${server.address().port}` };
}

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
