// The page side of bench/e2ee.mjs: one member of an SFU Room with a secret, sending (a 640x480
// 30 fps canvas with the send time painted in it, plus the browser's fake microphone) or receiving (reading that
// time back from each decoded frame, for the end-to-end frame latency). Node drives it.
'use strict';
(() => {
  const WIDTH = 640;
  const HEIGHT = 480;
  /** The send time, in ms modulo 2^BITS, painted as BITS black or white squares of BLOCK px. */
  const BITS = 20;
  const BLOCK = 32;
  let room;
  let stop = () => {};
  const latencies = [];

  async function sender() {
    const canvas = Object.assign(document.createElement('canvas'), { width: WIDTH, height: HEIGHT });
    const g = canvas.getContext('2d');
    let frame = 0;
    const timer = setInterval(() => {
      // Moving content, so the encoder has work like a camera's, and the time stamp on top.
      g.fillStyle = `hsl(${frame % 360}, 60%, 50%)`;
      g.fillRect(0, 0, WIDTH, HEIGHT);
      g.fillStyle = 'white';
      g.fillRect((frame * 9) % (WIDTH - 80), 200, 80, 80);
      const now = Date.now() % 2 ** BITS;
      for (let i = 0; i < BITS; i++) {
        g.fillStyle = (now >> i) & 1 ? 'white' : 'black';
        g.fillRect(i * BLOCK, 0, BLOCK, BLOCK);
      }
      frame++;
    }, 1000 / 30);
    const video = canvas.captureStream(30).getVideoTracks()[0];
    // A fake device (the bench's browser flags): an AudioContext would stay suspended without a click.
    const [sound] = (await navigator.mediaDevices.getUserMedia({ audio: true })).getAudioTracks();
    stop = () => {
      clearInterval(timer);
      video.stop();
      sound.stop();
    };
    return new MediaStream([video, sound]);
  }

  /** Reads the painted send time back from every frame `track` shows. */
  function timeReader(track) {
    const video = Object.assign(document.createElement('video'), { muted: true, autoplay: true, srcObject: new MediaStream([track]) });
    const canvas = Object.assign(document.createElement('canvas'), { width: WIDTH, height: BLOCK });
    const g = canvas.getContext('2d', { willReadFrequently: true });
    const onFrame = () => {
      const received = Date.now() % 2 ** BITS;
      g.drawImage(video, 0, 0, WIDTH, HEIGHT);
      const row = g.getImageData(0, BLOCK / 2, WIDTH, 1).data;
      let sent = 0;
      for (let i = 0; i < BITS; i++) if (row[4 * (i * BLOCK + BLOCK / 2)] > 128) sent |= 1 << i;
      const latency = (received - sent + 2 ** BITS) % 2 ** BITS;
      // A frame whose squares did not survive the encoder reads as nonsense: not a latency.
      if (latency < 5000) latencies.push(latency);
      if (track.readyState === 'live') video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
    void video.play();
  }

  window.bench = {
    /** Joins as the sender (with media) or the receiver; `e2ee` as the Room option. */
    async join(url, name, sending, e2ee) {
      room = await PeerKit.Room.join(name, {
        transport: new PeerKit.WebSocketTransport(url),
        ...(sending ? { stream: await sender() } : {}),
        media: 'sfu',
        secret: 'bench secret',
        kdfIterations: 1000,
        e2ee,
        iceServers: [],
      });
      room.on('track', (track) => track.kind === 'video' && timeReader(track));
      return room.encryption.media;
    },
    /** Video frames decoded so far from every feed played. */
    async decoded() {
      let frames = 0;
      for (const view of room.sfuSessions().plays.values()) {
        (await view.getStats()).forEach((r) => {
          if (r.type === 'inbound-rtp' && r.kind === 'video') frames += r.framesDecoded || 0;
        });
      }
      return frames;
    },
    /** The size of the video decoded last, as `<width>x<height>`, and the audio packets received. */
    async received() {
      let size = 'nothing';
      let audio = 0;
      for (const view of room.sfuSessions().plays.values()) {
        (await view.getStats()).forEach((r) => {
          if (r.type === 'inbound-rtp' && r.kind === 'video' && r.frameWidth) size = `${r.frameWidth}x${r.frameHeight}`;
          if (r.type === 'inbound-rtp' && r.kind === 'audio') audio += r.packetsReceived || 0;
        });
      }
      return { size, audio };
    },
    /** Starts collecting latencies afresh. */
    resetLatency() {
      latencies.length = 0;
    },
    /** The median latency since the reset, and how many frames it is over. */
    latency() {
      const sorted = [...latencies].sort((a, b) => a - b);
      return { median: sorted[sorted.length >> 1] ?? NaN, frames: sorted.length };
    },
    async leave() {
      await room?.leave();
      stop();
    },
  };
})();
