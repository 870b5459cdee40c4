// A load generator of bench/load.mjs, in its own process (forked with an IPC channel). It opens
// one WebSocket per member of its share of the pairs, pairs them in rooms, then has them signal
// their partner at a fixed rate and measures each relay from send to receipt (both members of a
// pair are in the same process, so one clock serves both).
import { WebSocket } from 'ws';
import { sleep } from '../test/support/wait.mjs';

// An ICE candidate of the size browsers trickle, plus the send time.
const CANDIDATE =
  '"candidate":{"candidate":"candidate:842163049 1 udp 1677729535 198.51.100.7 49999 typ srflx raddr 10.0.0.2 rport 49999 generation 0 ufrag 7NfM network-id 1 network-cost 10","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"7NfM"}';

/** Runs `task(i)` for i in 0..count-1, at most `limit` at a time. */
async function pool(count, limit, task) {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < count) await task(next++);
    }),
  );
}

let members = [];
let measuring = false;
let latencies = [];
let received = 0;

/** A WebSocket that resolves the next control frame a member waits for, and times relayed signals. */
function open(url, signalStart) {
  return new Promise((resolve, reject) => {
    // rejectUnauthorized: the nginx target's certificate is self-signed, made for the run.
    const ws = new WebSocket(url, { perMessageDeflate: false, skipUTF8Validation: true, rejectUnauthorized: false });
    const member = { ws, waiters: [], frames: [], id: '', partner: '', prefix: '' };
    ws.on('message', (data) => {
      const text = data.toString();
      // Relayed signals are most of the traffic: their send time is read without parsing them.
      if (text.startsWith(signalStart)) {
        received += 1;
        if (measuring) {
          const at = text.lastIndexOf('"t":');
          latencies.push(performance.now() - Number(text.slice(at + 4, text.indexOf('}', at))));
        }
        return;
      }
      const frame = JSON.parse(text);
      const waiter = member.waiters.shift();
      if (waiter) waiter(frame);
      else member.frames.push(frame);
    });
    ws.once('open', () => resolve(member));
    ws.once('error', reject);
  });
}

const nextFrame = (member) =>
  member.frames.length > 0 ? Promise.resolve(member.frames.shift()) : new Promise((resolve) => member.waiters.push(resolve));

// How each server's relayed signal frame begins (the servers write their fields in this order).
const PEERKIT_SIGNAL = '{"v":1,"type":"signal"';
const PEERJS_SIGNAL = '{"type":"CANDIDATE"';

async function connectPeerkit({ urls, firstPair, pairs }) {
  members = new Array(pairs * 2);
  // The members of a pair join one after the other, so the second learns the first from `joined`.
  await pool(pairs, 64, async (k) => {
    const [a, b] = [2 * k, 2 * k + 1];
    const room = `room-${firstPair + k}`;
    for (const i of [a, b]) {
      // Each pair is split across the instances when there are several.
      const member = await open(urls[i % urls.length], PEERKIT_SIGNAL);
      member.ws.send(JSON.stringify({ v: 1, type: 'join', room }));
      const joined = await nextFrame(member);
      if (joined.type !== 'joined') throw new Error(`join refused: ${JSON.stringify(joined)}`);
      member.id = joined.id;
      members[i] = member;
    }
    const announced = await nextFrame(members[a]);
    if (announced.type !== 'member-joined') throw new Error(`expected member-joined, got ${JSON.stringify(announced)}`);
    members[a].partner = members[b].id;
    members[b].partner = members[a].id;
    for (const m of [members[a], members[b]]) m.prefix = `{"v":1,"type":"signal","to":"${m.partner}","payload":{"kind":"candidate",${CANDIDATE},"t":`;
  });
}

async function connectPeerjs({ urls, firstPair, pairs }) {
  const run = Math.random().toString(36).slice(2, 8);
  members = new Array(pairs * 2);
  await pool(pairs * 2, 64, async (i) => {
    const id = `m${2 * firstPair + i}-${run}`;
    const member = await open(`${urls[0]}/peerjs?key=peerjs&id=${id}&token=t${i}`, PEERJS_SIGNAL);
    const opened = await nextFrame(member);
    if (opened.type !== 'OPEN') throw new Error(`PeerJS refused: ${JSON.stringify(opened)}`);
    member.id = id;
    member.partner = `m${2 * firstPair + (i ^ 1)}-${run}`;
    member.prefix = `{"type":"CANDIDATE","dst":"${member.partner}","payload":{"kind":"candidate",${CANDIDATE},"t":`;
    members[i] = member;
  });
}

/** Sends `rate` signals per second in total, round-robin over the members, for `seconds`. */
async function run({ rate, seconds, warmupSeconds }) {
  latencies = [];
  received = 0;
  let sent = 0;
  let cursor = 0;
  const cpuAtStart = process.cpuUsage();
  const started = performance.now();
  let measuredFrom = 0;
  let receivedAtWindowStart = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    if (!measuring && now - started >= warmupSeconds * 1000) {
      measuring = true;
      measuredFrom = now;
      receivedAtWindowStart = received;
    }
    const due = Math.floor(((now - started) / 1000) * rate) - sent;
    for (let k = 0; k < due; k++) {
      const member = members[cursor];
      cursor = (cursor + 1) % members.length;
      member.ws.send(`${member.prefix}${performance.now()}}}`);
    }
    sent += Math.max(0, due);
  }, 2);
  await sleep((warmupSeconds + seconds) * 1000);
  clearInterval(timer);
  const windowMs = performance.now() - measuredFrom;
  const inWindow = received - receivedAtWindowStart;
  // In-flight signals still count toward latency: a slow relay must not be hidden by stopping.
  const deadline = performance.now() + 3000;
  while (received < sent && performance.now() < deadline) await sleep(20);
  measuring = false;
  const cpu = process.cpuUsage(cpuAtStart);
  return {
    sent,
    received,
    late: sent - received,
    achieved: (inWindow / windowMs) * 1000,
    latencies,
    cores: (cpu.user + cpu.system) / 1000 / (performance.now() - started),
  };
}

process.on('message', async (message) => {
  try {
    if (message.type === 'connect') {
      const started = performance.now();
      await (message.kind === 'peerjs' ? connectPeerjs(message) : connectPeerkit(message));
      process.send({ type: 'connected', ms: performance.now() - started });
    } else if (message.type === 'run') {
      process.send({ type: 'result', ...(await run(message)) });
    } else if (message.type === 'close') {
      for (const member of members) member?.ws.terminate();
      process.exit(0);
    }
  } catch (error) {
    process.send({ type: 'failed', message: String(error?.stack ?? error) });
  }
});
