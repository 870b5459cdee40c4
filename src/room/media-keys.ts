/**
 * End-to-end encryption of a Room's media through the SFU (`media: 'sfu'` with a `secret`): one
 * SFrame worker for this page, this member's sender key and the keys the other members sent.
 * Loaded only by such Rooms, with the SFU module.
 *
 * Key schedule (docs/protocol.md, "End-to-end encrypted media", and key-schedule.ts): each member
 * encrypts under its own key, drawn afresh per epoch, and hands it to each other member over the
 * sealed signaling, never through the SFU. A receiver keeps decrypting with the key a new one
 * replaces for {@link OVERLAP_MS} after the new one arrives: with the delay before a new key is
 * used, that is the overlap with no gap.
 * @packageDocumentation
 */
import { createMediaEncryption, detectEncodedTransformApi, encodedTransformConfig } from '../e2ee/media-encryption.js';
import type { MediaEncryption } from '../e2ee/media-encryption.js';
import { SENDER_KEY_MATERIAL_BYTES, deriveSenderKey, fromHex } from '../e2ee/sender-key.js';
import { PeerKitError } from '../errors.js';
import type { WebRtcImplementation } from '../peer/options.js';
import { isRecord, toHex } from '../util.js';
import { KeySchedule } from './key-schedule.js';
import type { EventEmitter } from 'eventemitter3';
import type { RoomEncryption, RoomEvents } from './events.js';
import type { KeySignal } from './key-signal.js';
import type { Member } from './member.js';
import type { MemberPeers } from './member-peers.js';

/** How long a replaced key still decrypts, from when its successor arrives. */
const OVERLAP_MS = 5000;
/**
 * Frames that do not decrypt for this long are reported: a member just admitted, or one that just
 * changed keys, sends a few frames before its key arrives, which is no failure.
 */
const REPORT_AFTER_MS = 2000;

interface SenderKey {
  kid: number;
  epoch: number;
  material: Uint8Array;
}

const count = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;

/** Reads a key message; `undefined` when it is malformed. */
export function parseKeySignal(raw: unknown): KeySignal | undefined {
  if (!isRecord(raw) || raw.v !== 1 || raw.kind !== 'sframe-key') return undefined;
  const { kid, epoch, m } = raw;
  if (!count(kid) || kid >= 2 ** 32 || !count(epoch) || typeof m !== 'string' || !/^[0-9a-f]{64}$/.test(m)) return undefined;
  const signal: KeySignal = { v: 1, kind: 'sframe-key', kid, epoch, m };
  if (raw.r === 1) signal.r = 1;
  return signal;
}

/**
 * Keeps encrypted video to VP8 (with its retransmission and redundancy formats). Firefox's encoded
 * frames carry no mimeType, so the worker takes every video frame for VP8 (sframe-worker.ts) and
 * would cut another codec's clear prefix wrong; H.264 could not be sent at all (codec.ts). The
 * bridge's Janus rooms accept VP9 and H.264 too, so the offer must not leave the choice open.
 */
function vp8Only(transceiver: RTCRtpTransceiver, sending: boolean): void {
  const codecs = (sending ? RTCRtpSender : RTCRtpReceiver).getCapabilities('video')?.codecs.filter((codec) => /^video\/(vp8|rtx|red|ulpfec|flexfec-03)$/i.test(codec.mimeType));
  if (codecs?.some((codec) => /vp8$/i.test(codec.mimeType)) === true) transceiver.setCodecPreferences(codecs);
}

/** The Room, as far as {@link MediaKeys} uses it. */
export interface KeyedRoom extends EventEmitter<RoomEvents> {
  readonly name: string;
}

/**
 * The keys of a Room's end-to-end encrypted SFU media, and the hook that applies them: the
 * RTCPeerConnection class {@link wrtc} gives SfuMedia's WHIP and WHEP sessions encrypts every
 * sender and decrypts every receiver.
 */
export class MediaKeys {
  readonly #room: KeyedRoom;
  readonly #secret: string;
  readonly #peers: MemberPeers;
  readonly #encryption: MediaEncryption;
  readonly #schedule: KeySchedule<Member, SenderKey>;
  /** The key id each member encrypts under now. */
  readonly #theirs = new Map<Member, number>();
  readonly #senders = new Set<RTCRtpSender>();
  /** Who plays on each receiver; undefined for none. */
  readonly #receivers = new Map<RTCRtpReceiver, Member | undefined>();
  /** Receivers (by their member) that fail to decrypt, with the timer that reports it. */
  readonly #failing = new Map<Member | RTCRtpReceiver, ReturnType<typeof setTimeout>>();
  #closed = false;

  /** @throws PeerKitError `UNSUPPORTED` where the engine has no encoded transforms */
  constructor(room: KeyedRoom, secret: string, peers: MemberPeers) {
    this.#room = room;
    this.#secret = secret;
    this.#peers = peers;
    if (detectEncodedTransformApi() === undefined) {
      throw new PeerKitError(
        'UNSUPPORTED',
        "media: 'sfu' with a secret encrypts media end to end, which needs encoded transforms (RTCRtpScriptTransform) that this engine lacks; join with e2ee: false to accept media the SFU can read",
      );
    }
    this.#encryption = createMediaEncryption({ overlapMs: OVERLAP_MS });
    this.#encryption.on('error', (error, receiver) => this.#failed(error, receiver));
    this.#encryption.on('recover', (receiver) => {
      const key = this.#receivers.get(receiver) ?? receiver;
      clearTimeout(this.#failing.get(key));
      this.#failing.delete(key);
    });
    this.#schedule = new KeySchedule({
      draw: (epoch) => this.#draw(epoch),
      give: (member, key, first) => {
        const signal: KeySignal = { v: 1, kind: 'sframe-key', kid: key.kid, epoch: key.epoch, m: toHex(key.material), ...(first ? { r: 1 as const } : {}) };
        member.transmit(signal, this.#peers.sendTo(member));
      },
      switched: (key, old) => {
        for (const sender of this.#senders) this.#encryption.protectSender(sender, key.kid);
        this.#encryption.removeKey(old.kid);
        this.#room.emit('encryption', this.state);
      },
      discarded: (key) => this.#encryption.removeKey(key.kid),
    });
  }

  /** What {@link Room.encryption} says. */
  get state(): RoomEncryption {
    return { media: 'e2ee', keyEpoch: this.#schedule.current.epoch };
  }

  /**
   * The RTCPeerConnection for a WHIP or WHEP session, playing `member`'s feed or publishing ours:
   * it encrypts what its senders send, decrypts what its receivers receive, and offers VP8 alone
   * for video.
   */
  wrtc(member?: Member): WebRtcImplementation {
    const keys = this;
    const extra = encodedTransformConfig(this.#encryption.api);
    class Encrypting extends globalThis.RTCPeerConnection {
      constructor(configuration?: RTCConfiguration) {
        super({ ...configuration, ...extra });
        this.addEventListener('track', (event) => keys.#protectReceiver(event.receiver, member));
      }

      override addTransceiver(trackOrKind: MediaStreamTrack | string, init?: RTCRtpTransceiverInit): RTCRtpTransceiver {
        const transceiver = super.addTransceiver(trackOrKind, init);
        const sending = typeof trackOrKind !== 'string';
        if ((sending ? trackOrKind.kind : trackOrKind) === 'video') vp8Only(transceiver, sending);
        if (sending) keys.#protectSender(transceiver);
        else keys.#protectReceiver(transceiver.receiver, member);
        return transceiver;
      }
    }
    return { RTCPeerConnection: Encrypting };
  }

  /** `member` was admitted: it gets a key that never encrypted anything it could have recorded. */
  admitted(member: Member): void {
    if (member.courier !== undefined) this.#schedule.admitted(member);
  }

  /** `member` is gone: its key stops after the overlap, and ours changes so it cannot read on. */
  removed(member: Member): void {
    if (!this.#schedule.removed(member)) return;
    const kid = this.#theirs.get(member);
    this.#theirs.delete(member);
    clearTimeout(this.#failing.get(member));
    this.#failing.delete(member);
    if (kid !== undefined && !this.#closed) this.#encryption.removeKey(kid);
  }

  /** A key message from `member`. */
  receive(member: Member, raw: unknown): void {
    const signal = parseKeySignal(raw);
    if (this.#closed || signal === undefined || !this.#schedule.has(member)) return;
    if (signal.r === 1) this.#schedule.askedAgain(member);
    void deriveSenderKey(this.#secret, this.#room.name, signal.kid, fromHex(signal.m)).then((key) => {
      if (this.#closed || !this.#schedule.has(member)) return;
      const previous = this.#theirs.get(member);
      this.#encryption.setKey(signal.kid, key);
      this.#theirs.set(member, signal.kid);
      if (previous !== undefined && previous !== signal.kid) this.#encryption.removeKey(previous);
    });
  }

  /** Stops the worker: nothing is encrypted or decrypted any more. Idempotent. */
  close(): void {
    this.#closed = true;
    this.#schedule.close();
    for (const timer of this.#failing.values()) clearTimeout(timer);
    this.#failing.clear();
    this.#encryption.close();
  }

  #draw(epoch: number): SenderKey {
    const material = crypto.getRandomValues(new Uint8Array(SENDER_KEY_MATERIAL_BYTES));
    const kid = crypto.getRandomValues(new Uint32Array(1))[0] ?? 0;
    const key: SenderKey = { kid, epoch, material };
    void deriveSenderKey(this.#secret, this.#room.name, kid, material).then((base) => {
      if (!this.#closed) this.#encryption.setKey(kid, base);
    });
    return key;
  }

  #protectSender(transceiver: RTCRtpTransceiver): void {
    const { sender } = transceiver;
    if (this.#closed || sender.track === null) return;
    this.#senders.add(sender);
    this.#encryption.protectSender(sender, this.#schedule.current.kid);
  }

  #protectReceiver(receiver: RTCRtpReceiver, member: Member | undefined): void {
    if (this.#closed || this.#receivers.has(receiver)) return;
    this.#receivers.set(receiver, member);
    this.#encryption.protectReceiver(receiver);
  }

  #failed(error: PeerKitError, receiver: RTCRtpReceiver | undefined): void {
    if (receiver === undefined) return void this.#room.emit('error', error, undefined);
    const member = this.#receivers.get(receiver);
    const key = member ?? receiver;
    // Once per member until it decrypts again, and only once the failure lasts.
    if (this.#failing.has(key)) return;
    this.#failing.set(
      key,
      setTimeout(() => this.#room.emit('error', error, member?.id), REPORT_AFTER_MS),
    );
  }
}
