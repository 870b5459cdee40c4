// The demo: a room from the URL, a call with video tiles, chat, files and live stats, built only
// on the public API of the CDN build (the global PeerKit).
import { offerAgain, receive, sendToEveryone, senderLeft } from './files.js';
import { Tile } from './tiles.js';
import { clearAlert, el, showAlert } from './ui.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const PK = window.PeerKit;

/** Everything about the call in progress. */
const call = {
  roomName: '',
  name: '',
  transport: undefined, // { kind: 'ws' | 'mqtt', url } | { kind: 'nostr', relays, url } | { kind: 'broadcast', why }
  room: undefined,
  local: undefined, // the MediaStream sent to everyone
  camera: undefined,
  mic: undefined,
  screen: undefined, // a screen track, while sharing
  display: undefined, // its own stream, when there is no camera track for it to replace
  self: undefined,
  // By member id: the Room rebuilds a member's Peer when its connection breaks for good (a new
  // Peer, the same member), and moves a member to a new id after a signaling re-join (`rejoin`).
  tiles: new Map(),
  leaving: false,
};

function randomRoom() {
  const words = ['amber', 'brisk', 'calm', 'daring', 'eager', 'fuzzy', 'gentle', 'happy', 'lucid', 'mellow', 'quiet', 'sunny'];
  const animals = ['otter', 'heron', 'lynx', 'panda', 'koala', 'finch', 'gecko', 'bison', 'orca', 'wren', 'yak', 'ibis'];
  const [a, b, n] = crypto.getRandomValues(new Uint16Array(3));
  return `${words[a % words.length]}-${animals[b % animals.length]}-${n % 10000}`;
}

const nameOf = (hello) => (typeof hello?.name === 'string' && hello.name.trim() ? hello.name.trim().slice(0, 40) : 'Guest');

/** Which signaling to use: `?signal=`, then the server `npm start` announces, else tabs of this browser. */
async function chooseTransport() {
  const wanted = params.get('transport');
  const signal = params.get('signal');
  if (wanted === 'broadcast') return { kind: 'broadcast', why: 'asked for with ?transport=broadcast' };
  // A broker or relays someone already runs: ?transport=mqtt&signal=wss://broker/mqtt,
  // ?transport=nostr&relay=wss://a&relay=wss://b. Their libraries load only then.
  if (wanted === 'mqtt') {
    if (signal) return { kind: 'mqtt', url: signal };
    return { kind: 'error', why: 'MQTT needs a broker: add &signal=wss://your-broker/mqtt to the address.' };
  }
  if (wanted === 'nostr') {
    const relays = params.getAll('relay').flatMap((relay) => relay.split(',')).filter(Boolean);
    if (relays.length > 0) return { kind: 'nostr', relays, url: relays[0] };
    return { kind: 'error', why: 'Nostr needs relays: add &relay=wss://relay.example (once per relay) to the address.' };
  }
  if (signal) return { kind: 'ws', url: signal };
  try {
    const response = await fetch('signal.json', { cache: 'no-store' });
    const { url } = response.ok ? await response.json() : {};
    if (typeof url === 'string') return { kind: 'ws', url };
  } catch {
    // No signal.json: plain static hosting, which is what the BroadcastChannel fallback is for.
  }
  if (wanted === 'ws') return { kind: 'error', why: 'No signaling server is known here: add ?signal=wss://your-server to the address, or run npm start.' };
  return { kind: 'broadcast', why: 'no signaling server found, so only tabs of this browser can join' };
}

function showTransport(state) {
  const line = $('transport');
  const { kind } = call.transport;
  line.dataset.kind = state === 'reconnecting' ? 'reconnecting' : kind;
  if (state === 'reconnecting') line.textContent = 'Signaling: reconnecting to the server… (calls in progress carry on)';
  else if (kind === 'ws') line.textContent = `Signaling: server ${call.transport.url}`;
  else if (kind === 'mqtt') line.textContent = `Signaling: MQTT broker ${call.transport.url}`;
  else if (kind === 'nostr') line.textContent = `Signaling: Nostr relays ${call.transport.relays.join(', ')}`;
  else if (kind === 'broadcast') line.textContent = `Signaling: BroadcastChannel (${call.transport.why}). Open the room link in another tab to call.`;
  else line.textContent = 'Signaling: none';
}

async function setup() {
  if (!PK) {
    showAlert({ title: 'peerkit did not load.', message: ' ../dist/peerkit.min.js is missing: run npm run build, or npm start.' });
    return;
  }
  call.roomName = params.get('room')?.trim() || randomRoom();
  if (params.get('room') !== call.roomName) {
    params.set('room', call.roomName);
    history.replaceState(null, '', `${location.pathname}?${params}`);
  }
  $('link').value = location.href;
  $('lobby-room').textContent = call.roomName;
  document.title = `${call.roomName} · peerkit demo`;
  $('name').value = params.get('name') ?? localStorage.getItem('peerkit-demo-name') ?? `Guest ${1 + (crypto.getRandomValues(new Uint16Array(1))[0] % 999)}`;
  $('media-hint').textContent = audioOnly()
    ? 'You join with your microphone only (?novideo=true).'
    : 'You join with your camera and microphone; the browser asks for permission.';
  $('copy-link').addEventListener('click', copyLink);
  $('join-form').addEventListener('submit', (event) => {
    event.preventDefault();
    void join();
  });
  call.transport = await chooseTransport();
  showTransport();
  if (call.transport.kind === 'error') {
    $('join').disabled = true;
    showAlert({ title: 'No signaling server.', message: ` ${call.transport.why}` });
  }
}

const audioOnly = () => params.get('novideo') === 'true';

async function copyLink() {
  const link = $('link');
  try {
    await navigator.clipboard.writeText(link.value);
    $('copied').textContent = 'Copied.';
  } catch {
    // Clipboard access can be refused (no permission, not focused): select the text for Ctrl+C.
    link.select();
    $('copied').textContent = 'Press Ctrl+C (⌘C) to copy.';
  }
  setTimeout(() => ($('copied').textContent = ''), 3000);
}

/** Asks for the camera and microphone; on refusal, says why and offers to join without them. */
async function capture() {
  try {
    return await PK.getUserMedia({ audio: true, video: audioOnly() ? false : { width: { ideal: 640 }, height: { ideal: 480 } } });
  } catch (err) {
    showAlert({
      key: 'media',
      title: audioOnly() ? 'Microphone unavailable.' : 'Camera or microphone unavailable.',
      message: ` ${err.message}`,
      actions: [
        ['Try again', () => void join()],
        ['Join without camera and microphone', () => void join({ withoutMedia: true })],
      ],
    });
    document.body.dataset.error = err.code;
    return undefined;
  }
}

/** The transport chosen; MQTT.js and nostr-tools come in their own files, fetched only when asked for. */
async function makeTransport() {
  const { kind, url, relays } = call.transport;
  if (kind === 'ws') return new PK.WebSocketTransport(url);
  if (kind === 'mqtt') return new (await import('../dist/peerkit-mqtt.min.js')).MqttTransport(url);
  if (kind === 'nostr') return new (await import('../dist/peerkit-nostr.min.js')).NostrTransport({ relays });
  return new PK.BroadcastChannelTransport();
}

async function join({ withoutMedia = false } = {}) {
  clearAlert('media');
  clearAlert('join');
  $('join').disabled = true;
  try {
    call.name = $('name').value.trim().slice(0, 40) || 'Guest';
    localStorage.setItem('peerkit-demo-name', call.name);
    const local = withoutMedia ? new MediaStream() : await capture();
    if (!local) return;
    call.local = local;
    [call.camera] = local.getVideoTracks();
    [call.mic] = local.getAudioTracks();
    const { kind, url } = call.transport;
    const loopback = kind === 'broadcast' || ['127.0.0.1', 'localhost', '[::1]'].includes(new URL(url).hostname);
    try {
      call.room = await PK.Room.join(call.roomName, {
        transport: await makeTransport(),
        stream: local,
        hello: { name: call.name },
        // On loopback nothing but host candidates is needed; elsewhere the server's list is used.
        ...(loopback ? { iceServers: [] } : {}),
      });
    } catch (err) {
      stopLocal();
      joinFailed(err);
      return;
    }
    enterCall();
  } finally {
    $('join').disabled = false;
  }
}

function joinFailed(err) {
  document.body.dataset.error = err.code;
  const fresh = new URL(location.href);
  fresh.searchParams.set('room', randomRoom());
  const tabs = new URL(location.href);
  tabs.searchParams.set('transport', 'broadcast');
  const [title, message, actions] = {
    TRANSPORT_ERROR: [
      'Cannot reach the signaling server.',
      ` Nothing answered at ${call.transport.url}. If you started the demo with npm start, check it is still running. To call between tabs of this browser without a server, use the BroadcastChannel.`,
      [['Retry', () => void join()], ['Use tabs of this browser', () => location.assign(tabs)]],
    ],
    ROOM_FULL: [
      `Room “${call.roomName}” is full.`,
      ' The server allows no more members in it. Start a new room and share its link instead.',
      [['Start a new room', () => location.assign(fresh)]],
    ],
    UNAUTHORIZED: ['The signaling server refused to let you in.', ` It needs a room token. (${err.message})`, []],
  }[err.code] ?? ['Could not join the room.', ` ${err.message}`, [['Retry', () => void join()]]];
  showAlert({ key: 'join', title, message, actions });
}

function enterCall() {
  const room = call.room;
  $('lobby').hidden = true;
  $('call').hidden = false;
  document.body.dataset.joined = 'true';
  call.self = new Tile({ name: call.name, self: true });
  $('tiles').append(call.self.node);
  showSelf();
  showTransport(room.state);
  wireControls();
  void refreshDevices();
  call.stopDeviceWatch = PK.onDeviceChange(() => void refreshDevices(), {
    onError: (err) => showAlert({ key: 'devices', kind: 'info', title: 'Could not list devices.', message: ` ${err.message}` }),
  });

  room.on('member', (peer, id, hello) => addMember(peer, id, hello));
  room.on('rebuild', (peer, id) => {
    const tile = call.tiles.get(id);
    if (!tile) return;
    followPeer(tile, peer);
    system(`Reconnecting to ${tile.name} over a new connection`);
  });
  room.on('rejoin', (peer, id, previousId) => {
    const tile = call.tiles.get(previousId);
    call.tiles.delete(previousId);
    if (tile) call.tiles.set(id, tile);
  });
  room.on('leave', (id) => {
    const tile = call.tiles.get(id);
    if (!tile) return;
    tile.remove();
    call.tiles.delete(id);
    senderLeft(tile.name);
    system(`${tile.name} left`);
  });
  room.on('transfer', (incoming, from) => void receive(incoming, nameOfMember(from), $('transfers')));
  // room.send() arrives here, on the Room's own channel, as do messages sent with peer.send().
  room.on('data', (data, from) => {
    const tile = call.tiles.get(from);
    if (tile) control(data, tile);
  });
  room.on('state', (state) => showTransport(state));
  room.on('error', (err, from) => {
    const who = from ? nameOfMember(from) : 'the signaling server';
    showAlert({ key: `${err.code}:${from}`, kind: 'info', title: `Problem with ${who}:`, message: ` ${err.message} (${err.code})` });
  });
  room.on('close', () => {
    if (call.leaving) return;
    showAlert({ title: 'The call ended.', message: ' The connection to the signaling server was lost for good.', actions: [['Join again', () => location.reload()]] });
    endCall();
  });
}

const nameOfMember = (id) => call.tiles.get(id)?.name ?? 'a member';

function addMember(peer, id, hello) {
  const name = nameOf(hello);
  const tile = new Tile({ name });
  call.tiles.set(id, tile);
  $('tiles').append(tile.node);
  followPeer(tile, peer);
  // Files they had not fully received before they left (a reload) go again, and resume.
  offerAgain(call.room, id, name, $('transfers'), nameOfMember);
  system(`${name} joined`);
}

/** Shows a member's Peer on its tile: its first, or one the Room rebuilt. */
function followPeer(tile, peer) {
  tile.setState(peer.state);
  tile.chart.follow(peer);
  void tile.verify(peer);
  peer.on('state', (state) => tile.setState(state));
  peer.on('stream', (stream) => void tile.show(stream));
  // Tell the newcomer whether we are muted; everyone else heard it when it changed.
  peer.once('connect', () => sendControl(mediaState(), peer));
}

function showSelf() {
  call.self.setMedia(mediaState());
  const stream = call.display ?? call.local;
  if (stream.getTracks().length > 0) void call.self.show(stream, { local: true, mirror: !call.screen });
}

/** What the others should show for us. */
const mediaState = () => ({
  demo: 1,
  type: 'media',
  mic: Boolean(call.mic?.enabled),
  cam: Boolean((call.screen ?? call.camera)?.enabled),
  screen: Boolean(call.screen),
});

/** Sends a control message to everyone, or to one member's Peer. */
function sendControl(message, peer) {
  if (!call.room || call.room.state === 'closed' || peer?.state === 'closed') return;
  (peer ? peer.send(message) : call.room.send(message)).catch((err) =>
    showAlert({ key: 'send', kind: 'info', title: 'A message did not go out:', message: ` ${err.message}` }),
  );
}

/** Small JSON messages on the room's default channel: chat and mute state. Others' input is checked. */
function control(data, tile) {
  if (typeof data !== 'object' || data === null || data.demo !== 1) return;
  if (data.type === 'chat' && typeof data.text === 'string') chat(tile.name, data.text.slice(0, 2000));
  if (data.type === 'media') tile.setMedia({ mic: data.mic === true, cam: data.cam === true, screen: data.screen === true });
}

function chat(who, text, self = false) {
  const item = el('li', { class: self ? 'mine' : undefined }, el('span', { class: 'who' }, `${who}:`), text);
  $('messages').append(item);
  item.scrollIntoView({ block: 'nearest' });
}

const system = (text) => $('messages').append(el('li', { class: 'system' }, text));

function wireControls() {
  $('mic').disabled = !call.mic;
  $('cam').disabled = !call.camera;
  $('mic').onclick = () => toggle(call.mic, $('mic'), 'Mute', 'Unmute');
  $('cam').onclick = () => toggle(call.camera, $('cam'), 'Camera off', 'Camera on');
  $('share').onclick = () => void toggleShare();
  $('hangup').onclick = () => void hangUp();
  $('camera-select').onchange = (event) => void switchTo('camera', event.target.value);
  $('mic-select').onchange = (event) => void switchTo('mic', event.target.value);
  $('chat-form').onsubmit = (event) => {
    event.preventDefault();
    const input = $('chat-input');
    const text = input.value.trim();
    if (!text) return;
    input.value = '';
    chat('You', text, true);
    sendControl({ demo: 1, type: 'chat', text });
  };
  $('file-input').onchange = (event) => {
    for (const file of event.target.files) sendToEveryone(call.room, file, nameOfMember, $('transfers'));
    if (call.room.peers.size === 0) system('Nobody else is here yet to send files to.');
    event.target.value = '';
  };
}

function toggle(track, button, onLabel, offLabel) {
  if (!track) return;
  if (PK.isMuted(track)) PK.unmute(track);
  else PK.mute(track);
  const muted = PK.isMuted(track);
  button.setAttribute('aria-pressed', String(muted));
  button.textContent = muted ? offLabel : onLabel;
  showSelfState();
}

function showSelfState() {
  call.self.setMedia(mediaState());
  sendControl(mediaState());
}

async function refreshDevices() {
  let devices;
  try {
    devices = await PK.listDevices();
  } catch (err) {
    showAlert({ key: 'devices', kind: 'info', title: 'Could not list devices.', message: ` ${err.message}` });
    return;
  }
  fill($('camera-select'), devices.videoinput, call.camera, 'Camera');
  fill($('mic-select'), devices.audioinput, call.mic, 'Microphone');
}

function fill(select, devices, track, noun) {
  const current = track?.getSettings().deviceId;
  select.replaceChildren(...devices.map((d, i) => new Option(d.label || `${noun} ${i + 1}`, d.deviceId, false, d.deviceId === current)));
  select.closest('label').hidden = !track || devices.length === 0;
  select.disabled = Boolean(call.screen && track === call.camera);
}

/** Switches camera or microphone for everyone, with no renegotiation. */
async function switchTo(kind, deviceId) {
  const track = call[kind];
  if (!track || track.getSettings().deviceId === deviceId) return;
  try {
    call[kind] = await PK.switchDevice(call.room, track, deviceId, { stream: call.local });
  } catch (err) {
    showAlert({ key: 'switch', title: `Could not switch the ${kind === 'mic' ? 'microphone' : 'camera'}.`, message: ` ${err.message}` });
  }
  showSelf();
  void refreshDevices();
}

/** Shares the screen instead of the camera, for everyone; the camera comes back when it ends. */
async function toggleShare() {
  if (call.screen) return stopShare();
  let display;
  try {
    display = await PK.getDisplayMedia({ video: true });
  } catch (err) {
    showAlert({ key: 'share', title: 'Screen sharing did not start.', message: ` ${err.message}` });
    return;
  }
  const [screen] = display.getVideoTracks();
  call.screen = screen;
  // The browser's own "Stop sharing" button ends the track.
  screen.addEventListener('ended', () => void stopShare());
  if (call.camera) {
    await call.room.replaceTrack(call.camera, screen);
    call.local.removeTrack(call.camera);
    call.local.addTrack(screen);
  } else {
    // No camera track to replace: the screen goes out as a stream of its own (this renegotiates).
    call.display = display;
    call.room.addStream(display);
  }
  $('share').setAttribute('aria-pressed', 'true');
  $('share').textContent = 'Stop sharing';
  $('camera-select').disabled = true;
  showSelf();
  sendControl(mediaState());
}

async function stopShare() {
  const screen = call.screen;
  if (!screen) return;
  call.screen = undefined;
  if (call.camera) {
    if (call.room.state !== 'closed') await call.room.replaceTrack(screen, call.camera);
    call.local.removeTrack(screen);
    call.local.addTrack(call.camera);
  } else if (call.room.state !== 'closed') {
    call.room.removeStream(call.display);
  }
  call.display = undefined;
  screen.stop();
  $('share').setAttribute('aria-pressed', 'false');
  $('share').textContent = 'Share screen';
  $('camera-select').disabled = false;
  showSelf();
  sendControl(mediaState());
}

function stopLocal() {
  for (const track of [...(call.local?.getTracks() ?? []), call.camera, call.mic, call.screen]) track?.stop();
}

async function hangUp() {
  call.leaving = true;
  $('hangup').disabled = true;
  await call.room.leave();
  endCall();
}

function endCall() {
  call.stopDeviceWatch?.();
  stopLocal();
  for (const tile of call.tiles.values()) tile.remove();
  call.tiles.clear();
  call.self?.remove();
  $('call').hidden = true;
  $('ended').hidden = false;
  document.body.dataset.joined = 'false';
  $('rejoin').onclick = () => location.reload();
  $('rejoin').focus();
}

// A handle for poking at the call from the console (and for the e2e tests): demo.room.peers...
window.demo = call;

await setup();
