// How every test and bench launches Debian's browsers: one list of flags and prefs, kept here.

/** Chromium as root, with no background traffic, fake media, and timers that never throttle. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
  // Background tabs would throttle the timers the tests wait on.
  '--disable-background-timer-throttling',
  '--disable-renderer-backgrounding',
];

/** Firefox ESR with fake media and no permission prompts. */
export const FIREFOX_PREFS = {
  'media.navigator.streams.fake': true,
  'media.navigator.permission.disabled': true,
  'media.peerconnection.ice.loopback': true,
};

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const FIREFOX_PATH = process.env.FIREFOX_PATH ?? '/usr/bin/firefox-esr';
