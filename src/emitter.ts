import type { EventEmitter } from 'eventemitter3';

type Names<Events extends EventEmitter.ValidEventTypes> = EventEmitter.EventNames<Events>;
type Listener<Events extends EventEmitter.ValidEventTypes, T extends Names<Events>> = EventEmitter.EventListener<Events, T>;

/** One listener as registered. */
interface Registration {
  fn: (...args: unknown[]) => unknown;
  context: unknown;
  once: boolean;
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
 * eventemitter3's typed `EventEmitter` API, except that a listener that throws cannot hurt anyone
 * else: every listener of the event still runs, in order, `emit` returns normally to the peerkit
 * code that called it, and the exception is reported as a DOM event listener's would be (see
 * {@link report}). Without this, one application listener that throws on `state` would unwind
 * through peerkit's own state machine and leave it half-updated.
 *
 * The API is eventemitter3's, with its typings and the same compile-time checks of event names
 * and listener arguments: `on`, `once`, `off`... It is implemented here rather than inherited,
 * since guarding each call means rewriting `emit` anyway, and eventemitter3's code would double
 * the bytes every user ships for it.
 *
 * @example
 * ```ts
 * class Thing extends Emitter<{ ready: [id: string] }> {}
 * const thing = new Thing();
 * thing.on('ready', () => { throw new Error('app bug'); }); // reported, not thrown
 * thing.on('ready', (id) => console.log(id));              // still runs
 * ```
 */
export class Emitter<Events extends EventEmitter.ValidEventTypes = string | symbol> {
  private readonly registry = new Map<PropertyKey, Registration[]>();

  /** The events that have listeners. */
  eventNames(): Names<Events>[] {
    return [...this.registry.keys()] as Names<Events>[];
  }

  /** The listeners of `event`, in the order they run. */
  listeners<T extends Names<Events>>(event: T): Listener<Events, T>[] {
    return (this.registry.get(event) ?? []).map(({ fn }) => fn as Listener<Events, T>);
  }

  /** How many listeners `event` has. */
  listenerCount(event: Names<Events>): number {
    return this.registry.get(event)?.length ?? 0;
  }

  /** Calls every listener of `event` with `args`; false when it had none. */
  emit<T extends Names<Events>>(event: T, ...args: EventEmitter.EventArgs<Events, T>): boolean {
    const registered = this.registry.get(event);
    if (!registered) return false;
    // A snapshot: listeners added or removed by a listener take effect from the next emit.
    for (const { fn, context, once } of [...registered]) {
      if (once) this.removeListener(event, fn as Listener<Events, T>, undefined, true);
      try {
        fn.apply(context, args);
      } catch (err) {
        report(err);
      }
    }
    return true;
  }

  /** Adds a listener, called with `this` set to `context`. */
  on<T extends Names<Events>>(event: T, fn: Listener<Events, T>, context?: unknown): this {
    return this.add(event, fn, context, false);
  }

  /** Same as {@link on}. */
  addListener<T extends Names<Events>>(event: T, fn: Listener<Events, T>, context?: unknown): this {
    return this.add(event, fn, context, false);
  }

  /** Adds a listener that is removed before its first call. */
  once<T extends Names<Events>>(event: T, fn: Listener<Events, T>, context?: unknown): this {
    return this.add(event, fn, context, true);
  }

  /**
   * Removes the listeners of `event` that are `fn` (every listener without `fn`), only those
   * registered with `context` when it is given, and only `once` listeners when `once` is true.
   */
  removeListener<T extends Names<Events>>(event: T, fn?: Listener<Events, T>, context?: unknown, once?: boolean): this {
    const kept = (this.registry.get(event) ?? []).filter(
      (r) => fn !== undefined && (r.fn !== fn || (once && !r.once) || (context !== undefined && r.context !== context)),
    );
    if (kept.length > 0) this.registry.set(event, kept);
    else this.registry.delete(event);
    return this;
  }

  /** Same as {@link removeListener}. */
  off<T extends Names<Events>>(event: T, fn?: Listener<Events, T>, context?: unknown, once?: boolean): this {
    return this.removeListener(event, fn, context, once);
  }

  /** Removes every listener of `event`, or of every event. */
  removeAllListeners(event?: Names<Events>): this {
    if (event === undefined) this.registry.clear();
    else this.registry.delete(event);
    return this;
  }

  private add(event: PropertyKey, fn: unknown, context: unknown, once: boolean): this {
    const registration = { fn: fn as Registration['fn'], context: context ?? this, once };
    this.registry.set(event, [...(this.registry.get(event) ?? []), registration]);
    return this;
  }
}
