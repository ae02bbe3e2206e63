/**
 * Serves the dashboard (the Vite build in web/dist) from the daemon's fallback handler.
 *
 * - Files under distDir with their content type; `assets/*` (content-hashed names) are cached
 *   for a year as immutable, everything else revalidates (`no-cache` + ETag).
 * - Any other GET/HEAD outside /api that does not look like a file gets index.html (the SPA
 *   routes with hashes, but a reload on a deep path must still load the app).
 * - index.html's `<base href="/">` becomes `<prefix>/`, so the app and every API URL it derives
 *   from `document.baseURI` work under an outer proxy's sub-path.
 * - Paths are decoded, normalized and must stay inside distDir; dot-files are never served.
 *
 * Lifecycle: `createDashboardHandler()` once; the returned function is called for every request
 * and answers `true` when it handled it (the caller passes `false` ones on to the API). Files are
 * read on demand and cached per (path, size, mtime), so a rebuild of web/dist needs no restart.
 */
import { readFileSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

export interface DashboardOptions {
  /** The built dashboard (web/dist); need not exist yet (then `/` explains how to build it). */
  distDir: string;
  /** Outer path prefix of this request: '' at the root, `/berth` behind a sub-path proxy. */
  prefixFor: (req: IncomingMessage) => string;
}

export type DashboardHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

/**
 * CSP of every dashboard answer: same-origin everything, plus WebSockets for the exec shell and
 * frames of apps (served on the apps origin, another origin). Nothing may frame the dashboard:
 * no hosted page can overlay or click through it.
 */
export const DASHBOARD_CSP =
  "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self'; script-src 'self'; " +
  "frame-src http: https:; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.txt': 'text/plain; charset=utf-8',
};
const COMPRESSIBLE = new Set(['.html', '.js', '.mjs', '.css', '.json', '.map', '.svg', '.webmanifest', '.txt']);
/** Paths the SPA fallback never claims: they belong to the API or the edge. */
const NOT_OURS = /^\/(?:api|hosted|embed|llm|webhooks)(?:\/|$)/;

interface CachedFile {
  key: string;
  body: Buffer;
  gzip: Buffer | null;
  etag: string;
}

const securityHeaders = {
  'content-security-policy': DASHBOARD_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
};

function escapeAttr(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** `<base href="/">` → `<base href="{prefix}/">`; a prefix is '' or `/a/b` (no trailing slash). */
export function rewriteBase(html: string, prefix: string): string {
  const clean = prefix.replace(/\/+$/, '');
  return html.replace(/<base href="\/"\s*\/?>/i, `<base href="${escapeAttr(clean)}/">`);
}

/**
 * The file below `root` that URL path `pathname` names, or null when it is malformed, escapes
 * the root or touches a dot-file. `pathname` is the raw (percent-encoded) path without query.
 */
export function resolveInside(root: string, pathname: string): string | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    return null;
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return null;
  const normalized = path.posix.normalize('/' + decoded);
  if (normalized.split('/').some((seg) => seg.startsWith('.'))) return null;
  const full = path.resolve(root, '.' + normalized);
  const base = path.resolve(root);
  return full === base || full.startsWith(base + path.sep) ? full : null;
}

function acceptsGzip(req: IncomingMessage): boolean {
  const ae = req.headers['accept-encoding'];
  return typeof ae === 'string' && /\bgzip\b/.test(ae);
}

/** Creates the handler; see the module comment for what it serves. */
export function createDashboardHandler(opts: DashboardOptions): DashboardHandler {
  const root = path.resolve(opts.distDir);
  const cache = new Map<string, CachedFile>();

  /** A regular file's bytes (cached per size+mtime), or null when there is none. */
  function load(file: string, ext: string): CachedFile | null {
    let st;
    try {
      st = statSync(file);
    } catch {
      return null;
    }
    if (!st.isFile()) return null;
    const key = `${st.size}-${Math.trunc(st.mtimeMs)}`;
    const hit = cache.get(file);
    if (hit && hit.key === key) return hit;
    const body = readFileSync(file);
    const gz = COMPRESSIBLE.has(ext) && body.length > 1024 ? gzipSync(body) : null;
    const entry: CachedFile = { key, body, gzip: gz, etag: `"${st.size.toString(16)}-${Math.trunc(st.mtimeMs).toString(16)}"` };
    cache.set(file, entry);
    return entry;
  }

  function send(req: IncomingMessage, res: ServerResponse, status: number, headers: Record<string, string>, body: Buffer, gz: Buffer | null): void {
    const useGzip = gz !== null && acceptsGzip(req);
    const out = useGzip ? gz : body;
    const h: Record<string, string | number> = { ...securityHeaders, ...headers };
    if (status !== 304) h['content-length'] = out.length;
    if (gz !== null) h.vary = 'Accept-Encoding';
    if (useGzip) h['content-encoding'] = 'gzip';
    res.writeHead(status, h);
    res.end(req.method === 'HEAD' || status === 304 ? undefined : out);
  }

  function sendText(req: IncomingMessage, res: ServerResponse, status: number, text: string): void {
    send(req, res, status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' }, Buffer.from(text), null);
  }

  function sendIndex(req: IncomingMessage, res: ServerResponse): void {
    const index = load(path.join(root, 'index.html'), '.html');
    if (!index) {
      sendText(req, res, 503, 'The Berth dashboard is not built: run `npm run build:web` (the API works without it).\n');
      return;
    }
    // The body depends on the prefix, so the ETag does too.
    const prefix = opts.prefixFor(req);
    const html = Buffer.from(rewriteBase(index.body.toString('utf8'), prefix));
    const etag = `"${index.etag.slice(1, -1)}-${Buffer.from(prefix).toString('base64url')}"`;
    const headers = { 'content-type': CONTENT_TYPES['.html']!, 'cache-control': 'no-cache', etag };
    if (req.headers['if-none-match'] === etag) return void send(req, res, 304, headers, Buffer.alloc(0), null);
    send(req, res, 200, headers, html, html.length > 1024 ? gzipSync(html) : null);
  }

  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const pathname = q === -1 ? url : url.slice(0, q);
    if (!pathname.startsWith('/') || NOT_OURS.test(pathname)) return false;
    if (pathname === '/' || pathname === '/index.html') {
      sendIndex(req, res);
      return true;
    }
    const file = resolveInside(root, pathname);
    if (file === null) {
      sendText(req, res, 404, 'Not found.\n');
      return true;
    }
    const ext = path.extname(file).toLowerCase();
    const found = ext === '.html' ? null : load(file, ext);
    if (found) {
      const immutable = pathname.startsWith('/assets/');
      const headers: Record<string, string> = {
        'content-type': CONTENT_TYPES[ext] ?? 'application/octet-stream',
        'cache-control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
        etag: found.etag,
      };
      if (req.headers['if-none-match'] === found.etag) send(req, res, 304, headers, Buffer.alloc(0), null);
      else send(req, res, 200, headers, found.body, found.gzip);
      return true;
    }
    // A missing file (it has an extension, or lives under assets/) is a 404; anything else is a
    // client-side route and gets the app.
    if (ext !== '' || pathname.startsWith('/assets/')) sendText(req, res, 404, 'Not found.\n');
    else sendIndex(req, res);
    return true;
  };
}
