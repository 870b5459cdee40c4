// The page side of bench/sfu.mjs: N video members (320x240 canvases) in one page, each a real
// peerkit Room over a WebSocketTransport to peerkit-signal, with `media: 'mesh'` (one connection
// per pair, carrying media and data) or `media: 'sfu'` (each member publishes once by WHIP and
// plays the others by WHEP through Janus; the pairs carry data only). Node reads upload rates and
// join times from here.
'use strict';
(() => {
  const { Room, WebSocketTransport } = PeerKit;
  let members = [];

  function canvasTrack(hue) {
    const canvas = document.createElement('canvas');
    canvas.width = 320;
    canvas.height = 240;
    const ctx = canvas.getContext('2d');
    let frame = 0;
    const timer = setInterval(() => {
      ctx.fillStyle = `hsl(${(hue + frame) % 360}, 60%, 50%)`;
      ctx.fillRect(0, 0, 320, 240);
      ctx.fillStyle = 'white';
      ctx.fillRect((frame * 7) % 300, 100, 20, 20);
      frame++;
    }, 33);
    const track = canvas.captureStream(30).getVideoTracks()[0];
    track.addEventListener('ended', () => clearInterval(timer));
    return { track, stop: () => (clearInterval(timer), track.stop()) };
  }

  /** What a member receives video on: its Peers' connections (mesh), or its plays (SFU). */
  const down = (room) => (room.media === 'sfu' ? [...(room.sfuSessions()?.plays.values() ?? [])] : [...room.peers.values()].map((peer) => peer.connection));
  /** What a member sends video on: its Peers' connections (mesh), or its publish (SFU). */
  const up = (room) => (room.media === 'sfu' ? [room.sfuSessions()?.publish].filter(Boolean) : [...room.peers.values()].map((peer) => peer.connection));

  async function sum(sources, type, field) {
    let total = 0;
    for (const source of sources) {
      (await source.getStats()).forEach((r) => {
        if (r.type === type && r.kind === 'video') total += r[field] || 0;
      });
    }
    return total;
  }

  /** Resolves once `room` decodes video from each of the `expected` others. */
  async function decodingAll(room, expected) {
    for (;;) {
      const sources = down(room);
      let decoding = 0;
      for (const source of sources) if ((await sum([source], 'inbound-rtp', 'framesDecoded')) > 0) decoding++;
      if (decoding >= expected) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async function join(index, url, name, media) {
    const camera = canvasTrack(index * 60);
    const room = await Room.join(name, { transport: new WebSocketTransport(url), stream: new MediaStream([camera.track]), media, iceServers: [] });
    members.push({ room, camera });
    return room;
  }

  window.sfu = {
    /** Builds a room of `n` Rooms with `media`; the last one's join is timed until it decodes all the others. */
    async build(n, url, name, media) {
      for (let i = 0; i < n - 1; i++) await join(i, url, name, media);
      for (const { room } of members) await decodingAll(room, members.length - 1);
      const started = performance.now();
      const last = await join(n - 1, url, name, media);
      await decodingAll(last, n - 1);
      const joinMs = performance.now() - started;
      // Everyone decodes everyone before measuring.
      for (const { room } of members) await decodingAll(room, n - 1);
      return joinMs;
    },
    /** Each member's upload over `ms`, in kbit/s (video bytes sent, RTP headers included). */
    async upload(ms) {
      const before = await Promise.all(members.map(({ room }) => sum(up(room), 'outbound-rtp', 'bytesSent')));
      await new Promise((resolve) => setTimeout(resolve, ms));
      const after = await Promise.all(members.map(({ room }) => sum(up(room), 'outbound-rtp', 'bytesSent')));
      return after.map((bytes, i) => ((bytes - before[i]) * 8) / ms);
    },
    async teardown() {
      await Promise.all(members.map(({ room }) => room.leave()));
      for (const { camera } of members) camera.stop();
      members = [];
    },
  };
})();
