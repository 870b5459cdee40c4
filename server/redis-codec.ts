/**
 * The formats of what the Redis store writes to Redis: room events, member values, held entries
 * and relayed signals. Events and member values are written by the Lua scripts (only they know
 * the sequence number a change gets) and read in TypeScript, so both halves live here, built
 * from the same constants: {@link LUA_FORMATS} is the writing half for the scripts.
 *
 * Fields are separated by a newline. Member ids, instance ids and sequence numbers never hold
 * one, and the JSON of a frame or a `hello` never holds a raw one, so only the last field of a
 * held entry (a room name) may: it is read to the end.
 */
import type { MemberInfo } from './rooms.js';

const SEP = '\n';
const JOIN = 'J';
const LEAVE = 'L';

/** A change of a room's membership, as published on its events channel. */
export interface RoomEvent {
  kind: 'join' | 'leave';
  /** The room's event counter after this change. */
  seq: number;
  /** The instance that holds the member. */
  instance: string;
  id: string;
  /** For a join: the `member-joined` frame to hand to the room's members. Empty for a leave. */
  frame: string;
}

/** A member as the room's hash holds it. */
export interface StoredMember {
  /** The room's event counter after its join. */
  seq: number;
  instance: string;
  info: MemberInfo;
}

/** Lua string literal of a constant above (JSON's escapes for these are Lua's too). */
const lua = (text: string): string => JSON.stringify(text);

/** Lua functions that write these formats, prepended to every script. */
export const LUA_FORMATS = `
local SEP = ${lua(SEP)}
local function join_event(seq, instance, id, frame) return ${lua(JOIN)} .. SEP .. seq .. SEP .. instance .. SEP .. id .. SEP .. frame end
local function leave_event(seq, instance, id) return ${lua(LEAVE)} .. SEP .. seq .. SEP .. instance .. SEP .. id end
local function member_value(seq, instance, hello) return seq .. SEP .. instance .. SEP .. hello end
`;

/** Splits `text` at its first `count` separators; the last part keeps any later ones. */
function fields(text: string, count: number): string[] {
  const parts: string[] = [];
  let start = 0;
  for (let i = 0; i < count; i++) {
    const end = text.indexOf(SEP, start);
    if (end === -1) break;
    parts.push(text.slice(start, end));
    start = end + 1;
  }
  parts.push(text.slice(start));
  return parts;
}

/** Reads an event published by a script; undefined for anything else. */
export function decodeEvent(text: string): RoomEvent | undefined {
  const [kind, seq = '', instance = '', id = '', frame = ''] = fields(text, 4);
  if (kind !== JOIN && kind !== LEAVE) return undefined;
  return { kind: kind === JOIN ? 'join' : 'leave', seq: Number(seq), instance, id, frame };
}

/** The `hello` argument of `member_value`: its JSON, or empty when the member has none. */
export function encodeHello(hello: unknown): string {
  return hello === undefined ? '' : JSON.stringify(hello);
}

/** Reads the value the join script stored for member `id`. */
export function decodeMember(id: string, value: string): StoredMember {
  const [seq = '0', instance = '', hello = ''] = fields(value, 2);
  return { seq: Number(seq), instance, info: hello === '' ? { id } : { id, hello: JSON.parse(hello) } };
}

/** A signal for member `to`, published on the channel of the instance that holds it. */
export function encodeSignal(to: string, frame: string): string {
  return to + SEP + frame;
}

/** Reads {@link encodeSignal}'s message; undefined when it is not one. */
export function decodeSignal(text: string): { to: string; frame: string } | undefined {
  const cut = text.indexOf(SEP);
  return cut === -1 ? undefined : { to: text.slice(0, cut), frame: text.slice(cut + 1) };
}

/** An entry of an instance's held set: member `id` in `room`. */
export function encodeHeld(id: string, room: string): string {
  return id + SEP + room;
}

/** Reads {@link encodeHeld}'s entry; undefined when it is not one. */
export function decodeHeld(entry: string): { id: string; room: string } | undefined {
  const [id = '', room] = fields(entry, 1);
  return room === undefined ? undefined : { id, room };
}
