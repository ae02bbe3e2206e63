/**
 * Header rewriting between the client and an upstream, in one pass over `rawHeaders` (no
 * `req.headers` object is built on the proxy path). Strips hop-by-hop headers and the ones named
 * in Connection, Berth's own credentials, and spoofable forwarding headers from untrusted peers.
 */
import { normalizePrefix, unmapIPv4, type TrustedProxies } from './forwarded.js';

/** Berth's session cookie; never forwarded to a workload, never settable by one. */
export const BERTH_SESSION_COOKIE = 'berth_session';
/** Berth's per-app-origin session cookie (subdomain mode hand-off); treated the same way. */
export const BERTH_APP_SESSION_COOKIE = 'berth_app_session';
/** Berth API tokens start with this; a Bearer token with it is never forwarded. */
export const BERTH_TOKEN_PREFIX = 'berth_';

const enum H {
  Pass,
  Drop,
  Host,
  Cookie,
  Authorization,
  XfFor,
  XfHost,
  XfProto,
  XfPrefix,
  Connection,
  Upgrade,
  ContentLength,
  TransferEncoding,
  /** `Forwarded`, `X-Real-IP`: trusted only from trusted peers. */
  Spoofable,
  SetCookie,
  ContentType,
}

const KNOWN: Record<string, H> = {
  host: H.Host,
  cookie: H.Cookie,
  authorization: H.Authorization,
  'x-forwarded-for': H.XfFor,
  'x-forwarded-host': H.XfHost,
  'x-forwarded-proto': H.XfProto,
  'x-forwarded-prefix': H.XfPrefix,
  connection: H.Connection,
  upgrade: H.Upgrade,
  'content-length': H.ContentLength,
  'transfer-encoding': H.TransferEncoding,
  'keep-alive': H.Drop,
  te: H.Drop,
  trailer: H.Drop,
  // Node already answered `100 Continue` to the client; the upstream must not wait for one.
  expect: H.Drop,
  forwarded: H.Spoofable,
  'x-real-ip': H.Spoofable,
  'set-cookie': H.SetCookie,
  'content-type': H.ContentType,
};

/** Raw header name → class. Names repeat endlessly, so classify each spelling once. */
const classCache = new Map<string, H>();

function classify(name: string): H {
  let c = classCache.get(name);
  if (c !== undefined) return c;
  const lower = name.toLowerCase();
  c = KNOWN[lower] ?? (lower.startsWith('proxy-') ? H.Drop : H.Pass);
  if (classCache.size < 2048) classCache.set(name, c);
  return c;
}

/** Connection tokens that every client sends and that name no other header. */
function extraConnectionTokens(value: string): string[] | null {
  let extra: string[] | null = null;
  for (const raw of value.split(',')) {
    const t = raw.trim().toLowerCase();
    if (t === '' || t === 'keep-alive' || t === 'close' || t === 'upgrade') continue;
    (extra ??= []).push(t);
  }
  return extra;
}

function isBerthCookie(pair: string): boolean {
  const t = pair.trimStart();
  const eq = t.indexOf('=');
  const name = (eq === -1 ? t : t.slice(0, eq)).trim();
  const bare = name.startsWith('__Host-') ? name.slice(7) : name.startsWith('__Secure-') ? name.slice(9) : name;
  return bare === BERTH_SESSION_COOKIE || bare === BERTH_APP_SESSION_COOKIE;
}

/** Removes Berth's session cookie from a Cookie header, keeping the others; '' when none left. */
export function stripBerthCookie(value: string): string {
  // Both cookie names start with berth_session / berth_app_session: one cheap test for the common case.
  if (!value.includes(BERTH_SESSION_COOKIE) && !value.includes(BERTH_APP_SESSION_COOKIE)) return value;
  return value
    .split(';')
    .filter((p) => p.trim() !== '' && !isBerthCookie(p))
    .map((p) => p.trim())
    .join('; ');
}

/** True for `Authorization: Bearer berth_…`. */
export function isBerthBearer(value: string): boolean {
  return /^\s*bearer\s+/i.test(value) && value.replace(/^\s*bearer\s+/i, '').startsWith(BERTH_TOKEN_PREFIX);
}

/** How a forward treats the request; constant objects, one per kind of target. */
export interface HeaderPolicy {
  /** Workload targets get X-Forwarded-*; the LLM provider gets none. */
  readonly forwarded: boolean;
  /** Keep `Upgrade` and send `Connection: upgrade` (WebSocket tunnels). */
  readonly websocket: boolean;
  /** Keep the client's Host (workloads); false lets the client library set the upstream's. */
  readonly keepHost: boolean;
  /** Drop every cookie (LLM) instead of only Berth's. */
  readonly dropAllCookies: boolean;
  /** Drop any client Authorization (LLM, which adds its own) instead of only Berth tokens. */
  readonly dropAllAuthorization: boolean;
}

/** Plain HTTP to a workload: X-Forwarded-*, client Host kept, only Berth credentials removed. */
export const WORKLOAD_HTTP: HeaderPolicy = { forwarded: true, websocket: false, keepHost: true, dropAllCookies: false, dropAllAuthorization: false };
/** WebSocket upgrade to a workload: like WORKLOAD_HTTP plus `Upgrade`. */
export const WORKLOAD_WS: HeaderPolicy = { ...WORKLOAD_HTTP, websocket: true };
/** The LLM provider: no cookies, no client Authorization (the key is added), no forwarding info. */
export const LLM_HTTP: HeaderPolicy = { forwarded: false, websocket: false, keepHost: false, dropAllCookies: true, dropAllAuthorization: true };

/** Per-request facts the rewrite needs besides the headers themselves. */
export interface RequestFacts {
  peer: string | undefined;
  encrypted: boolean;
  trusted: TrustedProxies;
  /**
   * Route prefix appended to the outer prefix in X-Forwarded-Prefix (sent when the result is not
   * empty); null = send none (host routes: the app owns its origin).
   */
  routePrefix: string | null;
}

/** Result of `upstreamRequestHeaders`: flat `[name, value, …]` and whether a body follows. */
export interface UpstreamHeaders {
  headers: string[];
  hasBody: boolean;
}

/**
 * Builds the upstream's request headers from the client's `rawHeaders`. X-Forwarded-For is
 * appended to when the peer is trusted and replaced otherwise; -Host/-Proto/-Prefix likewise come
 * from a trusted peer or from the request itself. `extra` pairs (e.g. the LLM key) are appended.
 */
export function upstreamRequestHeaders(raw: readonly string[], policy: HeaderPolicy, facts: RequestFacts, extra?: readonly string[]): UpstreamHeaders {
  const out: string[] = [];
  let host: string | undefined;
  let xfFor: string | undefined;
  let xfHost: string | undefined;
  let xfProto: string | undefined;
  let xfPrefix: string | undefined;
  let upgrade: string | undefined;
  let connectionExtra: string[] | null = null;
  let hasBody = false;
  let seenLength = false;
  const trusted = facts.trusted.contains(facts.peer);

  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    switch (classify(name)) {
      case H.Pass:
      case H.ContentType:
      case H.SetCookie:
        out.push(name, value);
        break;
      case H.Drop:
        break;
      case H.Host:
        // Duplicates are a smuggling trick; the first one is what Node and the matcher used.
        if (host !== undefined) break;
        host = value;
        if (policy.keepHost) out.push(name, value);
        break;
      case H.Cookie: {
        if (policy.dropAllCookies) break;
        const kept = stripBerthCookie(value);
        if (kept !== '') out.push(name, kept);
        break;
      }
      case H.Authorization:
        if (policy.dropAllAuthorization || isBerthBearer(value)) break;
        out.push(name, value);
        break;
      case H.XfFor:
        xfFor = xfFor === undefined ? value : `${xfFor}, ${value}`;
        break;
      case H.XfHost:
        xfHost ??= value;
        break;
      case H.XfProto:
        xfProto ??= value;
        break;
      case H.XfPrefix:
        xfPrefix ??= value;
        break;
      case H.Connection:
        connectionExtra = extraConnectionTokens(value) ?? connectionExtra;
        break;
      case H.Upgrade:
        upgrade = value;
        break;
      case H.ContentLength:
        if (seenLength) break;
        seenLength = true;
        if (value !== '0') hasBody = true;
        out.push(name, value);
        break;
      case H.TransferEncoding:
        // Dropped: the body is re-framed on the upstream connection.
        hasBody = true;
        break;
      case H.Spoofable:
        if (trusted && policy.forwarded) out.push(name, value);
        break;
    }
  }

  if (connectionExtra !== null) {
    for (let i = out.length - 2; i >= 0; i -= 2) {
      if (connectionExtra.includes(out[i]!.toLowerCase())) out.splice(i, 2);
    }
  }

  if (policy.websocket && upgrade !== undefined) out.push('Connection', 'upgrade', 'Upgrade', upgrade);

  if (policy.forwarded) {
    const peer = facts.peer ? unmapIPv4(facts.peer) : '';
    out.push('X-Forwarded-For', trusted && xfFor ? `${xfFor}, ${peer}` : peer);
    out.push('X-Forwarded-Host', (trusted && xfHost) || host || '');
    out.push('X-Forwarded-Proto', (trusted && xfProto) || (facts.encrypted ? 'https' : 'http'));
    if (facts.routePrefix !== null) {
      const prefix = (trusted ? normalizePrefix(xfPrefix) : '') + facts.routePrefix;
      if (prefix !== '') out.push('X-Forwarded-Prefix', prefix);
    }
  }
  if (extra) for (let i = 0; i < extra.length; i++) out.push(extra[i]!);
  return { headers: out, hasBody };
}

/**
 * Filters an upstream response's raw headers for the client: hop-by-hop
 * and Connection-named headers out, and no Set-Cookie for Berth's session cookie (on a shared
 * origin an app could otherwise plant one). Returns `[name, value, …]` and the content type.
 */
export function clientResponseHeaders(raw: readonly string[]): { headers: string[]; contentType: string | undefined } {
  const out: string[] = [];
  let contentType: string | undefined;
  let connectionExtra: string[] | null = null;
  let transferEncoded = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    switch (classify(name)) {
      case H.Drop:
      case H.Upgrade:
        continue;
      case H.TransferEncoding:
        transferEncoded = true;
        continue;
      case H.Connection:
        connectionExtra = extraConnectionTokens(value) ?? connectionExtra;
        continue;
      case H.SetCookie: {
        const semi = value.indexOf(';');
        if (isBerthCookie(semi === -1 ? value : value.slice(0, semi))) continue;
        break;
      }
      case H.ContentType:
        contentType = value;
        break;
      default:
        break;
    }
    out.push(name, value);
  }
  if (connectionExtra !== null) {
    for (let i = out.length - 2; i >= 0; i -= 2) {
      if (connectionExtra.includes(out[i]!.toLowerCase())) out.splice(i, 2);
    }
  }
  // Transfer-Encoding overrides Content-Length, and a proxy must drop the length before relaying
  // (RFC 9112 §6.3): the body is framed by the encoding, so the length would desync the client.
  if (transferEncoded) {
    for (let i = out.length - 2; i >= 0; i -= 2) {
      if (classify(out[i]!) === H.ContentLength) out.splice(i, 2);
    }
  }
  return { headers: out, contentType };
}
