/**
 * The WHIP (RFC 9725) and WHEP endpoints on the signaling server's HTTP server:
 *
 *   POST   /whip/<room>/<member>        publish `member`'s feed          201 + answer
 *   POST   /whep/<room>/<member>        play `member`'s feed             406 + Janus's counter-offer
 *   PATCH  /whep/<room>/<member>/<id>   application/sdp: the answer      204
 *   PATCH  /whi[pe]p/<room>/<member>/<id>  trickle-ice-sdpfrag          204, or 200 + fragment (ICE restart)
 *   DELETE /whi[pe]p/<room>/<member>/<id>                                200
 *
 * Every request needs `Authorization: Bearer <room token>` for the room (server/tokens.ts), signed
 * with `--token-secret` or, without one, with the random secret of this process that signed the
 * tokens in `joined`; publishing also needs the token's `sub` to be the member, so a member
 * publishes only its own feed and plays only feeds of rooms it holds a token for.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { IceServersProvider } from '../options.js';
import type { IceServer, SfuInfo } from '../protocol.js';
import { createRoomToken, verifyRoomToken } from '../tokens.js';
import type { MediaResource, SfuBridge } from './bridge.js';
import { SfuError } from './bridge.js';

/** What the endpoints need from the server. */
export interface MediaHttpContext {
  bridge: SfuBridge;
  origins: ReadonlySet<string> | undefined;
  /** Signs and checks the media tokens: `--token-secret`, or a random one of this process. */
  tokenSecret: string;
  iceServers: IceServersProvider;
}

/** How long the media token in `joined` lasts: a call longer than this re-joins for a new one. */
const MEDIA_TOKEN_TTL_S = 12 * 3600;

/**
 * A joining member's SFU endpoints, for its `joined`: relative to the server's origin (the client
 * resolves them against the URL it connected to, so proxies need no configuration), with a room
 * token whose `sub` is the member, so it publishes only as itself.
 */
export function sfuEndpoints(room: string, member: string, tokenSecret: string): SfuInfo {
  const at = encodeURIComponent(room);
  return { whip: `/whip/${at}/${encodeURIComponent(member)}`, whep: `/whep/${at}/`, token: createRoomToken(tokenSecret, room, MEDIA_TOKEN_TTL_S, member) };
}

const MAX_BODY_BYTES = 256 * 1024;
const SDP = 'application/sdp';
const FRAGMENT = 'application/trickle-ice-sdpfrag';

interface Route {
  kind: 'whip' | 'whep';
  room: string;
  member: string;
  id: string | undefined;
}

/** The route of a WHIP/WHEP path, undefined for any other path, null for a malformed one. */
function route(url: string | undefined): Route | undefined | null {
  const path = (url ?? '/').split('?', 1)[0] ?? '/';
  const parts = path.split('/').slice(1);
  const kind = parts[0];
  if (kind !== 'whip' && kind !== 'whep') return undefined;
  if (parts.length < 3 || parts.length > 4) return null;
  try {
    const [room, member, id] = parts.slice(1).map((part) => decodeURIComponent(part));
    if (room === undefined || member === undefined || room === '' || member === '' || id === '') return null;
    return { kind, room, member, id };
  } catch {
    return null;
  }
}

function linkHeader(server: IceServer): string[] {
  const urls = typeof server.urls === 'string' ? [server.urls] : server.urls;
  return urls.map((url) => {
    let link = `<${url}>; rel="ice-server"`;
    if (server.username !== undefined) link += `; username="${server.username}"`;
    if (server.credential !== undefined) link += `; credential="${server.credential}"; credential-type="password"`;
    return link;
  });
}

/**
 * Answers a WHIP/WHEP request and returns true, or returns false for any other path, which the
 * caller serves.
 */
export function handleMediaHttp(ctx: MediaHttpContext, req: IncomingMessage, res: ServerResponse): boolean {
  const found = route(req.url);
  if (found === undefined) return false;
  const origin = req.headers.origin;
  if (origin !== undefined && ctx.origins !== undefined) {
    if (!ctx.origins.has(origin)) {
      reply(res, 403, 'origin not allowed');
      return true;
    }
    res.setHeader('access-control-allow-origin', origin);
    res.setHeader('vary', 'Origin');
  } else {
    res.setHeader('access-control-allow-origin', '*');
  }
  res.setHeader('access-control-expose-headers', 'Location, ETag, Link, Accept-Patch, Retry-After');
  if (found === null && req.method !== 'OPTIONS') {
    reply(res, 404, 'no such endpoint');
    return true;
  }
  if (found === null) {
    // A preflight is answered on any path, so that the request itself can get its 404.
    preflight(res, 'POST, PATCH, DELETE, OPTIONS', false);
    return true;
  }
  serve(ctx, found, req, res).catch((error: unknown) => {
    if (error instanceof SfuError) {
      if (error.status === 503) res.setHeader('retry-after', '2');
      reply(res, error.status, error.message);
    } else {
      reply(res, 500, error instanceof Error ? error.message : String(error));
    }
  });
  return true;
}

async function serve(ctx: MediaHttpContext, at: Route, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const endpoint = at.id === undefined;
  const methods = endpoint ? 'POST, OPTIONS' : 'PATCH, DELETE, OPTIONS';
  if (req.method === 'OPTIONS') {
    preflight(res, methods, endpoint);
    return;
  }
  if (!(endpoint ? ['POST'] : ['PATCH', 'DELETE']).includes(req.method ?? '')) {
    res.setHeader('allow', methods);
    reply(res, 405, 'method not allowed');
    return;
  }
  const sub = authorize(ctx, at, req, res);
  if (sub === false) return;
  const body = await readBody(req);
  if (body === undefined) {
    reply(res, 413, 'body too large');
    return;
  }
  const type = (req.headers['content-type'] ?? '').split(';', 1)[0]?.trim().toLowerCase();
  const location = `/${at.kind}/${encodeURIComponent(at.room)}/${encodeURIComponent(at.member)}`;
  if (endpoint) {
    if (type !== SDP || body === '') {
      reply(res, 415, 'expected an application/sdp offer');
      return;
    }
    const links = (await ctx.iceServers({ id: sub ?? at.member, room: at.room, ...(sub === undefined ? {} : { sub }) })).flatMap(linkHeader);
    if (links.length > 0) res.setHeader('link', links);
    if (at.kind === 'whip') {
      const { resource, answer } = await ctx.bridge.publish(at.room, at.member, body);
      created(res, 201, `${location}/${resource.id}`, resource, FRAGMENT);
      res.end(answer);
    } else {
      // Janus's VideoRoom always offers to subscribers, so the client's offer is answered with a
      // counter-offer (WHEP, 406) that the client answers by PATCH.
      const { resource, offer } = await ctx.bridge.subscribe(at.room, at.member, sub);
      created(res, 406, `${location}/${resource.id}`, resource, `${SDP}, ${FRAGMENT}`);
      res.end(offer);
    }
    return;
  }
  const resource = ctx.bridge.resource(at.id ?? '');
  if (resource === undefined || resource.kind !== at.kind || resource.room !== at.room || resource.member !== at.member) {
    reply(res, 404, 'no such session');
    return;
  }
  if (req.method === 'DELETE') {
    await ctx.bridge.delete(resource.id);
    reply(res, 200, 'ended');
    return;
  }
  if (type === SDP && at.kind === 'whep') {
    await ctx.bridge.answer(resource.id, body);
    res.writeHead(204).end();
    return;
  }
  if (type !== FRAGMENT) {
    reply(res, 415, `expected ${FRAGMENT}`);
    return;
  }
  const ifMatch = req.headers['if-match'];
  if (ifMatch === undefined) {
    reply(res, 428, 'If-Match is required');
    return;
  }
  const restart = ifMatch.trim() === '*';
  if (!restart && ifMatch.trim() !== resource.etag) {
    reply(res, 412, 'the session has changed (ETag)');
    return;
  }
  const fragment = await ctx.bridge.patch(resource.id, body, restart);
  if (fragment === undefined) {
    res.writeHead(204).end();
    return;
  }
  res.writeHead(200, { 'content-type': FRAGMENT, etag: resource.etag, 'cache-control': 'no-store' });
  res.end(fragment);
}

function preflight(res: ServerResponse, methods: string, endpoint: boolean): void {
  res.setHeader('access-control-allow-methods', methods);
  res.setHeader('access-control-allow-headers', 'Authorization, Content-Type, If-Match');
  res.setHeader('access-control-max-age', '600');
  if (endpoint) res.setHeader('accept-post', SDP);
  res.writeHead(204).end();
}

/** The token's `sub` (undefined when it has none), or false after answering 401/403. */
function authorize(ctx: MediaHttpContext, at: Route, req: IncomingMessage, res: ServerResponse): string | undefined | false {
  const header = req.headers.authorization ?? '';
  const token = header.startsWith('Bearer ') ? header.slice('Bearer '.length).trim() : '';
  const claims = token === '' ? { refused: 'a Bearer token is required' } : verifyRoomToken(ctx.tokenSecret, token, at.room, Date.now() / 1000);
  if ('refused' in claims) {
    res.setHeader('www-authenticate', 'Bearer');
    reply(res, 401, claims.refused);
    return false;
  }
  if (at.kind === 'whip' && claims.sub !== at.member) {
    reply(res, 403, 'the token does not let its holder publish as this member');
    return false;
  }
  return claims.sub;
}

function created(res: ServerResponse, status: 201 | 406, location: string, resource: MediaResource, acceptPatch: string): void {
  res.writeHead(status, {
    'content-type': SDP,
    location,
    etag: resource.etag,
    'accept-patch': acceptPatch,
    'cache-control': 'no-store',
  });
}

async function readBody(req: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function reply(res: ServerResponse, status: number, message: string): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify({ error: message }));
}
