import { EventEmitter } from 'eventemitter3';

/** One registration as eventemitter3 stores it (its `EE` objects). */
interface Registration {
  fn: (...args: unknown[]) => unknown;
  context: unknown;
  once: boolean;
}

/** The part of eventemitter3's instance state that `emit` reads; not in its typings. */
interface Registry {
  _events: Record<string | symbol, Registration | Registration[] | undefined>;
}

/**
 * Reports an exception thrown by an application's listener the way the platform reports one
 * thrown by a DOM event listener: `reportError` (browsers, Deno) fires the global `error` event
 * and logs it. Node has no `reportError`; rethrowing from a microtask makes it an
 * `uncaughtException`, which is what Node's own `EventTarget` does with a throwing listener, so a
 * Node application sees it where it already looks for such errors.
 */
function report(error: unknown): void {
  if (typeof globalThis.reportError === 'function') return globalThis.reportError(error);
  queueMicrotask(() => {
    throw error;
  });
}

/**
 * eventemitter3's typed `EventEmitter`, except that a listener that throws cannot hurt anyone
 * else: every listener of the event still runs, in order, `emit` returns normally to the peerkit
 * code that called it, and the exception is reported as a DOM event listener's would be (see
 * {@link report}). Without this, one application listener that throws on `state` would unwind
 * through peerkit's own state machine and leave it half-updated.
 *
 * The public API is eventemitter3's, unchanged: `on`, `once`, `off`, `listeners`... with the same
 * compile-time checks of event names and listener arguments.
 *
 * @example
 * ```ts
 * class Thing extends Emitter<{ ready: [id: string] }> {}
 * const thing = new Thing();
 * thing.on('ready', () => { throw new Error('app bug'); }); // reported, not thrown
 * thing.on('ready', (id) => console.log(id));              // still runs
 * ```
 */
export class Emitter<Events extends EventEmitter.ValidEventTypes> extends EventEmitter<Events> {
  override emit<T extends EventEmitter.EventNames<Events>>(event: T, ...args: EventEmitter.EventArgs<Events, T>): boolean {
    // The same walk as eventemitter3's own emit (snapshot, once-listeners removed before they
    // run), with each call guarded.
    const key = typeof EventEmitter.prefixed === 'string' && typeof event === 'string' ? EventEmitter.prefixed + event : event;
    const stored = (this as unknown as Registry)._events[key];
    if (stored === undefined) return false;
    for (const { fn, context, once } of Array.isArray(stored) ? [...stored] : [stored]) {
      if (once) this.removeListener(event, fn as EventEmitter.EventListener<Events, T>, undefined, true);
      try {
        fn.apply(context, args);
      } catch (err) {
        report(err);
      }
    }
    return true;
  }
}
