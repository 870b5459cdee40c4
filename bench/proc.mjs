// CPU time of processes, from Linux's /proc, for the benchmarks that count a browser's (and
// Janus's) CPU rather than this Node process's.
import { readFileSync, readdirSync } from 'node:fs';

const TICKS = 100; // USER_HZ on Linux

/** Every process by pid: its name, its parent and the CPU seconds it used so far. */
export function processes() {
  const stats = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const text = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const close = text.lastIndexOf(')');
      const comm = text.slice(text.indexOf('(') + 1, close);
      const fields = text.slice(close + 2).split(' ');
      stats.set(Number(entry), { comm, ppid: Number(fields[1]), cpu: (Number(fields[11]) + Number(fields[12])) / TICKS });
    } catch {
      // The process ended while we looked.
    }
  }
  return stats;
}
