// Runs inside the bench page. Each function builds its own connections and closes them, so runs
// are independent; run.mjs calls them through page.evaluate and does the statistics.
'use strict';
(() => {
  const { Peer, Room, MemoryHub, MemoryTransport } = window.PeerKit;
  const { SimplePeer } = window;
  let payload;
  /** The three connected pairs the round-trip bench alternates between, by name. */
  let pairs;

  function deferred() {
    let resolve;
    const promise = new Promise((r) => (resolve = r));
    return { promise, resolve };
  }

  /**
   * The floor: offer/answer applied directly and every candidate handed over as it is gathered,
   * held back only until the description it belongs to is in place (addIceCandidate refuses
   * candidates that arrive before it).
   */
  async function rawConnect(a, b) {
    const offerApplied = deferred();
    const answerApplied = deferred();
    a.onicecandidate = ({ candidate }) => candidate && offerApplied.promise.then(() => b.addIceCandidate(candidate));
    b.onicecandidate = ({ candidate }) => candidate && answerApplied.promise.then(() => a.addIceCandidate(candidate));
    await a.setLocalDescription();
    await b.setRemoteDescription(a.localDescription);
    offerApplied.resolve();
    await b.setLocalDescription();
    await a.setRemoteDescription(b.localDescription);
    answerApplied.resolve();
  }

  function peerPair() {
    const a = new Peer();
    const b = new Peer();
    a.on('signal', (m) => b.signal(m));
    b.on('signal', (m) => a.signal(m));
    return [a, b];
  }

  /** simple-peer with no STUN server (its default is a public one), wired back to back. */
  async function simplePair() {
    const a = new SimplePeer({ initiator: true, config: { iceServers: [] } });
    const b = new SimplePeer({ config: { iceServers: [] } });
    a.on('signal', (m) => b.signal(m));
    b.on('signal', (m) => a.signal(m));
    await Promise.all([a, b].map((p) => new Promise((resolve) => p.once('connect', resolve))));
    return [a, b];
  }

  const opened = (dc) => (dc.readyState === 'open' ? Promise.resolve() : new Promise((r) => dc.addEventListener('open', r, { once: true })));

  function bytes(total) {
    if (payload?.byteLength !== total) {
      payload = new Uint8Array(total);
      for (let i = 0; i < total; i += 4096) payload[i] = i >>> 12;
    }
    return payload;
  }

  function heap() {
    return performance.memory?.usedJSHeapSize ?? 0;
  }

  async function rawTtfm() {
    const t0 = performance.now();
    const a = new RTCPeerConnection({ iceServers: [] });
    const b = new RTCPeerConnection({ iceServers: [] });
    const got = new Promise((resolve) => (b.ondatachannel = ({ channel }) => (channel.onmessage = resolve)));
    const dc = a.createDataChannel('ttfm');
    dc.onopen = () => dc.send('hello');
    await rawConnect(a, b);
    await got;
    const ms = performance.now() - t0;
    a.close();
    b.close();
    return ms;
  }

  async function peerkitTtfm() {
    const t0 = performance.now();
    const [a, b] = peerPair();
    const got = new Promise((resolve) => b.once('data', resolve));
    void a.send('hello');
    await got;
    const ms = performance.now() - t0;
    await Promise.all([a.close(), b.close()]);
    return ms;
  }

  /**
   * Hands `data` to `put` in `chunk`-byte pieces (`put` returns a promise when the sender must
   * wait before the next piece) and waits for `got`: the time from first piece to arrival, and
   * the largest `buffered()` seen after a piece.
   */
  async function sendInChunks(data, chunk, put, buffered, got) {
    let maxBuffered = 0;
    const t0 = performance.now();
    for (let offset = 0; offset < data.byteLength; offset += chunk) {
      const wait = put(data.subarray(offset, offset + chunk));
      if (wait) await wait;
      maxBuffered = Math.max(maxBuffered, buffered());
    }
    await got;
    return { ms: performance.now() - t0, maxBuffered };
  }

  /** A raw sender in the usual shape: send chunks while bufferedAmount is under `high`, then wait for `bufferedamountlow`. */
  async function rawBulk(total, chunk, low, high) {
    const a = new RTCPeerConnection({ iceServers: [] });
    const b = new RTCPeerConnection({ iceServers: [] });
    const dc = a.createDataChannel('bulk');
    const got = new Promise((resolve) => {
      b.ondatachannel = ({ channel }) => {
        channel.binaryType = 'arraybuffer';
        let count = 0;
        channel.onmessage = ({ data }) => (count += data.byteLength) >= total && resolve();
      };
    });
    await rawConnect(a, b);
    await opened(dc);
    dc.bufferedAmountLowThreshold = low;
    const put = (piece) => {
      if (dc.bufferedAmount <= high) return dc.send(piece);
      return new Promise((resolve) => (dc.onbufferedamountlow = resolve)).then(() => dc.send(piece));
    };
    const result = await sendInChunks(bytes(total), chunk, put, () => dc.bufferedAmount, got);
    a.close();
    b.close();
    return result;
  }

  async function peerkitBulk(total, channelOptions) {
    const [a, b] = peerPair();
    await Promise.all([a.connected, b.connected]);
    const remote = new Promise((resolve) => b.once('channel', resolve));
    const channel = a.channel('bulk', channelOptions);
    const receiver = await remote;
    if (channel.state !== 'open') await new Promise((resolve) => channel.once('open', resolve));
    const got = new Promise((resolve) => receiver.once('message', resolve));
    const data = bytes(total);
    let maxBuffered = 0;
    const heapBefore = heap();
    let heapPeak = heapBefore;
    channel.on('progress', () => {
      maxBuffered = Math.max(maxBuffered, channel.bufferedAmount);
      heapPeak = Math.max(heapPeak, heap());
    });
    const t0 = performance.now();
    await channel.send(data);
    const message = await got;
    const ms = performance.now() - t0;
    await Promise.all([a.close(), b.close()]);
    if (message.byteLength !== total) throw new Error(`received ${message.byteLength} bytes of ${total}`);
    return { ms, maxBuffered, heapGrowth: heapPeak - heapBefore };
  }

  /**
   * One connected pair of each kind, every one echoing at b: a plain RTCDataChannel, peerkit's
   * default channel (peer.send), and simple-peer. Each entry sends from a; a's one listener,
   * attached here, calls the entry's `reply`.
   */
  async function rttOpen() {
    const raw = [new RTCPeerConnection({ iceServers: [] }), new RTCPeerConnection({ iceServers: [] })];
    const dc = raw[0].createDataChannel('rtt');
    dc.binaryType = 'arraybuffer';
    raw[1].ondatachannel = ({ channel }) => {
      channel.binaryType = 'arraybuffer';
      channel.onmessage = ({ data }) => channel.send(data);
    };
    await rawConnect(raw[0], raw[1]);
    await opened(dc);
    const peerkit = peerPair();
    await Promise.all(peerkit.map((p) => p.connected));
    peerkit[1].on('data', (data) => void peerkit[1].send(data));
    const simple = await simplePair();
    simple[1].on('data', (data) => simple[1].send(data));
    dc.onmessage = () => pairs.raw.reply();
    peerkit[0].on('data', () => pairs.peerkit.reply());
    simple[0].on('data', () => pairs['simple-peer'].reply());
    pairs = {
      raw: { send: (m) => dc.send(m), close: () => raw.forEach((pc) => pc.close()) },
      peerkit: { send: (m) => void peerkit[0].send(m), close: () => Promise.all(peerkit.map((p) => p.close())) },
      'simple-peer': { send: (m) => simple[0].send(m), close: () => simple.forEach((p) => p.destroy()) },
    };
  }

  /** One 16-byte round trip on one pair; its time in ms. */
  function roundTrip(pair, message) {
    return new Promise((resolve) => {
      const t0 = performance.now();
      pair.reply = () => resolve(performance.now() - t0);
      pair.send(message);
    });
  }

  /**
   * `count` rounds of one round trip on each pair in turn (the first one rotating), so that
   * whatever else the machine is doing falls on every pair alike; the times of each, in ms.
   */
  async function rttRun(kinds, count) {
    const message = new Uint8Array(16);
    const times = Object.fromEntries(kinds.map((kind) => [kind, []]));
    for (let i = 0; i < count; i++) {
      for (let k = 0; k < kinds.length; k++) {
        const kind = kinds[(i + k) % kinds.length];
        times[kind].push(await roundTrip(pairs[kind], message));
      }
    }
    return times;
  }

  async function rttClose() {
    await Promise.all(Object.values(pairs).map((pair) => pair.close()));
    pairs = undefined;
  }

  /** simple-peer's own backpressure: write() until it says to wait, then wait for 'drain'. */
  async function simplePeerBulk(total, chunk) {
    const [a, b] = await simplePair();
    const got = new Promise((resolve) => {
      let count = 0;
      b.on('data', (data) => (count += data.byteLength) >= total && resolve());
    });
    const put = (piece) => (a.write(piece) ? undefined : new Promise((resolve) => a.once('drain', resolve)));
    const result = await sendInChunks(bytes(total), chunk, put, () => a.bufferSize, got);
    a.destroy();
    b.destroy();
    return result;
  }

  /** How finely this page's clock ticks, in ms (browsers coarsen it outside cross-origin isolation). */
  function clockStep() {
    let step = Infinity;
    for (let i = 0; i < 1000; i++) {
      const t0 = performance.now();
      let t1 = t0;
      while (t1 === t0) t1 = performance.now();
      step = Math.min(step, t1 - t0);
    }
    return step;
  }

  /** The floor for a mesh of n: every pair hand-wired at once, done when every channel is open at both ends. */
  async function rawMesh(n) {
    const t0 = performance.now();
    const pcs = [];
    const opens = [];
    for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) {
        const a = new RTCPeerConnection({ iceServers: [] });
        const b = new RTCPeerConnection({ iceServers: [] });
        pcs.push(a, b);
        const dc = a.createDataChannel('mesh', { negotiated: true, id: 0 });
        const dcb = b.createDataChannel('mesh', { negotiated: true, id: 0 });
        opens.push(opened(dc), opened(dcb), rawConnect(a, b));
      }
    }
    await Promise.all(opens);
    const ms = performance.now() - t0;
    for (const pc of pcs) pc.close();
    return ms;
  }

  /** n Rooms in this page over one MemoryHub, done when every member has a connected Peer to every other. */
  async function roomMesh(n) {
    const t0 = performance.now();
    const hub = new MemoryHub();
    const name = `mesh-${Math.random()}`;
    const rooms = await Promise.all(Array.from({ length: n }, () => Room.join(name, { transport: new MemoryTransport(hub) })));
    const full = () => rooms.every((room) => room.peers.size === n - 1 && [...room.peers.values()].every((peer) => peer.state === 'connected'));
    await new Promise((resolve) => {
      const check = () => full() && resolve();
      for (const room of rooms) {
        room.on('member', (peer) => peer.once('connect', check));
        for (const peer of room.peers.values()) peer.once('connect', check);
      }
      check();
    });
    const ms = performance.now() - t0;
    await Promise.all(rooms.map((room) => room.leave()));
    return ms;
  }

  window.bench = { rawTtfm, peerkitTtfm, rawBulk, peerkitBulk, simplePeerBulk, rawMesh, roomMesh, rttOpen, rttRun, rttClose, clockStep };
})();
