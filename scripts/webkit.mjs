// WebKit for the browser suite: Debian's WebKitGTK MiniBrowser driven by WebKitWebDriver under
// Xvfb. Debian builds WebKitGTK without WebRTC (no RTCPeerConnection), so the suite runs there
// only the files that need none; see web-test-runner.config.mjs.
import { spawn } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import { connect } from 'node:net';
import { freePort } from './redis.mjs';

export const WEBKIT_DRIVER = process.env.WEBKIT_DRIVER ?? '/usr/bin/WebKitWebDriver';
export const MINIBROWSER = process.env.MINIBROWSER ?? '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser';
export const XVFB = process.env.XVFB ?? '/usr/bin/Xvfb';

/** The capabilities of a MiniBrowser session with mock cameras and microphones. */
export const WEBKIT_CAPABILITIES = {
  browserName: 'MiniBrowser',
  // WebKitWebDriver speaks WebDriver classic only; WebdriverIO 9 would otherwise ask for BiDi.
  'wdio:enforceWebDriverClassic': true,
  'webkitgtk:browserOptions': { binary: MINIBROWSER, args: ['--automation', '--enable-mock-capture-devices=true'] },
};

/** Why WebKit cannot run here, or undefined when it can. */
export async function webkitMissing() {
  for (const path of [WEBKIT_DRIVER, MINIBROWSER, XVFB]) {
    try {
      await access(path, constants.X_OK);
    } catch {
      return `${path} is not installed (Debian: webkit2gtk-driver, xvfb)`;
    }
  }
  return undefined;
}

function listening(port, ms = 10000) {
  const deadline = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => socket.end(resolve));
      socket.once('error', () => (Date.now() > deadline ? reject(new Error(`nothing listens on port ${port}`)) : setTimeout(attempt, 100)));
    };
    attempt();
  });
}

/**
 * Starts Xvfb on a display of its own and WebKitWebDriver on a free loopback port; both end with
 * this process.
 * @returns {Promise<{ port: number, stop(): void }>}
 */
export async function startWebKitDriver() {
  const display = `:${90 + Math.floor(Math.random() * 900)}`;
  const xvfb = spawn(XVFB, [display, '-screen', '0', '1280x1024x24', '-nolisten', 'tcp'], { stdio: 'ignore' });
  const port = await freePort();
  const driver = spawn(WEBKIT_DRIVER, [`--port=${port}`, '--host=127.0.0.1'], { stdio: 'ignore', env: { ...process.env, DISPLAY: display } });
  const stop = () => {
    driver.kill();
    xvfb.kill();
  };
  process.once('exit', stop);
  await listening(port);
  return { port, stop };
}
