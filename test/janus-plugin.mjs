// Real Janus beside the browser suite: Debian's `janus` started by scripts/janus.mjs (inside
// scripts/netns.sh only) and a peerkit signaling server bridged to it, serving WHIP/WHEP with room
// tokens. Tests read MEDIA_URL (or JANUS_MISSING, why Janus cannot run here) from
// /__peerkit/janus-env.js, mint tokens and ask Janus's Admin API for its sessions with the
// `janus` command. PEERKIT_JANUS_DEBUG=1 prints the bridge's log on stderr.
import { createRoomToken, createSignalingServer } from '../dist/server/index.js';
import { JanusUnavailable, startJanus } from '../scripts/janus.mjs';

const SECRET = 'peerkit-test-media-secret';

export function janusPlugin() {
  let janus;
  let server;
  let mediaUrl = null;
  let missing = null;
  let failed = null;
  return {
    name: 'peerkit-janus',
    async serverStart() {
      try {
        janus = await startJanus();
      } catch (error) {
        // Unavailable: the WHIP tests skip. Failed: they fail with why, and the rest of the suite runs.
        if (error instanceof JanusUnavailable) missing = error.message;
        else failed = error instanceof Error ? error.message : String(error);
        return;
      }
      server = createSignalingServer({ logger: process.env.PEERKIT_JANUS_DEBUG ? (e) => console.error(JSON.stringify(e)) : false, tokenSecret: SECRET, janus: [janus.url] });
      mediaUrl = `http://127.0.0.1:${(await server.listen(0, '127.0.0.1')).port}`;
    },
    async serverStop() {
      await server?.close();
      await janus?.stop();
    },
    serve(context) {
      if (context.path !== '/__peerkit/janus-env.js') return undefined;
      const body = [`export const MEDIA_URL = ${JSON.stringify(mediaUrl)};`, `export const JANUS_MISSING = ${JSON.stringify(missing)};`, `export const JANUS_FAILED = ${JSON.stringify(failed)};`].join('\n');
      return { body, type: 'js' };
    },
    async executeCommand({ command, payload }) {
      if (command !== 'janus') return undefined;
      if (payload?.action === 'token') return createRoomToken(SECRET, payload.room, 600, payload.sub);
      if (payload?.action === 'sessions') return (await janus.sessions()).length;
      throw new Error(`janus command: unknown action ${JSON.stringify(payload)}`);
    },
  };
}
