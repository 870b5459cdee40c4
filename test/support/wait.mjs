// Waiting in tests, the same in Node and in the browser (no imports): a pause, a deadline on a
// promise, a condition polled until it holds, the next event of an emitter.

/** Resolves after `ms`. */
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Rejects if `promise` takes longer than `ms`, saying `what` took too long. */
export function within(ms, promise, what = 'operation') {
  let timer;
  const timeout = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} took more than ${ms} ms`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Resolves with the first truthy value of `check()` (which may be async), polling every `everyMs`;
 * rejects after `ms` saying `what` did not happen.
 */
export function until(what, check, ms = 15000, everyMs = 20) {
  let timedOut = false;
  const poll = async () => {
    // Stops with the deadline, so a condition that never holds leaves nothing running.
    while (!timedOut) {
      const value = await check();
      if (value) return value;
      await sleep(everyMs);
    }
  };
  return within(ms, poll(), what).catch((error) => {
    timedOut = true;
    throw error;
  });
}

/**
 * Resolves with the arguments of the next `event` on `emitter` that passes `accept`: the one
 * argument, or an array when there are several.
 */
export function next(emitter, event, accept = () => true) {
  return new Promise((resolve) => {
    const listener = (...args) => {
      if (!accept(...args)) return;
      emitter.off(event, listener);
      resolve(args.length > 1 ? args : args[0]);
    };
    emitter.on(event, listener);
  });
}
