/**
 * The HTTP side of WHIP (RFC 9725) and WHEP: requests with a Bearer token and a deadline, statuses
 * as {@link PeerKitError} codes, `Link: rel="ice-server"` headers as ICE servers.
 * @internal
 * @packageDocumentation
 */
import { PeerKitError } from '../errors.js';
import type { PeerKitErrorCode } from '../errors.js';

/** A fetch function; the global one unless the options give another. */
export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

/** What every request of a session carries. */
export interface RequestContext {
  fetch: FetchLike;
  token: string | undefined;
}

/**
 * Sends one request; redirects (307/308 keep the method and body) are followed by fetch itself,
 * and `response.url` is where the request ended up, against which a relative `Location` resolves.
 * With `keepalive` the request outlives the page (a DELETE sent as the tab closes still ends the
 * session on the server).
 */
export async function request(
  ctx: RequestContext,
  method: string,
  url: string,
  headers: Record<string, string>,
  body: string | undefined,
  deadline: number,
  keepalive = false,
): Promise<Response> {
  const remaining = deadline - Date.now();
  if (remaining <= 0) throw new PeerKitError('TIMEOUT', `${method} ${url} was not sent: the time ran out.`);
  const all: Record<string, string> = { ...headers };
  // RFC 9725 section 4.5: no Authorization header at all without a token.
  if (ctx.token !== undefined) all.authorization = `Bearer ${ctx.token}`;
  const init: RequestInit = { method, headers: all, signal: AbortSignal.timeout(remaining), redirect: 'follow', keepalive };
  if (body !== undefined) init.body = body;
  try {
    const response = await ctx.fetch(url, init);
    // Fetch drops Authorization when a redirect changes origin (https://github.com/whatwg/fetch/pull/1544),
    // so the server the token was for, redirecting to another, would only ever get a 401 from there:
    // the request goes once more to where it ended up, with the token. The redirect is the choice
    // of the endpoint the caller gave the token to (a WHIP load balancer's 307).
    if (response.status === 401 && response.redirected && ctx.token !== undefined && new URL(response.url).origin !== new URL(url, response.url).origin) {
      return await ctx.fetch(response.url, init);
    }
    return response;
  } catch (error) {
    if (error instanceof DOMException && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
      throw new PeerKitError('TIMEOUT', `${method} ${url} got no answer in time.`, { cause: error });
    }
    throw new PeerKitError('SERVER_ERROR', `${method} ${url} could not reach the server (network, CORS or TLS).`, { cause: error });
  }
}

/** The code a failed status maps to. */
export function statusCode(status: number): PeerKitErrorCode {
  if (status === 401 || status === 403) return 'UNAUTHORIZED';
  if (status === 404) return 'NOT_FOUND';
  if (status === 409) return 'NOT_LIVE';
  if (status >= 500) return 'SERVER_ERROR';
  return 'BAD_REQUEST';
}

/** A PeerKitError for a response that failed, with the server's words when it sent some. */
export async function statusError(what: string, response: Response): Promise<PeerKitError> {
  const text = (await response.text().catch(() => '')).slice(0, 300);
  const code = statusCode(response.status);
  return new PeerKitError(code, `${what} failed with HTTP ${response.status}${text === '' ? '' : `: ${text}`}`);
}

/** `Retry-After` in ms (seconds or an HTTP date), or `fallback` when absent or unreadable. */
export function retryAfterMs(response: Response, fallback: number): number {
  const value = response.headers.get('retry-after');
  if (value === null) return fallback;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? fallback : Math.max(0, date - Date.now());
}

/** Splits a header value on `separator` outside `<...>` and quotes. */
function splitOutside(value: string, separator: ',' | ';'): string[] {
  const out: string[] = [];
  let current = '';
  let inAngle = false;
  let inQuote = false;
  for (const char of value) {
    if (char === '<' && !inQuote) inAngle = true;
    else if (char === '>' && !inQuote) inAngle = false;
    else if (char === '"' && !inAngle) inQuote = !inQuote;
    if (char === separator && !inAngle && !inQuote) {
      out.push(current);
      current = '';
    } else current += char;
  }
  out.push(current);
  return out.map((part) => part.trim()).filter((part) => part !== '');
}

/** The ICE servers of `Link: <url>; rel="ice-server"; username=...; credential=...` headers (RFC 9725 section 4.6). */
export function iceServersFromLinks(value: string | null): RTCIceServer[] {
  if (value === null) return [];
  const servers: RTCIceServer[] = [];
  for (const link of splitOutside(value, ',')) {
    const match = /^<([^>]*)>(.*)$/.exec(link);
    if (match === null) continue;
    const params = new Map<string, string>();
    for (const param of splitOutside(match[2] ?? '', ';')) {
      const eq = param.indexOf('=');
      if (eq < 0) continue;
      params.set(param.slice(0, eq).trim().toLowerCase(), param.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1'));
    }
    if (params.get('rel') !== 'ice-server' || match[1] === undefined) continue;
    const server: RTCIceServer = { urls: match[1] };
    const username = params.get('username');
    const credential = params.get('credential');
    if (username !== undefined) server.username = username;
    if (credential !== undefined) server.credential = credential;
    servers.push(server);
  }
  return servers;
}
