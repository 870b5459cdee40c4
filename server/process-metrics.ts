/**
 * Process metrics for `GET /metrics`, named as Prometheus's Node client names them, so existing
 * dashboards for Node processes work unchanged.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { metricLines } from './metrics.js';

/** Samples CPU, memory, event loop lag and open handles; {@link stop} frees the lag monitor. */
export class ProcessMetrics {
  readonly #lag: ReturnType<typeof monitorEventLoopDelay>;

  constructor() {
    // 20 ms resolution: finer costs timer wake-ups on an idle server, coarser hides short stalls.
    this.#lag = monitorEventLoopDelay({ resolution: 20 });
    this.#lag.enable();
  }

  /** Lines in the text exposition format 0.0.4, each metric with HELP and TYPE. */
  render(): string[] {
    const cpu = process.cpuUsage();
    const memory = process.memoryUsage();
    // Nanoseconds; the histogram's own resolution is added to every sample, so it is taken off.
    const lagSeconds = (ns: number): number => Math.max(0, ns / 1e9 - 0.02);
    const lines: string[] = [];
    const metric = (...args: Parameters<typeof metricLines>): void => void lines.push(...metricLines(...args));
    metric('process_cpu_user_seconds_total', 'counter', 'User CPU time spent, in seconds.', [['', cpu.user / 1e6]]);
    metric('process_cpu_system_seconds_total', 'counter', 'System CPU time spent, in seconds.', [['', cpu.system / 1e6]]);
    metric('process_cpu_seconds_total', 'counter', 'User and system CPU time spent, in seconds.', [['', (cpu.user + cpu.system) / 1e6]]);
    metric('process_resident_memory_bytes', 'gauge', 'Resident memory size, in bytes.', [['', memory.rss]]);
    metric('nodejs_heap_size_used_bytes', 'gauge', 'V8 heap in use, in bytes.', [['', memory.heapUsed]]);
    metric('nodejs_heap_size_total_bytes', 'gauge', 'V8 heap allocated, in bytes.', [['', memory.heapTotal]]);
    metric('nodejs_external_memory_bytes', 'gauge', 'Memory of C++ objects bound to JavaScript, in bytes.', [['', memory.external]]);
    metric('nodejs_eventloop_lag_p50_seconds', 'gauge', 'Median event loop delay since the last scrape, in seconds.', [
      ['', lagSeconds(this.#lag.percentile(50))],
    ]);
    metric('nodejs_eventloop_lag_p99_seconds', 'gauge', '99th percentile event loop delay since the last scrape, in seconds.', [
      ['', lagSeconds(this.#lag.percentile(99))],
    ]);
    metric('nodejs_eventloop_lag_max_seconds', 'gauge', 'Longest event loop delay since the last scrape, in seconds.', [
      ['', lagSeconds(this.#lag.max)],
    ]);
    this.#lag.reset();
    const handles = new Map<string, number>();
    for (const kind of process.getActiveResourcesInfo()) handles.set(kind, (handles.get(kind) ?? 0) + 1);
    metric('nodejs_active_resources', 'gauge', 'Resources keeping the event loop alive (sockets, timers, ...), by type.', [
      ...[...handles].map(([kind, n]): [string, number] => [`{type="${kind}"}`, n]),
    ]);
    metric('nodejs_active_resources_total', 'gauge', 'Resources keeping the event loop alive.', [
      ['', process.getActiveResourcesInfo().length],
    ]);
    return lines;
  }

  stop(): void {
    this.#lag.disable();
  }
}
