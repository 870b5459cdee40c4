/** The client address of a request, through trusted reverse proxies (`X-Forwarded-For`). */
import type { IncomingMessage } from 'node:http';

/**
 * `address:port` of the peer, or with `trustedHops` > 0 the address the nearest trusted proxy
 * saw: each proxy appends the address it received the request from, so with N trusted proxies
 * the client is the N-th entry from the end. Earlier entries came from the client itself and are
 * not believed. Without the header (a request straight to the server), the peer's address.
 */
export function remoteAddress(req: IncomingMessage, trustedHops: number): string {
  const direct = `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}`;
  if (trustedHops === 0) return direct;
  const header = req.headers['x-forwarded-for'];
  const chain = [header ?? []]
    .flat()
    .join(',')
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0);
  if (chain.length === 0) return direct;
  return chain[Math.max(0, chain.length - trustedHops)] ?? direct;
}
