/**
 * Who is asking and how the outside world reached us. X-Forwarded-* headers are honoured only
 * from socket peers in BERTH_TRUSTED_PROXIES; from anyone else they are ignored (and replaced on
 * the way upstream), because a client could otherwise choose its own hosted URLs or client IP.
 */
import type { IncomingMessage } from 'node:http';
import { BlockList, isIP, isIPv4 } from 'node:net';
import { BerthError } from '../errors.js';

/** Parsed BERTH_TRUSTED_PROXIES. */
export interface TrustedProxies {
  /** True when `ip` (as `socket.remoteAddress` reports it) is a trusted proxy. */
  contains(ip: string | undefined): boolean;
  /** True when no proxy is trusted: lets the hot path skip the lookup. */
  readonly empty: boolean;
}

/** How the outside world reached this request. */
export interface ForwardedInfo {
  proto: 'http' | 'https';
  /** host[:port] as the browser sees it. */
  host: string;
  /** Outer path prefix: '' or `/seg[/seg…]` (leading slash, no trailing slash). */
  prefix: string;
  /** The client as far as trusted proxies vouch for it, else the socket peer. */
  clientIp: string;
}

/** The raw inputs of `forwardedInfo`, so the proxy can feed values it already scanned. */
export interface ForwardedInputs {
  peer: string | undefined;
  encrypted: boolean;
  host: string | undefined;
  xfHost: string | undefined;
  xfProto: string | undefined;
  xfPrefix: string | undefined;
  xfFor: string | undefined;
  /** Used when the request carries no Host (HTTP/1.0). */
  localHost: string;
}

const MAPPED_DOTTED = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i;
const MAPPED_HEX = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i;

/** `::ffff:10.0.0.1` (or its hex form) → `10.0.0.1`; anything else unchanged. */
export function unmapIPv4(ip: string): string {
  const dotted = MAPPED_DOTTED.exec(ip);
  if (dotted) return dotted[1]!;
  const hex = MAPPED_HEX.exec(ip);
  if (hex) {
    const hi = parseInt(hex[1]!, 16);
    const lo = parseInt(hex[2]!, 16);
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  return ip;
}

/**
 * Parses CIDRs (`10.0.0.0/8`, `fd00::/8`) and bare addresses (`127.0.0.1` = /32, `::1` = /128).
 * Throws E_CONFIG naming the first invalid entry. IPv4-mapped IPv6 peers (`::ffff:10.1.2.3`, what
 * a dual-stack listener reports) match IPv4 ranges.
 */
export function parseTrustedProxies(cidrs: readonly string[]): TrustedProxies {
  const list = new BlockList();
  let count = 0;
  for (const raw of cidrs) {
    const entry = raw.trim();
    if (!entry) continue;
    const slash = entry.indexOf('/');
    const addr = unmapIPv4(slash === -1 ? entry : entry.slice(0, slash));
    const family = isIP(addr);
    const max = family === 4 ? 32 : 128;
    const bits = slash === -1 ? max : Number(entry.slice(slash + 1));
    if (family === 0 || !Number.isInteger(bits) || bits < 0 || bits > max || (slash !== -1 && !/^\d+$/.test(entry.slice(slash + 1)))) {
      throw new BerthError('E_CONFIG', `invalid trusted proxy ${JSON.stringify(entry)}`, {
        hint: 'BERTH_TRUSTED_PROXIES takes comma-separated CIDRs such as 10.0.0.0/8,::1/128',
      });
    }
    list.addSubnet(addr, bits, family === 4 ? 'ipv4' : 'ipv6');
    count++;
  }
  const empty = count === 0;
  return {
    empty,
    contains(ip) {
      if (empty || !ip) return false;
      const addr = unmapIPv4(ip);
      const family = isIP(addr);
      if (family === 0) return false;
      return list.check(addr, family === 4 ? 'ipv4' : 'ipv6');
    },
  };
}

const PREFIX_CHARS = /^[A-Za-z0-9._~/-]*$/;

/**
 * Normalizes an X-Forwarded-Prefix: first value of a list, leading slash, slashes collapsed, no
 * trailing slash. Anything with other characters or dot segments becomes '' (it is pasted into
 * URLs and HTML, so we refuse rather than escape).
 */
export function normalizePrefix(raw: string | undefined): string {
  if (!raw) return '';
  const comma = raw.indexOf(',');
  const value = (comma === -1 ? raw : raw.slice(0, comma)).trim();
  if (!value || !PREFIX_CHARS.test(value)) return '';
  const segments = value.split('/').filter((s) => s !== '');
  if (segments.some((s) => s === '.' || s === '..')) return '';
  return segments.length === 0 ? '' : '/' + segments.join('/');
}

const HOST_CHARS = /^(?:[a-z0-9.-]+|\[[0-9a-f:.]+\])(?::\d{1,5})?$/i;

function firstListValue(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  const comma = v.indexOf(',');
  const first = (comma === -1 ? v : v.slice(0, comma)).trim();
  return first || undefined;
}

/** Client IP from an X-Forwarded-For chain: the rightmost hop not itself a trusted proxy. */
function clientFromChain(xfFor: string, peer: string, trusted: TrustedProxies): string {
  const hops = xfFor.split(',');
  let client = peer;
  for (let i = hops.length - 1; i >= 0; i--) {
    if (!trusted.contains(client)) break;
    const hop = unmapIPv4(hops[i]!.trim());
    if (isIP(hop) === 0) break; // garbage (or a spoofed name): stop at the last address we vouch for
    client = hop;
  }
  return client;
}

/** `forwardedInfo` over already-extracted header values (the proxy's hot path uses this). */
export function resolveForwarded(inp: ForwardedInputs, trusted: TrustedProxies): ForwardedInfo {
  const peer = inp.peer ? unmapIPv4(inp.peer) : '';
  const ownHost = inp.host && HOST_CHARS.test(inp.host) ? inp.host : inp.localHost;
  const ownProto = inp.encrypted ? 'https' : 'http';
  if (!trusted.contains(inp.peer)) return { proto: ownProto, host: ownHost, prefix: '', clientIp: peer };

  const xfProto = firstListValue(inp.xfProto)?.toLowerCase();
  const xfHost = firstListValue(inp.xfHost);
  return {
    proto: xfProto === 'https' || xfProto === 'http' ? xfProto : ownProto,
    host: xfHost && HOST_CHARS.test(xfHost) ? xfHost : ownHost,
    prefix: normalizePrefix(inp.xfPrefix),
    clientIp: inp.xfFor ? clientFromChain(inp.xfFor, peer, trusted) : peer,
  };
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

/**
 * Proto, host, outer prefix and client IP of a request. X-Forwarded-Host/-Proto/-Prefix/-For are
 * used only when the socket peer is trusted; otherwise everything comes from the request itself
 * (Host header, socket encryption) and the prefix is ''. The API uses this to build hosted URLs.
 */
export function forwardedInfo(req: IncomingMessage, trusted: TrustedProxies): ForwardedInfo {
  const socket = req.socket as IncomingMessage['socket'] & { encrypted?: boolean };
  const local = socket.localAddress ? unmapIPv4(socket.localAddress) : '127.0.0.1';
  return resolveForwarded(
    {
      peer: socket.remoteAddress,
      encrypted: socket.encrypted === true,
      host: req.headers.host,
      xfHost: header(req, 'x-forwarded-host'),
      xfProto: header(req, 'x-forwarded-proto'),
      xfPrefix: header(req, 'x-forwarded-prefix'),
      xfFor: header(req, 'x-forwarded-for'),
      localHost: `${isIPv4(local) ? local : `[${local}]`}:${socket.localPort ?? 80}`,
    },
    trusted,
  );
}
