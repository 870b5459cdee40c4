// MqttTransport against Debian's Mosquitto, which the test runner starts (test/broker-plugin.mjs):
// Rooms with a secret, the broker killed and restarted mid-call, a member's page killed and
// reported gone by its last will, refused credentials, and what the broker gets to see.
import { expect } from 'chai';
import { executeServerCommand } from '@web/test-runner-commands';
import mqtt from 'mqtt';
import { Room } from '../../dist/index.js';
import { MqttTransport } from '../../dist/signaling/transports/mqtt.js';
import { MQTT_AUTH_URL, MQTT_MISSING, MQTT_PASSWORD, MQTT_URL, MQTT_USERNAME } from '/__peerkit/brokers.js';
import { next, outageKeepsPeers, sealedRoomOfThree, within } from './helpers.js';

const roomName = () => `mqtt-room-${Math.random().toString(36).slice(2)}`;

/** A plain MQTT.js client subscribed to everything: what any subscriber on the broker can read. */
async function eavesdrop() {
  const client = await mqtt.connectAsync(MQTT_URL, { protocolVersion: 5 });
  const seen = [];
  client.on('message', (topic, payload) => seen.push(`${topic} ${new TextDecoder().decode(payload)}`));
  await client.subscribeAsync('#');
  return { seen, end: () => client.endAsync() };
}

describe('MqttTransport against Mosquitto', function () {
  before(function () {
    if (MQTT_URL === null) {
      console.warn(`skipped: ${MQTT_MISSING}`);
      this.skip();
    }
  });

  it('three Rooms with a secret meet over MQTT 5 with a password; the broker sees neither the room name nor a signal in clear', async () => {
    const options = { protocolVersion: 5, username: MQTT_USERNAME, password: MQTT_PASSWORD };
    await sealedRoomOfThree(roomName(), () => new MqttTransport(MQTT_AUTH_URL, options), await eavesdrop());
  });

  it('the broker is killed and restarted mid-call: data keeps flowing, and the members re-join under new ids with the same Peers', async () => {
    const name = roomName();
    const open = () => Room.join(name, { transport: new MqttTransport(MQTT_URL, { minDelayMs: 100, maxDelayMs: 400 }) });
    const rooms = [await open(), await open(), await open()];
    try {
      await outageKeepsPeers(rooms, {
        stop: () => executeServerCommand('broker', { server: 'mosquitto', action: 'kill' }),
        start: () => executeServerCommand('broker', { server: 'mosquitto', action: 'start' }),
      });
    } finally {
      await Promise.all(rooms.map((room) => room.leave()));
      await executeServerCommand('broker', { server: 'mosquitto', action: 'start' });
    }
  });

  it("a member whose page is killed is reported gone by its last will, within 1.5 × its keep-alive", async () => {
    const name = roomName();
    const keepaliveSeconds = 4;
    const watcher = new MqttTransport(MQTT_URL);
    await watcher.join(name);
    // The member lives in a frame of its own, so its page can be killed without a goodbye.
    const frame = document.createElement('iframe');
    const joined = new Promise((resolve) => window.addEventListener('message', (event) => resolve(event.data), { once: true }));
    frame.srcdoc = `<script type="module">
      import { MqttTransport } from '/dist/signaling/transports/mqtt.js';
      const transport = new MqttTransport(${JSON.stringify(MQTT_URL)}, { keepaliveSeconds: ${keepaliveSeconds} });
      transport.join(${JSON.stringify(name)}).then((result) => parent.postMessage(result.selfId, '*'));
    </script>`;
    const arrived = next(watcher, 'member-joined');
    document.body.append(frame);
    try {
      const memberId = await within(10000, joined, 'the framed member joining');
      expect((await within(5000, arrived, 'the watcher seeing the member'))[0]).to.equal(memberId);
      const left = new Promise((resolve) => watcher.on('member-left', (id) => id === memberId && resolve()));
      const killedAt = performance.now();
      frame.remove();
      const bound = 1.5 * keepaliveSeconds * 1000;
      await within(bound + 1000, left, 'member-left after the page was killed');
      console.log(`mqtt: a killed page was reported gone after ${Math.round(performance.now() - killedAt)} ms (bound: 1.5 × keep-alive = ${bound} ms)`);
    } finally {
      frame.remove();
      await watcher.close();
    }
  });

  it("a member whose network dies without a word is reported gone by its last will, within 3 × its keep-alive (MQTT says 1.5 ×; Mosquitto is late)", async function () {
    const name = roomName();
    const keepaliveSeconds = 10;
    const watcher = new MqttTransport(MQTT_URL);
    await watcher.join(name);
    const before = await executeServerCommand('broker', { server: 'mosquitto', action: 'clients' });
    if (before.unavailable) {
      console.warn(`skipped: ${before.unavailable}`);
      await watcher.close();
      return this.skip();
    }
    const member = new MqttTransport(MQTT_URL, { keepaliveSeconds, minDelayMs: 60000, maxDelayMs: 60000 });
    const arrived = next(watcher, 'member-joined');
    const { selfId } = await member.join(name);
    await within(5000, arrived, 'the watcher seeing the member');
    const { ports } = await executeServerCommand('broker', { server: 'mosquitto', action: 'clients' });
    const port = ports.find((p) => !before.ports.includes(p));
    expect(port, 'the member connection').to.be.a('number');
    const left = new Promise((resolve) => watcher.on('member-left', (id) => id === selfId && resolve()));
    await executeServerCommand('broker', { server: 'mosquitto', action: 'silence', port });
    const silencedAt = performance.now();
    try {
      const bound = 1.5 * keepaliveSeconds * 1000;
      // Mosquitto 2.0.11 over WebSocket runs its keep-alive checks late: 16 to over 20 s here
      // with a 10 s keep-alive (about 10 s with a 3 s one) on a loaded machine. The test holds it
      // to 3 × keep-alive and prints the time.
      await within(3 * keepaliveSeconds * 1000, left, 'member-left after the network died');
      console.log(`mqtt: a silent member was reported gone by its last will after ${Math.round(performance.now() - silencedAt)} ms (bound: 1.5 × keep-alive = ${bound} ms)`);
    } finally {
      await executeServerCommand('broker', { server: 'mosquitto', action: 'mend' });
      await Promise.all([member.close(), watcher.close()]);
    }
  });

  it('a wrong password is refused with UNAUTHORIZED and closes the transport; no retry follows', async () => {
    const transport = new MqttTransport(MQTT_AUTH_URL, { username: MQTT_USERNAME, password: 'not the password' });
    const error = await transport.join(roomName()).catch((e) => e);
    expect(error.code).to.equal('UNAUTHORIZED');
    expect(transport.state).to.equal('closed');
    const anonymous = await new MqttTransport(MQTT_AUTH_URL, { protocolVersion: 5 }).join(roomName()).catch((e) => e);
    expect(anonymous.code).to.equal('UNAUTHORIZED');
  });

  it('warns once in the console without a secret on a non-loopback URL, never with one or on loopback', async () => {
    const warnings = [];
    const warn = console.warn;
    console.warn = (...args) => warnings.push(args.join(' '));
    const exposed = MQTT_URL.replace('127.0.0.1', '198.18.7.1');
    const transports = [];
    try {
      const plain = new MqttTransport(exposed, { connectTimeoutMs: 2000 });
      transports.push(plain);
      const pending = plain.join(roomName()).catch(() => {});
      expect(warnings.length).to.equal(1);
      expect(warnings[0]).to.include('198.18.7.1').and.include('secret');
      await pending;
      const loopback = new MqttTransport(MQTT_URL);
      transports.push(loopback);
      await loopback.join(roomName());
      const sealed = await Room.join(roomName(), { transport: new MqttTransport(exposed, { connectTimeoutMs: 2000 }), secret: 'a secret' }).catch(() => undefined);
      await sealed?.leave();
      expect(warnings.length).to.equal(1);
    } finally {
      console.warn = warn;
      await Promise.all(transports.map((t) => t.close()));
    }
  });
});
