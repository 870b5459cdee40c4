import { Channel, FRAMED_PROTOCOL } from '../data/channel.js';
import type { ResolvedChannelOptions } from '../data/channel.js';
import { refusable } from './senders.js';

/**
 * The data channels of one Peer: opening them with the options turned into RTCDataChannelInit,
 * adopting the ones the remote opened, and closing them all.
 */
export class Channels {
  private readonly open = new Set<Channel>();

  constructor(
    private readonly pc: RTCPeerConnection,
    /** The Peer's channel defaults. */
    private readonly defaults: ResolvedChannelOptions,
    /** Told of every arrival on any channel, pings included. */
    private readonly heard: () => void,
  ) {}

  /**
   * The default channel. Both sides create it out of band with the same id, so it exists from the
   * first offer and never races an in-band announcement. Always reliable, ordered and framed.
   */
  createDefault(): Channel {
    const { maxRetransmits: _retransmits, maxPacketLifeTime: _lifetime, ...reliable } = this.defaults;
    return this.create('peerkit', { ...reliable, ordered: true, raw: false, id: 0 });
  }

  /** @throws PeerKitError `BAD_ARGUMENT` when the browser refuses the options */
  create(label: string, options: ResolvedChannelOptions): Channel {
    const init: RTCDataChannelInit = { ordered: options.ordered, protocol: options.raw ? options.protocol : FRAMED_PROTOCOL };
    if (options.maxRetransmits !== undefined) init.maxRetransmits = options.maxRetransmits;
    if (options.maxPacketLifeTime !== undefined) init.maxPacketLifeTime = options.maxPacketLifeTime;
    if (options.id !== undefined) Object.assign(init, { negotiated: true, id: options.id });
    return this.adopt(refusable(() => this.pc.createDataChannel(label, init)), options);
  }

  /** Wraps a channel the remote opened; its protocol string says whether it is framed. */
  adoptRemote(dc: RTCDataChannel): Channel {
    return this.adopt(dc, { ...this.defaults, raw: dc.protocol !== FRAMED_PROTOCOL });
  }

  /** Closes every channel (see {@link Channel.close}). */
  closeAll(): Promise<void> {
    return Promise.all([...this.open].map((channel) => channel.close())).then(() => undefined);
  }

  private adopt(dc: RTCDataChannel, options: ResolvedChannelOptions): Channel {
    const channel = new Channel(dc, options, () => this.pc.sctp?.maxMessageSize, this.heard);
    this.open.add(channel);
    channel.once('close', () => this.open.delete(channel));
    return channel;
  }
}
