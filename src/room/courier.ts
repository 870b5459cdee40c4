import { decode, encode, readChunk } from '../data/framing.js';
import type { Message, Outgoing, Sendable } from '../data/framing.js';
import type { Channel } from '../data/channel.js';
import { PeerKitError } from '../errors.js';
import type { Peer } from '../peer/peer.js';
import { Delivery } from './delivery.js';
import { ackFrame, dataFrame, readFrame, syncFrame } from './delivery-frame.js';
import type { Member } from './member.js';

/** The room channel: out of band, the same id on both sides, next to the Peer's default channel (0). */
export const ROOM_CHANNEL = { label: 'peerkit-room', id: 1 } as const;

/** Acknowledge after this many deliveries, or this long after the first unacknowledged one. */
const ACK_EVERY = 32;
const ACK_DELAY_MS = 20;

interface Held {
  kind: number;
  bytes: Uint8Array | Promise<Uint8Array>;
  /** Settles the `send()` that held it: called once it is handed to a channel, or let go. */
  handed: () => void;
}

const asBytes = (data: Message): Uint8Array | undefined =>
  data instanceof Uint8Array ? data : data instanceof ArrayBuffer ? new Uint8Array(data) : undefined;

/**
 * Carries room messages to one member over its successive Peers: each Peer gets a room channel,
 * and once both sides have said where they are ({@link Delivery.sync}), what the member has not
 * acknowledged is sent again, in order, then new messages follow.
 */
export class Courier {
  readonly #delivery = new Delivery<Held>(crypto.getRandomValues(new Uint32Array(1))[0] || 1);
  /** The room channel of the current Peer, once synced. */
  #link: Channel | undefined;
  /** The number of the next held message to hand to the link. */
  #cursor = 1;
  #pumping = false;
  #ackTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly received: (data: Message) => void,
    private readonly failed: (error: PeerKitError) => void,
  ) {}

  /** Why a message of `size` bytes cannot be sent to this member now, or undefined. */
  refusal(size: number): PeerKitError | undefined {
    return this.#delivery.refusal(size);
  }

  /** Holds `out` until acknowledged; resolves once it is handed to a channel, or let go. */
  send(out: Outgoing): Promise<void> {
    const read = readChunk(out, 0, out.size);
    // A copy: the caller may reuse its buffer, and the message may be sent again after a rebuild.
    const bytes = read instanceof Uint8Array ? read.slice() : read;
    return new Promise((handed) => {
      const held = this.#delivery.push({ kind: out.kind, bytes, handed }, out.size);
      if (held instanceof PeerKitError) throw held;
      void this.#pump();
    });
  }

  /** Opens the room channel on a new Peer of this member. */
  attach(peer: Peer): void {
    const channel = peer.channel(ROOM_CHANNEL.label, { id: ROOM_CHANNEL.id, ordered: true, raw: false });
    let synced = false;
    channel.on('open', () => void channel.send(syncFrame(this.#delivery.sync())));
    channel.on('message', (data) => {
      const bytes = asBytes(data);
      const frame = bytes === undefined ? new PeerKitError('BAD_MESSAGE', 'the room channel carries binary frames only') : readFrame(bytes);
      if (frame instanceof PeerKitError) return this.failed(frame);
      if (frame.type === 'sync') {
        synced = true;
        this.#delivery.synced(frame);
        this.#link = channel;
        this.#cursor = this.#delivery.pending[0]?.seq ?? this.#delivery.next;
        return void this.#pump();
      }
      if (!synced || frame.type === 'unknown') return;
      this.#delivery.acknowledge(frame.ack);
      if (frame.type === 'ack') return;
      if (this.#delivery.accept(frame.seq) !== 'deliver') return;
      const message = decode(frame.kind, frame.payload);
      if (message instanceof PeerKitError) this.failed(message);
      else this.received(message);
      this.#scheduleAck();
    });
    channel.on('close', () => {
      if (this.#link === channel) this.#link = undefined;
    });
    // A channel that fails with its connection is expected here: the Room builds a new Peer.
    channel.on('error', (error) => {
      if (error.code !== 'CHANNEL_CLOSED') this.failed(error);
    });
  }

  /** The member is gone: nothing held will be sent, and every waiting `send()` resolves. */
  dispose(): void {
    clearTimeout(this.#ackTimer);
    this.#link = undefined;
    for (const held of this.#delivery.pending) held.payload.handed();
    this.#delivery.acknowledge(Infinity);
  }

  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      for (;;) {
        const link = this.#link;
        const pending = this.#delivery.pending;
        const held = pending[this.#cursor - (pending[0]?.seq ?? 0)];
        if (link === undefined || held === undefined) return;
        const bytes = held.payload.bytes instanceof Uint8Array ? held.payload.bytes : await held.payload.bytes;
        // A new link while a Blob was read: it starts again from its own cursor.
        if (this.#link !== link) continue;
        this.#cursor = held.seq + 1;
        const sent = link.send(dataFrame(held.seq, this.#delivery.ack(), held.payload.kind, bytes));
        sent.then(held.payload.handed, held.payload.handed);
      }
    } finally {
      this.#pumping = false;
    }
  }

  #scheduleAck(): void {
    if (this.#delivery.unacknowledged >= ACK_EVERY) return this.#sendAck();
    this.#ackTimer ??= setTimeout(() => this.#sendAck(), ACK_DELAY_MS);
  }

  #sendAck(): void {
    clearTimeout(this.#ackTimer);
    this.#ackTimer = undefined;
    if (this.#link !== undefined && this.#delivery.unacknowledged > 0) void this.#link.send(ackFrame(this.#delivery.ack()));
  }
}

/**
 * Sends `data` to each of `members`: all or none, so that a message refused for one member (its
 * backlog full) is sent to no one, and sending it again later duplicates nothing.
 */
export function sendToMembers(members: readonly Member[], data: Sendable): Promise<void> {
  const out = encode(data);
  if (out instanceof PeerKitError) return Promise.reject(out);
  const refusal = members.map((member) => member.courier?.refusal(out.size)).find((r) => r !== undefined);
  if (refusal !== undefined) return Promise.reject(refusal);
  return Promise.all(members.map((member) => member.send(data, out))).then(() => undefined);
}
