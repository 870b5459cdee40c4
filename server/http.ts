/** Plain HTTP endpoints served on the signaling port: health and metrics. */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** What the endpoints read from the running server. */
export interface HttpContext {
  isShuttingDown: () => boolean;
  gauges: () => { connections: number; rooms: number; members: number };
  renderMetrics: () => string;
  /** Extra health fields (the SFU bridge's Janus instances), and whether they make it degraded. */
  health?: () => { fields: Record<string, unknown>; degraded: boolean };
}

/** Answers `GET /healthz` and `GET /metrics`; everything else is 404 (or 405 for other methods). */
export function handleHttp(ctx: HttpContext, req: IncomingMessage, res: ServerResponse): void {
  const path = (req.url ?? '/').split('?', 1)[0];
  if (path !== '/healthz' && path !== '/metrics') {
    reply(res, 404, 'application/json', JSON.stringify({ error: 'not found' }));
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    reply(res, 405, 'application/json', JSON.stringify({ error: 'method not allowed' }));
    return;
  }
  if (path === '/metrics') {
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

function reply(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
