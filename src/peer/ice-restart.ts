/** When to restart ICE and when to give up. */
export interface IceRestartPolicy {
  /** How long `disconnected` may last before a restart, in ms. */
  graceMs: number;
  /** Restarts tried in a row without reconnecting before giving up. */
  maxAttempts: number;
  /** How long one restart may take before the next is tried, in ms. */
  attemptTimeoutMs: number;
}

/**
 * Decides, from the ICE connection state alone, when a Peer restarts ICE: at once on `failed`,
 * after a grace period in `disconnected` (which often heals by itself), again when a restart has
 * not reconnected in time, and never more than `maxAttempts` times in a row.
 */
export class IceRestarter {
  private attempts = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly policy: IceRestartPolicy,
    private readonly restart: () => void,
    private readonly giveUp: () => void,
    /** The ICE state as it stands now, asked before each further attempt. */
    private readonly current: () => RTCIceConnectionState,
  ) {}

  /** Feeds the latest `iceConnectionState`. */
  update(state: RTCIceConnectionState): void {
    if (state === 'connected' || state === 'completed') {
      this.stop();
      this.attempts = 0;
    } else if (state === 'failed' && this.attempts === 0) {
      this.attempt();
    } else if (state === 'disconnected' && this.timer === undefined) {
      this.arm(this.policy.graceMs);
    }
  }

  /** Cancels any pending restart. */
  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(ms: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.attempt(), ms);
  }

  private attempt(): void {
    // Connected again without an event saying so: a restart that silence began may find ICE never
    // left `connected` (Firefox, see Liveness), and the event fires only on a change (not a bug:
    // https://www.w3.org/TR/webrtc/#update-ice-connection-state).
    const now = this.current();
    if (now === 'connected' || now === 'completed') return this.update(now);
    if (this.attempts >= this.policy.maxAttempts) {
      this.stop();
      return this.giveUp();
    }
    this.attempts++;
    this.arm(this.policy.attemptTimeoutMs);
    this.restart();
  }
}
