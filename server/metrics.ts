/** Counters for `GET /metrics`, rendered in the Prometheus text exposition format 0.0.4. */
import type { ErrorCode } from './protocol.js';

/** One metric, its HELP and TYPE lines and one line per sample (`labels` like `{reason="X"}`). */
export function metricLines(name: string, type: 'counter' | 'gauge', help: string, samples: [labels: string, value: number][]): string[] {
  return [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...samples.map(([labels, value]) => `${name}${labels} ${value}`)];
}

/** Counters one server instance keeps; gauges are read live from their owners. */
export class Metrics {
  connectionsTotal = 0;
  upgradesRefused = 0;
  framesReceived = 0;
  framesRelayed = 0;
  bytesReceived = 0;
  bytesSent = 0;
  readonly refused = new Map<ErrorCode, number>();

  refuse(code: ErrorCode): void {
    this.refused.set(code, (this.refused.get(code) ?? 0) + 1);
  }

  /** Renders every metric; `gauges` are the values that live elsewhere, `more` is appended. */
  render(gauges: { connections: number; rooms: number; members: number }, more: string[] = []): string {
    const lines: string[] = [];
    const metric = (...args: Parameters<typeof metricLines>): void => void lines.push(...metricLines(...args));
    metric('peerkit_connections', 'gauge', 'Open WebSocket connections.', [['', gauges.connections]]);
    metric('peerkit_connections_total', 'counter', 'WebSocket connections accepted.', [['', this.connectionsTotal]]);
    metric('peerkit_upgrades_refused_total', 'counter', 'WebSocket upgrades refused (origin not allowed, shutting down).', [
      ['', this.upgradesRefused],
    ]);
    metric('peerkit_rooms', 'gauge', 'Rooms with at least one member on this instance.', [['', gauges.rooms]]);
    metric('peerkit_members', 'gauge', 'Members joined to a room on this instance.', [['', gauges.members]]);
    metric('peerkit_frames_received_total', 'counter', 'Frames received from clients.', [['', this.framesReceived]]);
    metric('peerkit_frames_relayed_total', 'counter', 'Signal frames relayed to another member.', [['', this.framesRelayed]]);
    metric(
      'peerkit_frames_refused_total',
      'counter',
      'Client frames refused, by error code (a rate-limited streak gets one error frame but counts every frame).',
      [...this.refused].map(([code, n]) => [`{reason="${code}"}`, n]),
    );
    metric('peerkit_received_bytes_total', 'counter', 'Bytes of frames received from clients.', [['', this.bytesReceived]]);
    metric('peerkit_sent_bytes_total', 'counter', 'Bytes of frames sent to clients.', [['', this.bytesSent]]);
    return `${[...lines, ...more].join('\n')}\n`;
  }
}
