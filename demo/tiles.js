// One tile per person: video (or initials), name, microphone and camera state, connection state,
// and for each remote member a live chart of round-trip time and bitrate from peer.getStats().
import { bitrate, el, initials } from './ui.js';

const STATE_WORDS = {
  new: 'waiting',
  connecting: 'connecting…',
  connected: 'connected',
  reconnecting: 'reconnecting…',
  closed: 'disconnected',
};

/** A person's tile in #tiles. */
export class Tile {
  constructor({ name, self = false }) {
    this.name = name;
    this.self = self;
    this.view = undefined;
    this.video = el('video', { 'aria-label': self ? 'Your camera' : `${name}'s video` });
    this.avatar = el('div', { class: 'avatar', 'aria-hidden': 'true' }, initials(name));
    this.mic = el('span', { class: 'badge mic' });
    this.cam = el('span', { class: 'badge cam' });
    this.conn = el('span', { class: 'conn' });
    this.sas = el('span', { class: 'sas', title: 'Compare these digits with the other person: the same on both screens means no one is in between' });
    this.sound = el('button', { type: 'button', class: 'sound', hidden: true, onclick: () => this.resume() }, `Play ${name}'s sound`);
    this.screen = el('div', { class: 'screen' }, this.video, this.avatar, this.sound);
    this.caption = el('div', { class: 'caption' }, el('span', { class: 'name' }, self ? `${name} (you)` : name), this.mic, this.cam, self ? undefined : this.conn, self ? undefined : this.sas);
    this.node = el('li', { class: `tile${self ? ' self' : ''}`, dataset: { name } }, this.screen, this.caption);
    if (!self) {
      this.chart = new StatsChart(name);
      this.node.append(this.chart.node);
    }
    this.setMedia({ mic: true, cam: false });
    if (!self) this.setState('new');
  }

  /** Shows `stream`; `local` keeps it silent and mirrored (for a camera, not a screen). */
  async show(stream, { local = false, mirror = false } = {}) {
    this.view?.detach();
    this.node.classList.toggle('camera', mirror);
    const view = window.PeerKit.attach(this.video, stream, { local });
    this.view = view;
    const outcome = await view.playing;
    // The autoplay policy refused sound (or playback): a click on this button is the gesture it wants.
    if (view === this.view) this.sound.hidden = outcome === 'playing' || outcome === 'detached';
  }

  async resume() {
    const outcome = await this.view?.resume();
    this.sound.hidden = outcome === 'playing';
  }

  /** What the person sends: `mic` on or muted, `cam` showing a picture or not, `screen` shared. */
  setMedia({ mic, cam, screen = false }) {
    this.mic.textContent = mic ? 'mic on' : 'muted';
    this.mic.classList.toggle('muted', !mic);
    this.cam.textContent = cam ? 'camera on' : 'camera off';
    this.cam.classList.toggle('muted', !cam);
    this.node.dataset.mic = mic ? 'on' : 'muted';
    this.node.dataset.cam = cam ? 'on' : 'off';
    this.avatar.hidden = cam;
    // A shared screen is shown whole; a face may be cropped to fill the tile.
    this.node.classList.toggle('screen-share', screen);
  }

  /** Shows the connection's short authentication string once it is known. */
  async verify(peer) {
    try {
      const { sas } = await peer.getVerification();
      this.sas.textContent = `code ${sas.slice(0, 3)} ${sas.slice(3)}`;
      this.node.dataset.sas = sas;
    } catch {
      // The Peer closed before connecting: nothing to verify.
    }
  }

  /** The connection state of the member's Peer. */
  setState(state) {
    this.conn.dataset.state = state;
    this.conn.textContent = STATE_WORDS[state] ?? state;
    this.node.dataset.state = state;
  }

  remove() {
    this.view?.detach();
    this.chart?.stop();
    this.node.remove();
  }
}

const SAMPLES = 60;

/** A sparkline of RTT (ms) and receive bitrate over the last minute, sampled once a second. */
class StatsChart {
  constructor(name) {
    this.samples = [];
    this.canvas = el('canvas', { width: 240, height: 48, role: 'img', 'aria-label': `Round-trip time and bitrate with ${name}` });
    this.text = el('figcaption', {}, 'no stats yet');
    this.node = el('figure', { class: 'stats' }, this.canvas, this.text);
    this.timer = undefined;
  }

  /** Polls `peer.getStats()` until the Peer closes. */
  follow(peer) {
    this.stop();
    const poll = async () => {
      if (peer.state === 'closed') return this.stop();
      // The first getStats() only sets the baseline for bitrates, so it runs connected or not.
      try {
        const stats = await peer.getStats();
        if (peer.state === 'connected') this.add(stats);
      } catch (err) {
        this.stop();
        if (err.code !== 'CLOSED') this.text.textContent = `stats unavailable: ${err.message}`;
      }
    };
    this.timer = setInterval(() => void poll(), 1000);
    peer.once('close', () => this.stop());
  }

  add(stats) {
    this.samples.push({ rtt: stats.rtt, down: stats.receiveBitrate, up: stats.sendBitrate });
    if (this.samples.length > SAMPLES) this.samples.shift();
    const rtt = stats.rtt === null ? '–' : `${stats.rtt.toFixed(stats.rtt < 10 ? 1 : 0)} ms`;
    this.text.replaceChildren(
      el('span', { class: 'legend-rtt' }, `RTT ${rtt}`),
      ` · `,
      el('span', { class: 'legend-rate' }, `↓ ${bitrate(stats.receiveBitrate)}`),
      ` · ↑ ${bitrate(stats.sendBitrate)} · ${stats.path}`,
    );
    this.node.dataset.rtt = String(stats.rtt ?? '');
    this.draw();
  }

  draw() {
    const ctx = this.canvas.getContext('2d');
    const { width, height } = this.canvas;
    ctx.clearRect(0, 0, width, height);
    const line = (key, color, floor) => {
      const values = this.samples.map((s) => s[key] ?? 0);
      const max = Math.max(floor, ...values);
      ctx.strokeStyle = color;
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      values.forEach((value, i) => {
        // The newest sample sits at the right edge, so the chart scrolls left as time passes.
        const x = width - ((values.length - 1 - i) / (SAMPLES - 1)) * width;
        const y = height - 2 - (value / max) * (height - 4);
        if (i === 0) ctx.moveTo(x, y);
        else ctx.lineTo(x, y);
      });
      ctx.stroke();
    };
    line('down', '#4fb3ff', 100e3);
    line('rtt', '#ffb547', 10);
  }

  stop() {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
