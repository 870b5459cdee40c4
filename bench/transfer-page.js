// Runs inside the transfer bench page: the raw channel floor and sendFile() over the same
// loopback, each with its own connections. transfer.mjs calls these through evaluate().
import { makeFile } from './transfer-file.js';

{
  const { Peer, createTransfers } = window.PeerKit;
  const MiB = 1 << 20;
  let file;

  /** The bench's File, made once per size. */
  function source(total) {
    if (file?.size !== total) file = makeFile(total, 'bench.bin', 1);
    return file;
  }

  const heap = () => performance.memory?.usedJSHeapSize;

  function pair() {
    const peers = [new Peer(), new Peer()];
    for (const [from, to] of [peers, [...peers].reverse()]) from.on('signal', (m) => to.signal(m));
    return peers;
  }

  /** The floor: a plain RTCDataChannel, 256 KiB sends under a 1 MiB high-water mark, reading the same File. */
  async function raw(total) {
    const a = new RTCPeerConnection({ iceServers: [] });
    const b = new RTCPeerConnection({ iceServers: [] });
    a.onicecandidate = ({ candidate }) => candidate && b.addIceCandidate(candidate).catch(() => {});
    b.onicecandidate = ({ candidate }) => candidate && a.addIceCandidate(candidate).catch(() => {});
    const dc = a.createDataChannel('bulk');
    const got = new Promise((resolve) => {
      b.ondatachannel = ({ channel }) => {
        channel.binaryType = 'arraybuffer';
        let count = 0;
        channel.onmessage = ({ data }) => (count += data.byteLength) >= total && resolve();
      };
    });
    await a.setLocalDescription();
    await b.setRemoteDescription(a.localDescription);
    await b.setLocalDescription();
    await a.setRemoteDescription(b.localDescription);
    if (dc.readyState !== 'open') await new Promise((r) => (dc.onopen = r));
    dc.bufferedAmountLowThreshold = 256 << 10;
    const blob = source(total);
    const t0 = performance.now();
    for (let offset = 0; offset < total; offset += MiB) {
      const slice = new Uint8Array(await blob.slice(offset, offset + MiB).arrayBuffer());
      for (let at = 0; at < slice.byteLength; at += 256 << 10) {
        if (dc.bufferedAmount > MiB) await new Promise((r) => (dc.onbufferedamountlow = r));
        dc.send(slice.subarray(at, at + (256 << 10)));
      }
    }
    await got;
    const ms = performance.now() - t0;
    a.close();
    b.close();
    return { ms };
  }

  /** sendFile() from one Peer to another, until `done` (the receiver verified the whole file). */
  async function transfer(total, opfs) {
    const [a, b] = pair();
    const sender = createTransfers(a);
    const receiver = createTransfers(b, { opfs });
    await Promise.all([a.connected, b.connected]);
    const blob = source(total);
    globalThis.gc?.();
    const before = heap();
    let peak = before ?? 0;
    const timer = setInterval(() => (peak = Math.max(peak, heap() ?? 0)), 20);
    let received;
    receiver.on('transfer', (incoming) => (received = incoming.accept()));
    const t0 = performance.now();
    const t = sender.sendFile(blob);
    await t.done;
    const ms = performance.now() - t0;
    clearInterval(timer);
    const got = await received;
    if (got.size !== total) throw new Error(`received ${got.size} of ${total} bytes`);
    await Promise.all([a.close(), b.close()]);
    const root = await navigator.storage.getDirectory();
    await root.removeEntry('peerkit-transfers', { recursive: true }).catch(() => {});
    return { ms, heapGrowth: before === undefined ? null : peak - before };
  }

  window.bench = { raw, transfer };
}
