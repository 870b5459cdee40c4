import { Channel, FRAMED_PROTOCOL } from '../data/channel.js';
import type { ResolvedChannelOptions } from '../data/channel.js';
import { refusable } from './senders.js';

/** The data channels of one Peer, as {@link channelsOf} keeps them. */
export interface Channels {
  /**
   * The default channel. Both sides create it out of band with the same id, so it exists from the
   * first offer and never races an in-band announcement. Always reliable, ordered and framed.
   */
  createDefault(): Channel;
  /** @throws PeerKitError `BAD_ARGUMENT` when the browser refuses the options */
  create(label: string, options: ResolvedChannelOptions): Channel;
  /** Wraps a channel the remote opened; its protocol string says whether it is framed. */
  adoptRemote(dc: RTCDataChannel): Channel;
  /** Closes every channel (see {@link Channel.close}). */
  closeAll(): Promise<void>;
}

/**
 * The data channels of one Peer: opening them with the options turned into RTCDataChannelInit,
 * adopting the ones the remote opened, and closing them all.
 *
 * @param defaults - the Peer's channel defaults
 * @param heard - told of every arrival on any channel, pings included (again, with `true`)
 */
export function channelsOf(pc: RTCPeerConnection, defaults: ResolvedChannelOptions, heard: (ping?: true) => void): Channels {
  const open = new Set<Channel>();
  const adopt = (dc: RTCDataChannel, options: ResolvedChannelOptions): Channel => {
    const channel = new Channel(dc, options, () => pc.sctp?.maxMessageSize, heard);
    open.add(channel);
    channel.once('close', () => open.delete(channel));
    return channel;
  };
  const create = (label: string, options: ResolvedChannelOptions): Channel => {
    const init: RTCDataChannelInit = { ordered: options.ordered, protocol: options.raw ? options.protocol : FRAMED_PROTOCOL };
    if (options.maxRetransmits !== undefined) init.maxRetransmits = options.maxRetransmits;
    if (options.maxPacketLifeTime !== undefined) init.maxPacketLifeTime = options.maxPacketLifeTime;
    if (options.id !== undefined) Object.assign(init, { negotiated: true, id: options.id });
    return adopt(refusable(() => pc.createDataChannel(label, init)), options);
  };
  return {
    createDefault() {
      const { maxRetransmits: _retransmits, maxPacketLifeTime: _lifetime, ...reliable } = defaults;
      return create('peerkit', { ...reliable, ordered: true, raw: false, id: 0 });
    },
    create,
    adoptRemote: (dc) => adopt(dc, { ...defaults, raw: dc.protocol !== FRAMED_PROTOCOL }),
    closeAll: () => Promise.all([...open].map((channel) => channel.close())).then(() => undefined),
  };
}
