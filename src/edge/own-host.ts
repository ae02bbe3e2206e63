/**
 * Whether a request's `Host` names this Berth. Browsers set Host to what the user typed, but any
 * other client sets what it likes: a member creating a workspace with `Host: evil.example` had
 * that host stored in the workspace's URLs and in the private route's sign-in redirect, so an
 * admin following either landed on the member's page (a phishing login). URLs that Berth stores
 * or shows to other people must therefore come from trusted configuration only:
 *
 * 1. BERTH_PUBLIC_URL when set (the resolver in api/hosting.ts never looks at the request);
 * 2. X-Forwarded-Host/-Proto/-Prefix from a trusted proxy (BERTH_TRUSTED_PROXIES), which answers
 *    for what it forwards;
 * 3. otherwise a Host that names an address this listener answers on: the port the connection
 *    arrived at, and a name that cannot point elsewhere — `localhost` and `*.localhost` (RFC 6761:
 *    always loopback), a loopback address, the very address the connection arrived at, or this
 *    machine's host name (set by the operator);
 * 4. anything else is replaced by the address the connection arrived at (`ip:port`), which
 *    reaches this Berth from wherever that client is.
 *
 * Rule 3 instead of "any Host": a DNS name would need a lookup to prove it is ours, and an
 * attacker controls their own DNS. Operators who reach Berth by a DNS name set BERTH_PUBLIC_URL
 * (a warning says so once per rejected name).
 */
import type { IncomingMessage } from 'node:http';
import { hostname as osHostname } from 'node:os';
import { isIP } from 'node:net';
import { forwardedInfo, unmapIPv4, type ForwardedInfo, type TrustedProxies } from './forwarded.js';

/** The listener side of a connection, as `socket.localAddress` / `localPort` report it. */
export interface LocalEnd {
  address: string | undefined;
  port: number | undefined;
  encrypted: boolean;
}

/** `host[:port]` → [lower-cased name without brackets, port or null]; null when malformed. */
export function splitHost(host: string): [string, number | null] | null {
  const m = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::(\d{1,5}))?$/i.exec(host);
  if (!m) return null;
  const name = m[1]!.replace(/^\[|\]$/g, '').toLowerCase().replace(/\.$/, '');
  return [name, m[2] === undefined ? null : Number(m[2])];
}

function isLoopback(name: string): boolean {
  const ip = unmapIPv4(name);
  if (isIP(ip) === 4) return ip.startsWith('127.');
  return ip === '::1';
}

/**
 * True when `host` (a Host header value) names the listener at `local` (rules 3 above).
 * `machineName`: this machine's host name (default `os.hostname()`).
 */
export function isOwnHost(host: string | undefined, local: LocalEnd, machineName = osHostname()): boolean {
  if (!host || local.port === undefined) return false;
  const parts = splitHost(host);
  if (!parts) return false;
  const [name, port] = parts;
  if ((port ?? (local.encrypted ? 443 : 80)) !== local.port) return false;
  if (name === 'localhost' || name.endsWith('.localhost') || isLoopback(name)) return true;
  if (local.address && isIP(name) !== 0 && unmapIPv4(name) === unmapIPv4(local.address)) return true;
  return machineName !== '' && name === machineName.toLowerCase();
}

/** The connection's local end of `req`. */
export function localEndOf(req: IncomingMessage): LocalEnd {
  const socket = req.socket as IncomingMessage['socket'] & { encrypted?: boolean };
  return { address: socket.localAddress, port: socket.localPort, encrypted: socket.encrypted === true };
}

/** `ip:port` of the listener end (IPv6 in brackets): the fallback of rule 4. */
export function localHostOf(local: LocalEnd): string {
  const ip = local.address ? unmapIPv4(local.address) : '127.0.0.1';
  return `${isIP(ip) === 6 ? `[${ip}]` : ip}:${local.port ?? 80}`;
}

/**
 * `forwardedInfo` for building URLs that are stored or shown to others: the same, except that an
 * untrusted peer's Host is kept only when it names this listener (rule 3) and is replaced by the
 * listener's address otherwise (rule 4). `hostTrusted` says which happened (for a warning).
 * Comparisons with what the browser sent (Origin checks) keep using `forwardedInfo`.
 */
export function trustedForwardedInfo(req: IncomingMessage, trusted: TrustedProxies): ForwardedInfo & { hostTrusted: boolean } {
  const info = forwardedInfo(req, trusted);
  if (trusted.contains(req.socket.remoteAddress)) return { ...info, hostTrusted: true };
  const local = localEndOf(req);
  if (isOwnHost(req.headers.host, local)) return { ...info, hostTrusted: true };
  return { ...info, host: localHostOf(local), hostTrusted: false };
}
