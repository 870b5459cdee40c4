// A raw protocol client for the signaling server tests: it keeps every frame it receives until a
// test asks for it, so no frame is missed between two awaits.
import { once } from 'node:events';
import { WebSocket } from 'ws';

/** Connects to `url`; the socket is terminated when test `t` ends. */
export async function connect(t, url, wsOptions = {}) {
  const ws = new WebSocket(url, wsOptions);
  t.after(() => ws.terminate());
  const frames = [];
  const waiters = [];
  ws.on('message', (data) => {
    const frame = JSON.parse(data.toString());
    const i = waiters.findIndex((w) => w.type === undefined || w.type === frame.type);
    if (i === -1) frames.push(frame);
    else waiters.splice(i, 1)[0].resolve(frame);
  });
  const closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  await once(ws, 'open');
  return {
    ws,
    closed,
    frames,
    send(frame) {
      ws.send(typeof frame === 'string' || Buffer.isBuffer(frame) ? frame : JSON.stringify(frame));
    },
    next(type, timeoutMs = 2000) {
      const i = frames.findIndex((f) => type === undefined || f.type === type);
      if (i !== -1) return Promise.resolve(frames.splice(i, 1)[0]);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no "${type}" frame within ${timeoutMs} ms`)), timeoutMs);
        waiters.push({ type, resolve: (f) => (clearTimeout(timer), resolve(f)) });
      });
    },
  };
}

/** Connects and joins `room`; the client gets `id` and `joined`. */
export async function joinAs(t, url, room, extra = {}, wsOptions = {}) {
  const client = await connect(t, url, wsOptions);
  client.send({ v: 1, type: 'join', room, ...extra });
  const joined = await client.next('joined');
  return Object.assign(client, { id: joined.id, joined });
}
