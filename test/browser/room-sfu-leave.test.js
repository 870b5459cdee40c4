// Rooms with media: 'sfu' against a real Janus (test/janus-plugin.mjs): the play of a member that
// drops off the signaling server stops as soon as presence says so, and a member that publishes
// nothing is no error to the others.
import { expect } from 'chai';
import { Room } from '../../dist/index.js';
import { canvasTrack, roomName, sleep, until } from './helpers.js';
import { janusSuite, transport } from './room-sfu-support.js';

describe('Room with media: "sfu": members that leave or publish nothing (real Janus)', function () {
  this.timeout(120000);
  const { rooms, tracks } = janusSuite();

  async function join(name, options = {}) {
    const { room: roomOptions, ...transportOptions } = options;
    const room = await Room.join(name, { transport: transport(transportOptions), media: 'sfu', iceServers: [], ...roomOptions });
    rooms.push(room);
    return room;
  }

  it('a member that vanishes from signaling (its Peer still up) stops being played at once, not after the stall watchdog', async () => {
    const sockets = [];
    // The first socket is kept so the test can drop it; every later one goes nowhere, so the member cannot come back.
    class OneWebSocket extends WebSocket {
      constructor(url) {
        super(sockets.length === 0 ? url : 'ws://127.0.0.1:9');
        sockets.push(this);
      }
    }
    const name = roomName();
    const members = [];
    for (const color of ['teal', 'gold', 'tomato']) {
      const track = canvasTrack(color);
      tracks.push(track);
      const options = { room: { stream: new MediaStream([track]) } };
      members.push(await join(name, color === 'tomato' ? { ...options, WebSocket: OneWebSocket } : options));
    }
    const [a, b, gone] = members;
    const goneId = gone.selfId;
    await until('both play the member that will vanish', () => [a, b].every((room) => room.sfuSessions().plays.get(goneId)?.state === 'connected'), 30000, 50);
    const views = [a, b].map((room) => room.sfuSessions().plays.get(goneId));
    const began = Date.now();
    sockets[0].close();
    await until('its plays closed', () => views.every((view) => view.state === 'closed'), 10000, 20);
    const stopped = Date.now() - began;
    console.log(`[room-sfu-leave] plays of a member that dropped off signaling closed ${stopped} ms after its socket closed`);
    // The stall watchdog alone would have taken 6 s; its Peer is still up (within its rejoin grace).
    expect(stopped).to.be.below(3000);
    expect([a, b].every((room) => room.peers.has(goneId))).to.equal(true);
  });

  it('a member that publishes nothing is played quietly: no error and no media event about it', async () => {
    const name = roomName();
    const track = canvasTrack('navy');
    tracks.push(track);
    const a = await join(name, { room: { stream: new MediaStream([track]) } });
    const events = [];
    a.on('error', (error, from) => events.push(`error ${error.code} ${from}`));
    a.on('media', (state, id) => events.push(`media ${state} ${id}`));
    const silent = await join(name);
    await until('the silent member sees a', () => silent.sfuSessions().plays.get(a.selfId)?.state === 'connected', 30000, 50);
    // One play() call polls a missing feed for 60 s; the next one starts quietly.
    await sleep(65000);
    expect(events.filter((event) => event.endsWith(silent.selfId))).to.deep.equal([]);
    expect(a.sfuSessions().plays.has(silent.selfId)).to.equal(false);
  });
});
