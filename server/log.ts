/** Structured logs: one JSON object per event, one line each. */

/** How much an event matters. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** One log line. Payloads and tokens are never logged; ids, rooms and codes are. */
export interface LogEntry {
  time: string;
  level: LogLevel;
  event: string;
  [field: string]: unknown;
}

/** Receives every log entry; `false` silences the server. */
export type Logger = ((entry: LogEntry) => void) | false;

/**
 * The default logger: one JSON line per entry on stderr, so stdout stays free for the app.
 * Debug entries (one per refused frame) are left out: a misbehaving client could flood the log.
 */
export function stderrLogger(entry: LogEntry): void {
  if (entry.level === 'debug') return;
  process.stderr.write(`${JSON.stringify(entry)}\n`);
}

/** Binds a {@link Logger} to a `log(level, event, fields)` function. */
export function createLog(logger: Logger): (level: LogLevel, event: string, fields?: Record<string, unknown>) => void {
  if (logger === false) return () => {};
  return (level, event, fields) => {
    logger({ time: new Date().toISOString(), level, event, ...fields });
  };
}
