/**
 * Small helpers that several modules need, kept once. Internal: not part of the public API.
 * @internal
 * @packageDocumentation
 */

/** True for a plain JSON-like object (not null, not an array). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Lower-case hex of bytes. */
export function toHex(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += b.toString(16).padStart(2, '0');
  return out;
}

/** A random id of `bytes` random bytes, as lower-case hex. */
export function randomHex(bytes = 16): string {
  return toHex(crypto.getRandomValues(new Uint8Array(bytes)));
}

/**
 * Delay before retry number `attempt` (0-based): exponential up to `maxMs`, with jitter so that
 * clients dropped together do not come back together. `jitter` 'full' draws from [0, ceiling]
 * (AWS "full jitter"); 'half' from [ceiling / 2, ceiling].
 */
export function backoffDelay(attempt: number, minMs: number, maxMs: number, jitter: 'full' | 'half' = 'full'): number {
  const ceiling = Math.min(maxMs, minMs * 2 ** attempt);
  return jitter === 'full' ? Math.random() * ceiling : ceiling * (0.5 + Math.random() / 2);
}

/** ICE has a working path: `connected` or `completed`. */
export function iceIsUp(state: RTCIceConnectionState): boolean {
  return state === 'connected' || state === 'completed';
}

/** A finite number above zero. */
export function isPositive(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0;
}

/**
 * Adds each handler as the listener of the event it is keyed by on `target`; nothing when
 * `target` is undefined.
 *
 * @returns a function that removes them again
 */
export function listen(target: EventTarget | undefined, handlers: Record<string, (event: never) => void>): () => void {
  const entries = Object.entries(handlers) as [string, EventListener][];
  for (const [type, handler] of entries) target?.addEventListener(type, handler);
  return () => {
    for (const [type, handler] of entries) target?.removeEventListener(type, handler);
  };
}

/** Writes `value`, a whole number below 2^53, at `at` as an unsigned 64-bit big-endian integer (two u32, high first). */
export function writeU64(view: DataView, at: number, value: number): void {
  view.setUint32(at, Math.floor(value / 2 ** 32));
  view.setUint32(at + 4, value >>> 0);
}

/** Reads the unsigned 64-bit big-endian integer at `at`; exact below 2^53. */
export function readU64(view: DataView, at: number): number {
  return view.getUint32(at) * 2 ** 32 + view.getUint32(at + 4);
}
