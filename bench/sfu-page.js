// The page side of bench/sfu.mjs: N video members (320x240 canvases) in one page, either as a
// mesh of peerkit Peers (one connection per pair) or through the SFU (each member publishes once
// by WHIP and plays the others by WHEP). Node reads upload rates and join times from here.
'use strict';
(() => {
  const { Peer, publish, play } = PeerKit;
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

  async function sum(connections, type, field) {
    let total = 0;
    for (const pc of connections) {
      (await pc.getStats()).forEach((r) => {
        if (r.type === type && r.kind === 'video') total += r[field] || 0;
      });
    }
    return total;
  }

  /** Resolves once every inbound video of `connections` has decoded a frame; `expected` streams in all. */
  async function decodingAll(connections, expected) {
    for (;;) {
      let decoding = 0;
      for (const pc of connections) {
        (await pc.getStats()).forEach((r) => {
          if (r.type === 'inbound-rtp' && r.kind === 'video' && r.framesDecoded > 0) decoding++;
        });
      }
      if (decoding >= expected) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** One more member in the mesh: a Peer pair with each member already there. */
  async function joinMesh(index) {
    const me = { camera: canvasTrack(index * 60), up: [], down: [], sessions: [] };
    for (const other of members) {
      const mine = new Peer();
      const theirs = new Peer();
      mine.on('signal', (m) => theirs.signal(m));
      theirs.on('signal', (m) => mine.signal(m));
      mine.addTrack(me.camera.track, new MediaStream([me.camera.track]));
      theirs.addTrack(other.camera.track, new MediaStream([other.camera.track]));
      me.up.push(mine.connection);
      other.up.push(theirs.connection);
      me.sessions.push(mine);
      other.sessions.push(theirs);
    }
    members.push(me);
    return me;
  }

  async function joinSfu(index, base, room) {
    const me = { camera: canvasTrack(index * 60), up: [], down: [], sessions: [], name: `m${index}` };
    const pub = await publish(`${base}/whip/${room}/${me.name}`, new MediaStream([me.camera.track]));
    me.up.push(pub);
    me.sessions.push(pub);
    const views = await Promise.all(members.map((other) => play(`${base}/whep/${room}/${other.name}`, { timeoutMs: 20000 })));
    me.down.push(...views);
    me.sessions.push(...views);
    // The members already there play the newcomer.
    await Promise.all(
      members.map(async (other) => {
        const view = await play(`${base}/whep/${room}/${me.name}`, { timeoutMs: 20000 });
        other.down.push(view);
        other.sessions.push(view);
      }),
    );
    members.push(me);
    return me;
  }

  window.sfu = {
    /**
     * Builds a room of `n` members; the last one's join is timed until it decodes all the others.
     * `base` set: through the SFU; unset: a mesh.
     */
    async build(n, base, room) {
      for (let i = 0; i < n - 1; i++) await (base ? joinSfu(i, base, room) : joinMesh(i));
      const started = performance.now();
      const last = await (base ? joinSfu(n - 1, base, room) : joinMesh(n - 1));
      const receivers = base ? last.down : last.up;
      await decodingAll(receivers, n - 1);
      const joinMs = performance.now() - started;
      // Wait until everyone decodes everyone before measuring.
      for (const m of members) await decodingAll(base ? m.down : m.up, n - 1);
      return joinMs;
    },
    /** Each member's upload over `ms`, in kbit/s (video bytes sent, RTP headers included). */
    async upload(ms) {
      const before = await Promise.all(members.map((m) => sum(m.up, 'outbound-rtp', 'bytesSent')));
      await new Promise((resolve) => setTimeout(resolve, ms));
      const after = await Promise.all(members.map((m) => sum(m.up, 'outbound-rtp', 'bytesSent')));
      return after.map((bytes, i) => ((bytes - before[i]) * 8) / ms);
    },
    async teardown() {
      for (const m of members) {
        await Promise.all(m.sessions.map((s) => s.close()));
        m.camera.stop();
      }
      members = [];
    },
  };
})();
