// NostrTransport against relays of @nostr-relay/core that the test runner starts
// (test/broker-plugin.mjs): Rooms with a secret over two relays, one relay killed mid-join,
// relays that refuse (rate limits, NIP-42 AUTH), and what a relay gets to see.
import { expect } from 'chai';
import { executeServerCommand } from '@web/test-runner-commands';
import { Room } from '../../dist/index.js';
import { NostrTransport } from '../../dist/signaling/transports/nostr.js';
import { NOSTR_AUTH_RELAY, NOSTR_REFUSING_RELAY, NOSTR_RELAYS } from '/__peerkit/brokers.js';
import { meshOf, outageKeepsPeers, received, sealedRoomOfThree, until, within } from './helpers.js';

const roomName = () => `nostr-room-${Math.random().toString(36).slice(2)}`;
const SECRET = 'correct horse battery staple';

/** A plain subscription to every peerkit event on a relay: what anyone connected to it can read. */
async function eavesdrop(url) {
  const socket = new WebSocket(url);
  await new Promise((resolve) => (socket.onopen = resolve));
  const seen = [];
  socket.onmessage = (message) => seen.push(message.data);
  socket.send(JSON.stringify(['REQ', 'spy', { kinds: [20172] }]));
  return { seen, end: async () => socket.close() };
}

/** Collects the `error` events of a transport. */
function errorsOf(transport) {
  const errors = [];
  transport.on('error', (error) => errors.push(error));
  return errors;
}

describe('NostrTransport against @nostr-relay/core relays', () => {
  it('three Rooms with a secret meet over two relays; a relay sees neither the room name nor a signal in clear', async () => {
    await sealedRoomOfThree(roomName(), () => new NostrTransport({ relays: NOSTR_RELAYS }), await eavesdrop(NOSTR_RELAYS[0]));
  });

  it('one of two relays is killed mid-join: the room forms through the other, the loss is reported, and data flows', async () => {
    const name = roomName();
    const transports = [0, 1, 2].map(() => new NostrTransport({ relays: NOSTR_RELAYS, minDelayMs: 100, maxDelayMs: 400 }));
    const errors = transports.map(errorsOf);
    const rooms = [];
    try {
      rooms.push(await Room.join(name, { transport: transports[0], secret: SECRET }));
      const second = Room.join(name, { transport: transports[1], secret: SECRET });
      await executeServerCommand('broker', { server: 'relay0', action: 'kill' });
      rooms.push(await second);
      rooms.push(await Room.join(name, { transport: transports[2], secret: SECRET }));
      await meshOf(rooms);
      const boxes = rooms.map(received);
      await rooms[2].send('through the relay still up');
      await until('data to both others', () => boxes[0].length === 1 && boxes[1].length === 1);
      expect(transports.every((t) => t.state === 'joined')).to.equal(true);
      const down = errors[0].find((error) => error.message.includes(NOSTR_RELAYS[0]));
      expect(down?.code).to.equal('TRANSPORT_ERROR');
    } finally {
      await Promise.all(rooms.map((room) => room.leave()));
      await executeServerCommand('broker', { server: 'relay0', action: 'start' });
    }
  });

  it('both relays are killed and restarted mid-call: data keeps flowing, and the members re-join under new keys with the same Peers', async () => {
    const name = roomName();
    const open = () => Room.join(name, { transport: new NostrTransport({ relays: NOSTR_RELAYS, minDelayMs: 100, maxDelayMs: 400 }), secret: SECRET });
    const rooms = [await open(), await open(), await open()];
    const each = (action) => async () => {
      for (const server of ['relay0', 'relay1']) await executeServerCommand('broker', { server, action });
    };
    try {
      await outageKeepsPeers(rooms, { stop: each('kill'), start: each('start') });
    } finally {
      await Promise.all(rooms.map((room) => room.leave()));
      await each('start')();
    }
  });

  it('a relay that rate-limits every event is reported and skipped while another works; one that demands NIP-42 AUTH is served after AUTH', async () => {
    const name = roomName();
    const make = (relays) => new NostrTransport({ relays });
    const a = make([NOSTR_REFUSING_RELAY, NOSTR_RELAYS[1]]);
    const b = make([NOSTR_REFUSING_RELAY, NOSTR_RELAYS[1]]);
    const errors = errorsOf(a);
    try {
      const { selfId: aId } = await a.join(name);
      const { members } = await b.join(name);
      expect(members).to.deep.equal([aId]);
      const limited = errors.find((error) => error.code === 'RATE_LIMITED');
      expect(limited?.message).to.include(NOSTR_REFUSING_RELAY).and.include('rate-limited');
      const got = new Promise((resolve) => a.once('message', (from, payload) => resolve([from, payload])));
      b.send(aId, { x: 1 });
      expect((await within(5000, got, 'a payload'))[1]).to.deep.equal({ x: 1 });
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
    const c = make([NOSTR_AUTH_RELAY]);
    const d = make([NOSTR_AUTH_RELAY]);
    try {
      const { selfId: cId } = await c.join(name);
      expect((await d.join(name)).members).to.deep.equal([cId]);
    } finally {
      await Promise.all([c.close(), d.close()]);
    }
    const refused = new NostrTransport({ relays: [NOSTR_AUTH_RELAY], auth: false });
    const error = await refused.join(name).catch((e) => e);
    expect(error.code).to.equal('TRANSPORT_ERROR');
    expect(error.message).to.include('refused');
  });
});
