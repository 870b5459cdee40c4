/**
 * Turns a command line, an environment and an optional `--config` JSON file into
 * {@link Settings}, through the one table of flags ({@link FLAGS}).
 */
import { parseArgs } from 'node:util';
import type { Flag, Settings } from './flags.js';
import { FLAGS, FlagError, envName, parseValue } from './flags.js';
import { stderrLoggerAt } from './log.js';

/** What the command line asks for. */
export type Command = { kind: 'help' } | { kind: 'version' } | { kind: 'run'; settings: Settings };

/**
 * Reads the settings. The command line wins over the environment, which wins over the file.
 * @param readFile - Reads the `--config` file as text.
 * @throws FlagError for an unknown flag or key, or a value of the wrong kind.
 */
export function readCommand(argv: string[], env: Record<string, string | undefined>, readFile: (path: string) => string): Command {
  let parsed: Record<string, string | string[] | boolean | undefined>;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        // A list flag may be repeated (--janus a --janus b), as well as given comma-separated.
        ...Object.fromEntries(FLAGS.map((flag) => [flag.name, { type: flag.kind === 'boolean' ? 'boolean' : 'string', multiple: flag.kind === 'list' } as const])),
        config: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    throw new FlagError(error instanceof Error ? error.message : String(error));
  }
  if (parsed.help === true) return { kind: 'help' };
  if (parsed.version === true) return { kind: 'version' };
  const configPath = typeof parsed.config === 'string' ? parsed.config : env[envName('config')];
  const file = configPath === undefined || configPath === '' ? {} : readConfigFile(configPath, readFile);

  const settings: Settings = { server: {}, port: 8787, host: '127.0.0.1', logLevel: 'info' };
  for (const flag of FLAGS) {
    const given = valueOf(flag, parsed[flag.name], env, file);
    if (given !== undefined) apply(flag, settings, parseValue(flag, given.raw, given.source));
  }
  finish(settings);
  return { kind: 'run', settings };
}

function valueOf(flag: Flag, cli: unknown, env: Record<string, string | undefined>, file: Record<string, unknown>): { raw: unknown; source: string } | undefined {
  if (cli !== undefined) return { raw: Array.isArray(cli) ? cli.join(',') : cli, source: `--${flag.name}` };
  for (const name of [envName(flag.name), ...(flag.env ?? [])]) {
    const value = env[name];
    // An empty variable is how a shell or a unit file unsets one.
    if (value !== undefined && value !== '') return { raw: value, source: name };
  }
  if (flag.name in file) return { raw: file[flag.name], source: `"${flag.name}" in the config file` };
  return undefined;
}

function apply(flag: Flag, settings: Settings, value: unknown): void {
  // parseValue returned the type of this flag's kind; TypeScript cannot follow that across the union.
  (flag.set as (s: Settings, v: unknown) => void)(settings, value);
}

function readConfigFile(path: string, readFile: (path: string) => string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(readFile(path));
  } catch (error) {
    throw new FlagError(`--config ${path}: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new FlagError(`--config ${path}: must hold a JSON object of settings`);
  const known = new Set(FLAGS.map((flag) => flag.name));
  const unknown = Object.keys(value).filter((key) => !known.has(key));
  if (unknown.length > 0) throw new FlagError(`--config ${path}: unknown setting ${unknown.map((k) => `"${k}"`).join(', ')}`);
  return value as Record<string, unknown>;
}

/** Checks across flags, and the logger the level asks for. */
function finish(settings: Settings): void {
  const { turnUrls, turnSecret, turnTtl } = settings;
  if ((turnSecret === undefined) !== (turnUrls === undefined) || (turnTtl !== undefined && turnUrls === undefined)) {
    throw new FlagError('--turn-urls and --turn-secret go together (and --turn-ttl needs them)');
  }
  if (turnSecret !== undefined && turnUrls !== undefined) {
    settings.server.turn = turnTtl === undefined ? { secret: turnSecret, urls: turnUrls } : { secret: turnSecret, urls: turnUrls, ttlSeconds: turnTtl };
  }
  const { redis } = settings;
  if (redis !== undefined) {
    // A URL alone stays the plain string form of the option.
    const only = Object.keys(redis);
    settings.server.redis = only.length === 1 && redis.url !== undefined ? redis.url : redis;
  }
  settings.server.logger = settings.logLevel === 'silent' ? false : stderrLoggerAt(settings.logLevel);
}
