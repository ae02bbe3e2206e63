/**
 * Request → route matching. The edge authorizes and routes on one normalized form of the path
 * (RFC 3986 dot segments removed, `%2F` kept encoded) and forwards that same form, so the edge
 * and the upstream can never disagree about which workload and port a request is for.
 */
import type { Route, RouteTable } from '../domain/route.js';

/** Outcome of matching one request against the table. */
export type MatchResult =
  /** Not a workload route: hand the request to the API unchanged. */
  | { readonly type: 'none' }
  /** Dial `route.upstream` with `path` (query included) as the request target. */
  | { readonly type: 'route'; readonly route: Route; readonly key: string; readonly path: string }
  /** `/hosted/{id}/{port}` without the slash; `location` is relative so outer prefixes survive. */
  | { readonly type: 'redirect'; readonly location: string }
  /** The workload exists but is not running: 503 naming it, never a dial. */
  | { readonly type: 'unavailable'; readonly route: Route }
  /** Malformed or unknown: 404, never a dial. `reason` is for logs only. */
  | { readonly type: 'not-found'; readonly reason: string }
  /** `/llm/…`: forward `path` (query included, below the LLM base URL). */
  | { readonly type: 'llm'; readonly path: string };

const NONE: MatchResult = Object.freeze({ type: 'none' });
const notFound = (reason: string): MatchResult => ({ type: 'not-found', reason });

const SLASH = 47;
const DOT = 46;
const PERCENT = 37;
const BACKSLASH = 92;

/** True when the path needs the slow path: dots, escapes, backslashes, NUL or `//`. */
function needsNormalizing(path: string): boolean {
  let prev = 0;
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c === DOT || c === PERCENT || c === BACKSLASH || c === 0 || (c === SLASH && prev === SLASH)) return true;
    prev = c;
  }
  return false;
}

/** Decodes %XX escapes; null when an escape is malformed. Leaves everything else as is. */
function percentDecode(s: string): string | null {
  if (!s.includes('%')) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (ch !== '%') {
      out += ch;
      continue;
    }
    const hex = s.slice(i + 1, i + 3);
    if (!/^[0-9a-fA-F]{2}$/.test(hex)) return null;
    out += String.fromCharCode(parseInt(hex, 16));
    i += 2;
  }
  return out;
}

/** A segment that is `.` / `..` once decoded (also Tomcat-style `..;x`). */
function isDotPiece(piece: string): boolean {
  const semi = piece.indexOf(';');
  const p = semi === -1 ? piece : piece.slice(0, semi);
  return p === '.' || p === '..';
}

/**
 * Rejects a segment carrying an escape that hides a dot segment, a separator or NUL: decoding
 * repeatedly (an upstream may decode twice) must never produce `.`/`..` pieces, `\` or NUL.
 */
function encodedSegmentIsSafe(segment: string): boolean {
  let cur = segment;
  for (let round = 0; round < 3 && cur.includes('%'); round++) {
    const next = percentDecode(cur);
    if (next === null) return round > 0; // `%zz` in the raw path is malformed; after a decode it is data
    if (next.includes('\0') || next.includes('\\')) return false;
    for (const piece of next.split('/')) if (isDotPiece(piece)) return false;
    cur = next;
  }
  return true;
}

/**
 * Normalizes a request path (no query): validates escapes, rejects hidden traversal and then
 * removes raw `.`/`..` segments per RFC 3986 §5.2.4. Escapes (including `%2F`) stay encoded.
 * Returns null when the path must be refused.
 */
export function normalizePath(path: string): string | null {
  if (path.charCodeAt(0) !== SLASH) return null;
  if (!needsNormalizing(path)) return path;
  if (path.includes('\\') || path.includes('\0')) return null;
  const segments = path.split('/');
  const out: string[] = [];
  // segments[0] is the empty string before the leading slash.
  for (let i = 1; i < segments.length; i++) {
    const seg = segments[i]!;
    const last = i === segments.length - 1;
    if (seg.includes('%') && !encodedSegmentIsSafe(seg)) return null;
    if (seg === '.' || seg === '..') {
      if (seg === '..' && out.length > 0) out.pop();
      if (last) out.push(''); // `/a/b/..` → `/a/`
      continue;
    }
    if (isDotPiece(seg)) return null; // `..;jsessionid` and friends
    out.push(seg);
  }
  return '/' + out.join('/');
}

/** Strips `:port` and one trailing dot, lowercases. `[v6]:port` keeps its brackets. */
export function hostnameOf(hostHeader: string): string {
  let h = hostHeader;
  const colon = h.lastIndexOf(':');
  if (colon !== -1 && h.indexOf(']', colon) === -1) h = h.slice(0, colon);
  if (h.endsWith('.')) h = h.slice(0, -1);
  return h.toLowerCase();
}

/** `/hosted`, `//hosted/…`: a path that is meant for hosted routing, well-formed or not. */
const HOSTED_RE = /^\/+hosted(?:\/|$)/;
const LLM_RE = /^\/+llm(?:\/|$)/;
/** `/embed`, `//embed/…`: a path meant for a catalog app. */
const EMBED_RE = /^\/+embed(?:\/|$)/;
const PORT_RE = /^[1-9][0-9]{0,4}$/;

function matchHosted(table: RouteTable, path: string, query: string): MatchResult {
  if (!path.startsWith('/hosted/')) return notFound('double slash in route prefix');
  const idEnd = path.indexOf('/', 8);
  if (idEnd === -1) return notFound('no port in hosted path');
  if (idEnd === 8) return notFound('double slash in route prefix');
  const portEnd = path.indexOf('/', idEnd + 1);
  const portStr = portEnd === -1 ? path.slice(idEnd + 1) : path.slice(idEnd + 1, portEnd);
  if (!PORT_RE.test(portStr)) return notFound(portStr === '' ? 'double slash in route prefix' : 'non-numeric port');
  if (portEnd === -1) {
    const route = table.pathRoutes.get(path + '/');
    return route ? { type: 'redirect', location: `${portStr}/${query}` } : notFound('unknown route');
  }
  if (path.charCodeAt(portEnd + 1) === SLASH) return notFound('double slash in route prefix');
  const key = path.slice(0, portEnd + 1);
  const route = table.pathRoutes.get(key);
  if (!route) return notFound('unknown route');
  if (route.state !== 'running') return { type: 'unavailable', route };
  // `path` is normalized and starts with `key`, so a keep route's upstream path stays under its base.
  return { type: 'route', route, key, path: route.prependPath + path.slice(route.stripPrefix.length) + query };
}

/** `/embed/{app}/…` → the app's route; `/embed/{app}` → redirect to the slash form. */
function matchEmbed(table: RouteTable, path: string, query: string): MatchResult {
  if (!path.startsWith('/embed/') || path.charCodeAt(7) === SLASH) return notFound('double slash in route prefix');
  const nameEnd = path.indexOf('/', 7);
  if (nameEnd === -1) {
    const name = path.slice(7);
    return table.pathRoutes.has(path + '/') ? { type: 'redirect', location: `${name}/${query}` } : notFound('unknown app');
  }
  const key = path.slice(0, nameEnd + 1);
  const route = table.pathRoutes.get(key);
  if (!route) return notFound('unknown app');
  if (route.state !== 'running') return { type: 'unavailable', route };
  return { type: 'route', route, key, path: route.prependPath + path.slice(route.stripPrefix.length) + query };
}

/** Longest prefix (whole segments) of a preview host that matches `path`; list is longest first. */
function pickPrefix(list: NonNullable<Route['prefixRoutes']>, path: string): Route | undefined {
  for (const { prefix, route } of list) {
    if (prefix === '/' || path === prefix || path.startsWith(prefix + '/')) return route;
  }
  return undefined;
}

/**
 * Matches a request target (`req.url`) and Host header against the table. Host routes win over
 * path routes because a subdomain is the app's own origin. Paths that are malformed in a way
 * that could hide traversal are refused (404) whatever they are for, so the API never sees a
 * form the edge would have read differently.
 */
export function matchRequest(table: RouteTable, url: string, hostHeader: string | undefined): MatchResult {
  // Absolute-form and `*` targets are not routable; the API answers them unless they name an app host.
  if (url.charCodeAt(0) !== SLASH) {
    const onAppsDomain = table.hostSuffix !== null && hostHeader && hostnameOf(hostHeader).endsWith(table.hostSuffix);
    return onAppsDomain ? notFound('request target not in origin-form') : NONE;
  }
  const q = url.indexOf('?');
  const rawPath = q === -1 ? url : url.slice(0, q);
  const query = q === -1 ? '' : url.slice(q);
  const path = normalizePath(rawPath);

  if ((table.hostSuffix !== null || table.previewSuffix) && hostHeader) {
    const hostname = hostnameOf(hostHeader);
    const found = table.hostRoutes.get(hostname);
    if (found) {
      if (path === null) return notFound('malformed path');
      const route = found.prefixRoutes ? pickPrefix(found.prefixRoutes, path) ?? found : found;
      if (route.state !== 'running') return { type: 'unavailable', route };
      // Subdomain mode: the app owns the whole origin, so the target goes through untouched.
      return { type: 'route', route, key: hostname, path: url };
    }
    if (table.hostSuffix !== null && hostname.endsWith(table.hostSuffix)) return notFound('unknown app host');
    if (table.previewSuffix && hostname.endsWith(table.previewSuffix)) return notFound('unknown preview host');
  }

  if (path === null) return notFound('malformed path');
  if (HOSTED_RE.test(path)) return matchHosted(table, path, query);
  if (EMBED_RE.test(path)) return matchEmbed(table, path, query);
  if (LLM_RE.test(path)) {
    if (!path.startsWith('/llm') || path.startsWith('/llm//')) return notFound('double slash in route prefix');
    return { type: 'llm', path: path.slice(4) + query };
  }
  return NONE;
}
