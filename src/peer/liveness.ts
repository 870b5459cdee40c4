/**
 * Notices a path that died without the browser saying so. Firefox keeps ICE `connected` for about
 * 30 s after packets stop getting through, until consent expires (not a bug: RFC 7675 gives
 * consent 30 s, https://www.rfc-editor.org/rfc/rfc7675#section-5.1; Mozilla describes it in
 * https://blog.mozilla.org/webrtc/ice-disconnected-not/); a ping on the default channel
 * every second, and a clock of when anything last arrived from the remote on any channel, tell
 * within `silenceMs`. Chromium's own `disconnected` comes after about 5 s; whichever is first wins.
 */
export class Liveness {
  private timer: ReturnType<typeof setInterval> | undefined;
  /** When something last arrived from the remote, or watching began. */
  private heardAt = 0;
  /** Whether nothing arrived from the remote for longer than `silenceMs`. */
  silent = false;

  constructor(
    private readonly silenceMs: number,
    private readonly ping: () => void,
    private readonly changed: () => void,
  ) {}

  /** Starts pinging and listening; `silenceMs` 0 never starts. */
  start(): void {
    if (this.silenceMs <= 0 || this.timer !== undefined) return;
    this.heardAt = Date.now();
    this.timer = setInterval(() => this.tick(), Math.min(1000, this.silenceMs / 3));
  }

  /** Something arrived from the remote, on any channel. */
  heard(): void {
    this.heardAt = Date.now();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    this.ping();
    const quiet = Date.now() - this.heardAt > this.silenceMs;
    if (quiet === this.silent) return;
    this.silent = quiet;
    this.changed();
  }
}
