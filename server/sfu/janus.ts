/**
 * A client for Janus's WebSocket API (the `janus-protocol` subprotocol), written on `ws` directly:
 * the bridge needs seven requests (create, attach, message, trickle, keepalive, detach, destroy)
 * and their replies, which is less code than adapting Meetecho's `janode` and one dependency fewer.
 * See https://janus.conf.meetecho.com/docs/rest.html for the request and reply shapes.
 */
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';

/** A JSEP description as Janus carries it. */
export interface Jsep {
  type: 'offer' | 'answer';
  sdp: string;
}

/** A plugin's reply: its `data`, and a JSEP when the plugin negotiated. */
export interface PluginReply {
  data: Record<string, unknown>;
  jsep?: Jsep;
}

/** Janus or a plugin refused a request; `code` is Janus's numeric error code. */
export class JanusError extends Error {
  override readonly name = 'JanusError';
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

type Frame = Record<string, unknown>;

interface Pending {
  resolve: (frame: Frame) => void;
  reject: (error: Error) => void;
  /** Ack-only requests (trickle, keepalive) end at `ack`; plugin messages end at their `event`. */
  endsAtAck: boolean;
}

function isFrame(value: unknown): value is Frame {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** How long a request may wait for its reply before it fails. */
const REQUEST_TIMEOUT_MS = 10_000;

/** One WebSocket to one Janus instance; many sessions ride on it. */
export class JanusConnection {
  private ws: WebSocket | undefined;
  private readonly pending = new Map<string, Pending>();
  /** Events Janus sends unasked (hangup, webrtcup, plugin events), by the handle they concern. */
  private readonly listeners = new Map<number, (frame: Frame) => void>();
  private opening: Promise<void> | undefined;

  constructor(
    readonly url: string,
    private readonly apiSecret: string | undefined,
    private readonly onClose: (reason: string) => void,
  ) {}

  /** True while the socket is open. */
  get up(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  /** Opens the socket if it is not open; rejects when Janus cannot be reached. */
  connect(): Promise<void> {
    if (this.up) return Promise.resolve();
    this.opening ??= new Promise<void>((resolve, reject) => {
      const ws = new WebSocket(this.url, 'janus-protocol', { handshakeTimeout: 5000 });
      ws.once('open', () => {
        this.ws = ws;
        this.opening = undefined;
        resolve();
      });
      ws.once('error', (error) => {
        this.opening = undefined;
        reject(error);
      });
      ws.on('message', (data) => this.receive(String(data)));
      ws.on('close', () => {
        if (this.ws !== ws) return;
        this.ws = undefined;
        for (const pending of this.pending.values()) pending.reject(new JanusError(0, 'connection to Janus closed'));
        this.pending.clear();
        this.listeners.clear();
        this.onClose('connection to Janus closed');
      });
    });
    return this.opening;
  }

  /** Closes the socket; Janus then destroys the sessions it carried. */
  close(): void {
    this.ws?.close();
  }

  /** Sends one request and resolves with its final reply (`success`, `event` or `ack`). */
  request(body: Frame, endsAtAck = false): Promise<Frame> {
    const ws = this.ws;
    if (ws === undefined || ws.readyState !== WebSocket.OPEN) {
      return Promise.reject(new JanusError(0, `Janus at ${this.url} is not connected`));
    }
    const transaction = randomBytes(9).toString('base64url');
    const frame: Frame = { ...body, transaction };
    if (this.apiSecret !== undefined) frame.apisecret = this.apiSecret;
    return new Promise<Frame>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(transaction);
        reject(new JanusError(0, `Janus did not answer ${String(body.janus)} within ${REQUEST_TIMEOUT_MS} ms`));
      }, REQUEST_TIMEOUT_MS);
      this.pending.set(transaction, {
        resolve: (reply) => (clearTimeout(timer), resolve(reply)),
        reject: (error) => (clearTimeout(timer), reject(error)),
        endsAtAck,
      });
      ws.send(JSON.stringify(frame));
    });
  }

  /** Routes unasked events about `handle` to `listener` until {@link unlisten}. */
  listen(handle: number, listener: (frame: Frame) => void): void {
    this.listeners.set(handle, listener);
  }

  unlisten(handle: number): void {
    this.listeners.delete(handle);
  }

  private receive(text: string): void {
    let frame: unknown;
    try {
      frame = JSON.parse(text);
    } catch {
      return;
    }
    if (!isFrame(frame)) return;
    const transaction = typeof frame.transaction === 'string' ? frame.transaction : undefined;
    const pending = transaction === undefined ? undefined : this.pending.get(transaction);
    if (pending !== undefined && transaction !== undefined) {
      if (frame.janus === 'ack' && !pending.endsAtAck) return;
      this.pending.delete(transaction);
      const error = janusError(frame);
      if (error === undefined) pending.resolve(frame);
      else pending.reject(error);
      return;
    }
    if (typeof frame.sender === 'number') this.listeners.get(frame.sender)?.(frame);
  }
}

/** The error a reply carries, at the Janus level or inside the plugin's data. */
function janusError(frame: Frame): JanusError | undefined {
  if (frame.janus === 'error' && isFrame(frame.error)) {
    return new JanusError(Number(frame.error.code), String(frame.error.reason));
  }
  const data = pluginData(frame);
  if (data !== undefined && typeof data.error_code === 'number') return new JanusError(data.error_code, String(data.error));
  return undefined;
}

function pluginData(frame: Frame): Record<string, unknown> | undefined {
  const plugindata = frame.plugindata;
  return isFrame(plugindata) && isFrame(plugindata.data) ? plugindata.data : undefined;
}

function jsepOf(frame: Frame): Jsep | undefined {
  const jsep = frame.jsep;
  if (!isFrame(jsep) || typeof jsep.sdp !== 'string' || (jsep.type !== 'offer' && jsep.type !== 'answer')) return undefined;
  return { type: jsep.type, sdp: jsep.sdp };
}

/** What Janus reports unasked about a handle's PeerConnection. */
export type PeerConnectionEvent = 'up' | 'hangup' | 'detached';

/** Janus drops a session that has heard nothing for its session_timeout (60 s by default). */
const KEEPALIVE_MS = 25_000;

/**
 * One Janus session with one handle attached to the VideoRoom plugin: the Janus side of one
 * WHIP or WHEP resource, so that ending the resource ends exactly its session in Janus.
 */
export class VideoRoomHandle {
  private keepalive: NodeJS.Timeout | undefined;
  private ended = false;

  private constructor(
    private readonly janus: JanusConnection,
    readonly session: number,
    readonly handle: number,
  ) {
    this.keepalive = setInterval(() => {
      this.janus.request({ janus: 'keepalive', session_id: this.session }, true).catch(() => this.stopKeepalive());
    }, KEEPALIVE_MS);
    this.keepalive.unref();
  }

  /**
   * Creates a session and attaches the VideoRoom plugin to it. `onPeerConnection` hears what Janus
   * says unasked of the handle's PeerConnection: `up` (webrtcup: ICE and DTLS done), `hangup`
   * (closed: ICE failed, a DTLS alert) and `detached` (the handle is gone).
   */
  static async open(janus: JanusConnection, onPeerConnection: (event: PeerConnectionEvent, reason: string) => void): Promise<VideoRoomHandle> {
    const created = await janus.request({ janus: 'create' });
    const session = numericId(created);
    let attached: Frame;
    try {
      attached = await janus.request({ janus: 'attach', session_id: session, plugin: 'janus.plugin.videoroom' });
    } catch (error) {
      await janus.request({ janus: 'destroy', session_id: session }).catch(() => undefined);
      throw error;
    }
    const handle = new VideoRoomHandle(janus, session, numericId(attached));
    janus.listen(handle.handle, (frame) => {
      if (frame.janus === 'webrtcup') onPeerConnection('up', 'webrtcup');
      else if (frame.janus === 'hangup' || frame.janus === 'detached') onPeerConnection(frame.janus, String(frame.reason ?? frame.janus));
    });
    return handle;
  }

  /** Sends a plugin request and resolves with the plugin's reply. */
  async message(body: Frame, jsep?: Jsep): Promise<PluginReply> {
    const frame: Frame = { janus: 'message', session_id: this.session, handle_id: this.handle, body };
    if (jsep !== undefined) frame.jsep = jsep;
    const reply = await this.janus.request(frame);
    const data = pluginData(reply) ?? {};
    const answer = jsepOf(reply);
    return answer === undefined ? { data } : { data, jsep: answer };
  }

  /** Hands Janus remote candidates, or `null` for the end of them. */
  async trickle(candidates: { sdpMid: string; sdpMLineIndex: number; candidate: string }[] | null): Promise<void> {
    const frame: Frame = { janus: 'trickle', session_id: this.session, handle_id: this.handle };
    if (candidates === null) frame.candidate = { completed: true };
    else frame.candidates = candidates;
    await this.janus.request(frame, true);
  }

  /** Destroys the session (and with it the handle, the PeerConnection and the feed). Idempotent. */
  async destroy(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    this.stopKeepalive();
    this.janus.unlisten(this.handle);
    if (!this.janus.up) return;
    await this.janus.request({ janus: 'destroy', session_id: this.session }).catch(() => undefined);
  }

  private stopKeepalive(): void {
    clearInterval(this.keepalive);
    this.keepalive = undefined;
  }
}

function numericId(frame: Frame): number {
  const data = frame.data;
  if (isFrame(data) && typeof data.id === 'number') return data.id;
  throw new JanusError(0, 'Janus replied without an id');
}
