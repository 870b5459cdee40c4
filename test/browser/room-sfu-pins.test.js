// A Room with media: 'sfu' on a server bridged to two Janus instances (test/janus-plugin.mjs's
// spares): the room is pinned to one; when that one dies for good, the members publish and play
// again by themselves, and the server pins the room to the live one.
import { expect } from 'chai';
import { Room, WebSocketTransport } from '../../dist/index.js';
import { canvasTrack, roomName } from './helpers.js';
import { everyoneDecodes, janus, janusSuite } from './room-sfu-support.js';

describe('Room with media: "sfu" across two Janus instances (real Janus)', function () {
  this.timeout(180000);
  const { rooms, tracks } = janusSuite();

  it('the Janus holding the room dies: every feed comes back through the other, room.send unaffected', async () => {
    const url = (await janus({ action: 'spares' })).replace(/^http/, 'ws');
    const name = roomName();
    for (const color of ['teal', 'gold', 'tomato']) {
      const track = canvasTrack(color);
      tracks.push(track);
      rooms.push(await Room.join(name, { transport: new WebSocketTransport(url), stream: new MediaStream([track]), media: 'sfu', iceServers: [] }));
    }
    // What each member's feeds went through since the kill, printed if they do not all come back.
    let began;
    const history = [];
    rooms.forEach((room, i) => {
      const name = (id) => (id === undefined || id === room.selfId ? 'own' : `member ${rooms.findIndex((r) => r.selfId === id)}`);
      const note = (what) => began !== undefined && history.push(`${Date.now() - began} ms: member ${i}, ${what}`);
      room.on('media', (state, id) => note(`${name(id)} feed ${state}`));
      room.on('error', (error, id) => note(`${name(id)} feed: ${error.code} ${error.message}`));
    });
    await everyoneDecodes(rooms);
    const dead = await janus({ action: 'kill-spare' });
    began = Date.now();
    const heard = [];
    rooms[1].on('data', (data) => heard.push(data));
    await rooms[0].send('while a Janus is dead');
    await everyoneDecodes(rooms, 60000).catch((error) => {
      console.log(`[room-sfu-pins] after Janus ${dead} was killed:\n${history.join('\n')}`);
      throw error;
    });
    console.log(`[room-sfu-pins] Janus ${dead} killed: all 6 plays decoding through the other after ${Date.now() - began} ms`);
    const sessions = await janus({ action: 'spare-sessions', skip: dead });
    // 3 publishes and 6 plays, each its own Janus session, plus the bridge's control session.
    expect(sessions[1 - dead]).to.be.at.least(10);
    expect(heard).to.deep.equal(['while a Janus is dead']);
  });
});
