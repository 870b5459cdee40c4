import { listen } from '../util.js';
import type { NetworkEvents } from './options.js';

/** What a Peer does when the network changes. */
export interface NetworkHooks {
  /** `online`, or the Network Information API's `change`: the path may be new. */
  changed(): void;
  /** `offline`: no path is left. */
  offline(): void;
}

const isEventTarget = (value: unknown): value is EventTarget =>
  typeof (value as EventTarget | undefined)?.addEventListener === 'function';

/** The page's own network events, where the environment has them (not in Node). */
function defaults(): NetworkEvents {
  const events: NetworkEvents = {};
  if (isEventTarget(globalThis)) events.window = globalThis;
  // navigator.connection is Chromium-only (not a bug: a draft others have not taken up,
  // https://developer.mozilla.org/en-US/docs/Web/API/Navigator/connection) and missing from
  // TypeScript's DOM library (https://github.com/microsoft/TypeScript/issues/56962).
  const connection = (globalThis.navigator as { connection?: unknown } | undefined)?.connection;
  if (isEventTarget(connection)) events.connection = connection;
  return events;
}

/**
 * Listens for network changes that ICE would notice only after its own timeouts: `online` and a
 * `connection` `change` mean a new path may exist now, `offline` that the old one is gone.
 *
 * @param events - where to listen; `undefined` for the page's own, `false` for nowhere
 * @returns a function that stops listening
 */
export function watchNetwork(events: NetworkEvents | false | undefined, hooks: NetworkHooks): () => void {
  if (events === false) return () => undefined;
  const { window, connection } = events ?? defaults();
  const changed = (): void => hooks.changed();
  const stops = [listen(window, { online: changed, offline: () => hooks.offline() }), listen(connection, { change: changed })];
  return () => stops.forEach((stop) => stop());
}
