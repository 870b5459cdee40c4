/** Plain HTTP endpoints served on the signaling port: health and metrics. */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** What the endpoints read from the running server. */
export interface HttpContext {
  isShuttingDown: () => boolean;
  gauges: () => { connections: number; rooms: number; members: number };
  /** Absent where metrics are served elsewhere (`metricsPort`): `/metrics` is 404 then. */
  renderMetrics?: (() => string) | undefined;
  /** A bearer token `/metrics` requires, if any. */
  metricsToken?: string | undefined;
  /** Extra health fields (the SFU bridge's Janus instances), and whether they make it degraded. */
  health?: () => { fields: Record<string, unknown>; degraded: boolean };
}

/** One of the endpoints. */
export type Endpoint = 'healthz' | 'metrics';

/** The path of a request URL, without its query. */
export function pathOf(url: string | undefined): string {
  return (url ?? '/').split('?', 1)[0] ?? '/';
}

/** Which endpoint `url` names under `base` (`'/'` or a path such as `'/signal'`), if any. */
export function endpointOf(url: string | undefined, base = '/'): Endpoint | undefined {
  const path = pathOf(url);
  const prefix = base.endsWith('/') ? base : `${base}/`;
  if (!path.startsWith(prefix)) return undefined;
  const rest = path.slice(prefix.length);
  return rest === 'healthz' || rest === 'metrics' ? rest : undefined;
}

/** Answers `GET /healthz` and `GET /metrics`; everything else is 404 (or 405 for other methods). */
export function handleHttp(ctx: HttpContext, req: IncomingMessage, res: ServerResponse): void {
  const endpoint = endpointOf(req.url);
  if (endpoint === undefined) return notFound(res);
  serveEndpoint(ctx, endpoint, req, res);
}

/** Answers one endpoint; 405 for methods other than GET and HEAD. */
export function serveEndpoint(ctx: HttpContext, endpoint: Endpoint, req: IncomingMessage, res: ServerResponse): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    reply(res, 405, 'application/json', JSON.stringify({ error: 'method not allowed' }));
    return;
  }
  if (endpoint === 'metrics') {
    if (ctx.renderMetrics === undefined) return notFound(res);
    if (ctx.metricsToken !== undefined && !bearerMatches(req.headers.authorization, ctx.metricsToken)) {
      res.setHeader('www-authenticate', 'Bearer');
      reply(res, 401, 'application/json', JSON.stringify({ error: 'unauthorized' }));
      return;
    }
    reply(res, 200, 'text/plain; version=0.0.4; charset=utf-8', ctx.renderMetrics());
    return;
  }
  // 503 while draining, so a load balancer stops sending new clients here.
  const shuttingDown = ctx.isShuttingDown();
  const extra = ctx.health?.();
  const status = shuttingDown ? 'shutting-down' : extra?.degraded === true ? 'degraded' : 'ok';
  const body = { status, ...ctx.gauges(), ...extra?.fields };
  reply(res, shuttingDown ? 503 : 200, 'application/json', JSON.stringify(body));
}

/** Compares in constant time, so response timing does not reveal the token byte by byte. */
function bearerMatches(header: string | undefined, token: string): boolean {
  const given = Buffer.from(header ?? '');
  const wanted = Buffer.from(`Bearer ${token}`);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}

function notFound(res: ServerResponse): void {
  reply(res, 404, 'application/json', JSON.stringify({ error: 'not found' }));
}

function reply(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
