// One suite, three engines: Debian's Chromium through Playwright, Debian's Firefox ESR through
// Puppeteer over WebDriver BiDi (Playwright cannot drive a stock Firefox), and Debian's WebKitGTK
// through WebKitWebDriver (WebDriver classic). PEERKIT_BROWSER picks one.
import { playwrightLauncher } from '@web/test-runner-playwright';
import { puppeteerLauncher } from '@web/test-runner-puppeteer';
import { countingReporter } from './test/reporter.mjs';
import { networkPlugin } from './test/network-plugin.mjs';
import { signalServerPlugin } from './test/signal-plugin.mjs';
import { janusPlugin } from './test/janus-plugin.mjs';
import { brokerPlugin } from './test/broker-plugin.mjs';
import { CHROMIUM_ARGS, CHROMIUM_PATH, FIREFOX_PATH, FIREFOX_PREFS } from './scripts/browsers.mjs';
import { defaultReporter } from '@web/test-runner';
import { webdriverLauncher } from '@web/test-runner-webdriver';
import { WEBKIT_CAPABILITIES, startWebKitDriver } from './scripts/webkit.mjs';

// eventemitter3's ESM entry imports its CommonJS file; bundlers handle that, a plain dev server
// does not, so the test server wraps that one file as a module.
const eventemitter3AsModule = {
  name: 'eventemitter3-as-module',
  transform(context) {
    if (!context.path.endsWith('/eventemitter3/index.js')) return undefined;
    return { body: `const module = { exports: {} };\n${context.body}\nexport default module.exports;` };
  },
};

const engine = process.env.PEERKIT_BROWSER ?? 'chromium';

const chromium = playwrightLauncher({
  product: 'chromium',
  launchOptions: {
    executablePath: CHROMIUM_PATH,
    // Exact heap figures and gc(), for the transfer test that checks memory stays bounded.
    args: [...CHROMIUM_ARGS, '--enable-precise-memory-info', '--js-flags=--expose-gc'],
  },
});

const firefox = puppeteerLauncher({
  launchOptions: {
    browser: 'firefox',
    executablePath: FIREFOX_PATH,
    headless: true,
    extraPrefsFirefox: FIREFOX_PREFS,
  },
});

// Debian's WebKitGTK has WebRTC compiled out: WebKit runs the files that need no peer connection
// (media helpers, transports, errors, the engine check), and tests inside them that need one skip.
const WEBKIT_FILES = ['test/browser/media-helpers.test.js', 'test/browser/transports.test.js', 'test/browser/engine.test.js'];

async function webkit() {
  const { port } = await startWebKitDriver();
  return webdriverLauncher({ hostname: '127.0.0.1', port, logLevel: 'error', capabilities: WEBKIT_CAPABILITIES });
}

const browser = engine === 'firefox' ? firefox : engine === 'webkit' ? await webkit() : chromium;

// With PEERKIT_THROWING_LISTENERS set, every event of every peerkit object also has a listener
// that throws (test/throwing-listeners.js), installed before the test files load.
const throwing = process.env.PEERKIT_THROWING_LISTENERS ? '<script type="module" src="/test/throwing-listeners.js"></script>' : '';
// Their exceptions are deliberate, and logged once per event: a hundred thousand lines a run.
const THROWN = 'installed by test/throwing-listeners.js';
const deliberate = (args) => args.some((arg) => (typeof arg === 'string' ? arg : JSON.stringify(arg) ?? '').includes(THROWN));

export default {
  files: process.env.PEERKIT_FILES ?? (engine === 'webkit' ? WEBKIT_FILES : 'test/browser/**/*.test.js'),
  // MQTT.js's ES module for browsers sits under its `browser` export condition.
  nodeResolve: { exportConditions: ['browser'] },
  plugins: [eventemitter3AsModule, signalServerPlugin(), networkPlugin(), janusPlugin(), brokerPlugin()],
  // CORS on every file, as a CDN sends it: the E2EE suite loads its worker from another origin.
  middleware: [(context, next) => {
    context.set('Access-Control-Allow-Origin', '*');
    return next();
  }],
  concurrency: 1,
  browsers: [browser],
  ...(throwing && { filterBrowserLogs: ({ args }) => !deliberate(args) }),
  testRunnerHtml: (testFramework) => `<!doctype html><html><body>${throwing}<script type="module" src="${testFramework}"></script></body></html>`,
  browserStartTimeout: 120000,
  testsStartTimeout: 120000,
  testsFinishTimeout: 900000,
  // PEERKIT_GREP runs only the tests whose names contain it (one test, many times, under load);
  // web-test-runner counts the others as failed.
  testFramework: { config: { timeout: 120000, ui: 'bdd', ...(process.env.PEERKIT_GREP && { grep: process.env.PEERKIT_GREP }) } },
  reporters: [defaultReporter(), countingReporter(engine)],
};
