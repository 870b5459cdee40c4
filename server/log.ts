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

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** The levels from least to most severe, for validating a `--log-level`. */
export const LOG_LEVELS = Object.keys(RANK) as LogLevel[];

/**
 * A logger writing one JSON line per entry of at least `level` on stderr, so stdout stays free
 * for the app.
 */
export function stderrLoggerAt(level: LogLevel): Logger {
  const least = RANK[level];
  return (entry) => {
    if (RANK[entry.level] >= least) process.stderr.write(`${JSON.stringify(entry)}\n`);
  };
}

/**
 * The default logger: {@link stderrLoggerAt} `info`. Debug entries (one per refused frame) are
 * left out: a misbehaving client could flood the log.
 */
export const stderrLogger: Logger = stderrLoggerAt('info');

/** Binds a {@link Logger} to a `log(level, event, fields)` function. */
export function createLog(logger: Logger): (level: LogLevel, event: string, fields?: Record<string, unknown>) => void {
  if (logger === false) return () => {};
  return (level, event, fields) => {
    logger({ time: new Date().toISOString(), level, event, ...fields });
  };
}
