#!/usr/bin/env node
/**
 * `peerkit-signal`: runs the signaling server from the command line. SIGTERM or SIGINT drains it
 * (`--drain-ms`) and exits; a second one exits at once.
 */
import { readFileSync } from 'node:fs';
import { readCommand } from './config.js';
import { FlagError, usage } from './flags.js';
import { createSignalingServer } from './index.js';

function fail(message: string): never {
  process.stderr.write(`peerkit-signal: ${message}\n\n${usage()}`);
  process.exit(2);
}

/** The version of the package this file was installed with (peerkit-signal's package.json, above dist/). */
function version(): string {
  const manifest: unknown = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  return typeof manifest === 'object' && manifest !== null && 'version' in manifest ? String(manifest.version) : 'unknown';
}

let command;
try {
  command = readCommand(process.argv.slice(2), process.env, (path) => readFileSync(path, 'utf8'));
} catch (error) {
  if (!(error instanceof FlagError)) throw error;
  fail(error.message);
}
if (command.kind === 'help') {
  process.stdout.write(usage());
  process.exit(0);
}
if (command.kind === 'version') {
  process.stdout.write(`${version()}\n`);
  process.exit(0);
}

const { settings } = command;
let server;
try {
  server = createSignalingServer(settings.server);
} catch (error) {
  fail(error instanceof Error ? error.message : String(error));
}
const running = server;
running.listen(settings.port, settings.host).catch((error: unknown) => {
  process.stderr.write(`peerkit-signal: cannot listen on ${settings.host}:${settings.port}: ${String(error)}\n`);
  process.exit(1);
});

let stopping = false;
const stop = (): void => {
  // A second signal (another Ctrl-C) means now.
  if (stopping) process.exit(1);
  stopping = true;
  void running.drain().then(() => process.exit(0));
};
process.on('SIGINT', stop).on('SIGTERM', stop);
