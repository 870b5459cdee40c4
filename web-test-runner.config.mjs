// One suite, two engines: Debian's Chromium through Playwright, Debian's Firefox ESR through
// Puppeteer over WebDriver BiDi (Playwright cannot drive a stock Firefox). PEERKIT_BROWSER picks one.
import { playwrightLauncher } from '@web/test-runner-playwright';
import { puppeteerLauncher } from '@web/test-runner-puppeteer';
import { countingReporter } from './test/reporter.mjs';
import { networkPlugin } from './test/network-plugin.mjs';
import { signalServerPlugin } from './test/signal-plugin.mjs';
import { brokerPlugin } from './test/broker-plugin.mjs';
import { CHROMIUM_ARGS, CHROMIUM_PATH, FIREFOX_PATH, FIREFOX_PREFS } from './scripts/browsers.mjs';
import { defaultReporter } from '@web/test-runner';

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
    args: CHROMIUM_ARGS,
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

export default {
  files: process.env.PEERKIT_FILES ?? 'test/browser/**/*.test.js',
  // MQTT.js's ES module for browsers sits under its `browser` export condition.
  nodeResolve: { exportConditions: ['browser'] },
  plugins: [eventemitter3AsModule, signalServerPlugin(), networkPlugin(), brokerPlugin()],
  concurrency: 1,
  browsers: [engine === 'firefox' ? firefox : chromium],
  browserStartTimeout: 120000,
  testsStartTimeout: 120000,
  testsFinishTimeout: 900000,
  testFramework: { config: { timeout: 120000, ui: 'bdd' } },
  reporters: [defaultReporter(), countingReporter(engine)],
};
