// A Nostr relay for the tests, the bench and the demo: CodyTseng's @nostr-relay/core (NIP-01
// subscriptions and fan-out, signature checks, NIP-42 AUTH) with @nostr-relay/validator, the
// maintained relay library behind nostr-relay-tray, put on a `ws` server on 127.0.0.1. It keeps
// no events: peerkit only sends ephemeral ones (kinds 20000-29999), which a relay never stores.
//
// Run as a script it is one relay in its own process, so a test can kill it:
//   node scripts/nostr-relay.mjs --port 0 [--auth] [--refuse 'rate-limited: slow down']
// `--auth` makes it demand NIP-42 AUTH before it serves or takes anything (CLOSED / OK false
// "auth-required:"), as paid and private relays do; `--refuse` answers every EVENT with OK false
// and that reason, and a NOTICE, as a relay that rate-limits does. It prints `listening <port>`.
// Imported, `startNostrRelay(options)` spawns one and gives its URL and `kill()` / `start()` / `stop()`.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { crash, running } from './mosquitto.mjs';

const SELF = fileURLToPath(import.meta.url);

async function serve(args) {
  const { WebSocketServer } = await import('ws');
  const { NostrRelay } = await import('@nostr-relay/core');
  const { EventRepository, MessageType } = await import('@nostr-relay/common');
  const { Validator } = await import('@nostr-relay/validator');
  const option = (name) => {
    const i = args.indexOf(name);
    return i === -1 ? undefined : (args[i + 1] ?? '');
  };
  class NoStorage extends EventRepository {
    isSearchSupported = () => false;
    upsert = () => ({ isDuplicate: false });
    find = () => [];
    destroy = async () => {};
  }
  const auth = args.includes('--auth');
  const refuse = option('--refuse');
  const relay = new NostrRelay(new NoStorage(), { ...(auth && { hostname: '127.0.0.1' }), logLevel: 4 });
  if (auth || refuse !== undefined) {
    relay.register({
      async handleMessage(ctx, message, next) {
        const [type, first] = message;
        if (auth && ctx.pubkey === undefined && type === MessageType.REQ) return ctx.sendMessage([MessageType.CLOSED, first, 'auth-required: this relay serves members only']);
        if (auth && ctx.pubkey === undefined && type === MessageType.EVENT) return ctx.sendMessage([MessageType.OK, first.id, false, 'auth-required: this relay serves members only']);
        if (refuse !== undefined && type === MessageType.EVENT) {
          ctx.sendMessage([MessageType.NOTICE, refuse]);
          return ctx.sendMessage([MessageType.OK, first.id, false, refuse]);
        }
        return next();
      },
    });
  }
  const validator = new Validator();
  const wss = new WebSocketServer({ host: '127.0.0.1', port: Number(option('--port') ?? 0) });
  wss.on('connection', (socket) => {
    relay.handleConnection(socket);
    socket.on('message', async (data) => {
      try {
        await relay.handleMessage(socket, await validator.validateIncomingMessage(data));
      } catch (error) {
        if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(['NOTICE', `invalid: ${error.message}`]));
      }
    });
    socket.on('close', () => relay.handleDisconnect(socket));
    socket.on('error', () => {});
  });
  wss.on('listening', () => console.log(`listening ${wss.address().port}`));
}

/** Spawns a relay process; resolves once it listens. Options as the script's flags. */
export async function startNostrRelay({ auth = false, refuse } = {}) {
  let port = 0;
  let child;
  const start = () =>
    new Promise((resolve, reject) => {
      if (running(child)) return resolve(port);
      const args = [SELF, '--port', String(port), ...(auth ? ['--auth'] : []), ...(refuse === undefined ? [] : ['--refuse', refuse])];
      child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
      child.once('exit', (code) => reject(new Error(`the Nostr relay exited with ${code}`)));
      child.stdout.on('data', (chunk) => {
        const match = /listening (\d+)/.exec(String(chunk));
        if (match) resolve((port = Number(match[1])));
      });
    });
  const kill = () => crash(child);
  await start();
  return { url: `ws://127.0.0.1:${port}`, start, kill, stop: kill };
}

if (process.argv[1] === SELF) await serve(process.argv.slice(2));
