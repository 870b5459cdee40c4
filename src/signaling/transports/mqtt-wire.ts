/**
 * What {@link MqttTransport} publishes on its topics, encoded and checked in one place: a
 * member's retained presence on `<base>/p/<id>` and what arrives on its inbox `<base>/m/<id>`.
 * Internal: not part of the public API.
 * @internal
 * @packageDocumentation
 */
import { isRecord } from '../../util.js';

const VERSION = 1;
const decoder = new TextDecoder();

/** A presence, retained on `<base>/p/<id>`; an empty payload there means "gone". */
export interface Presence {
  v: 1;
  hello?: unknown;
  /** When it was published: a retained presence much older than the refresh interval is stale. */
  at: number;
}

/** What arrives on a member's inbox. */
export type Inbox = { v: 1; t: 'msg'; from: string; p: unknown } | { v: 1; t: 'sync'; n: string };

function parseJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(decoder.decode(bytes));
  } catch {
    return undefined;
  }
}

/** The text of a presence published now. */
export function encodePresence(hello: unknown): string {
  const presence: Presence = { v: VERSION, at: Date.now(), ...(hello !== undefined && { hello }) };
  return JSON.stringify(presence);
}

/**
 * Reads a presence; `undefined` for "gone": an empty payload, one that is not a presence, or a
 * retained one not refreshed for 2.5 intervals, left by a member the broker never saw go.
 */
export function parsePresence(bytes: Uint8Array, retained: boolean, announceIntervalMs: number): Presence | undefined {
  if (bytes.byteLength === 0) return undefined;
  const value = parseJson(bytes);
  if (!isRecord(value) || value.v !== VERSION || typeof value.at !== 'number') return undefined;
  if (retained && Date.now() - value.at > 2.5 * announceIntervalMs) return undefined;
  return { v: VERSION, at: value.at, ...('hello' in value && { hello: value.hello }) };
}

/** The text of a payload from `from`; throws when JSON cannot carry the payload. */
export function encodeMessage(from: string, payload: unknown): string {
  return JSON.stringify({ v: VERSION, t: 'msg', from, p: payload });
}

/** The same message, now from `from`: a payload queued under an earlier id goes out under the new one. */
export function readdress(text: string, from: string): string {
  const value = JSON.parse(text) as Record<string, unknown>;
  return JSON.stringify({ ...value, from });
}

/** The text of a sync marker, which a member sends to its own inbox. */
export function encodeSync(marker: string): string {
  return JSON.stringify({ v: VERSION, t: 'sync', n: marker });
}

/** Reads what arrived on an inbox; `undefined` for anything else. */
export function parseInbox(bytes: Uint8Array): Inbox | undefined {
  const value = parseJson(bytes);
  if (!isRecord(value) || value.v !== VERSION) return undefined;
  if (value.t === 'msg' && typeof value.from === 'string' && 'p' in value) return { v: VERSION, t: 'msg', from: value.from, p: value.p };
  if (value.t === 'sync' && typeof value.n === 'string') return { v: VERSION, t: 'sync', n: value.n };
  return undefined;
}

/** CONNACK refusals that retrying would meet again: 3.1.1 codes 4 and 5, MQTT 5 codes 134 and 135. */
export const isRefusal = (error: Error & { code?: unknown }): boolean => [4, 5, 134, 135].includes(Number(error.code));
