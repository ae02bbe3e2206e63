/**
 * The edge's own answers (404, 502, 503, 504…): a small HTML page naming the workload, or
 * `{"error":{"code","message"}}` when the client prefers JSON. The edge is a transport layer and
 * writes these itself; BerthError → HTTP mapping for the API stays in api/error-handler.ts.
 */
import type { ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

/** Stable codes of edge answers (same `E_*` convention as BerthError codes). */
export type EdgeErrorCode =
  | 'E_NOT_FOUND'
  | 'E_WRONG_ORIGIN'
  | 'E_WORKLOAD_UNAVAILABLE'
  | 'E_UPSTREAM_UNREACHABLE'
  | 'E_UPSTREAM_TIMEOUT'
  | 'E_UPSTREAM_PROTOCOL'
  | 'E_LLM_NOT_CONFIGURED'
  | 'E_FORBIDDEN'
  | 'E_UNAUTHORIZED'
  | 'E_RATE_LIMITED'
  | 'E_BAD_REQUEST'
  | 'E_INTERNAL';

export interface EdgeError {
  status: number;
  code: EdgeErrorCode;
  /** One sentence for the user; may name the workload. Plain text (escaped for HTML here). */
  message: string;
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  408: 'Request Timeout',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** q-value of the first media range in `accept` equal to one of `types`, or -1. */
function qualityOf(accept: string, types: readonly string[]): number {
  let best = -1;
  for (const part of accept.split(',')) {
    const [range, ...params] = part.split(';');
    if (!types.includes(range!.trim().toLowerCase())) continue;
    let q = 1;
    for (const p of params) {
      const [k, v] = p.split('=');
      if (k?.trim() === 'q' && v !== undefined) q = Number(v.trim()) || 0;
    }
    best = Math.max(best, q);
  }
  return best;
}

/**
 * True when the client asks for JSON more than for HTML: `application/json` beats `text/html`
 * (or a wildcard that would cover it) on q-value, or ties with it while only JSON is named.
 */
export function prefersJson(accept: string | undefined): boolean {
  if (!accept || !accept.includes('json')) return false;
  const json = Math.max(qualityOf(accept, ['application/json']), qualityOf(accept, ['application/*']) - 0.001);
  if (json <= 0) return false;
  const htmlNamed = qualityOf(accept, ['text/html']);
  const html = htmlNamed >= 0 ? htmlNamed : qualityOf(accept, ['text/*', '*/*']);
  return json > html || (json === html && htmlNamed < 0);
}

/** Renders the body and content type of an edge error for the given Accept header. */
export function renderError(err: EdgeError, accept: string | undefined): { body: string; type: string } {
  if (prefersJson(accept)) {
    return { body: JSON.stringify({ error: { code: err.code, message: err.message } }), type: 'application/json; charset=utf-8' };
  }
  const title = `${err.status} ${TITLES[err.status] ?? 'Error'}`;
  const body =
    `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head>` +
    `<body style="font-family:system-ui,sans-serif;margin:3rem"><h1>${title}</h1>` +
    `<p>${escapeHtml(err.message)}</p><hr><small>Berth</small></body></html>\n`;
  return { body, type: 'text/html; charset=utf-8' };
}

/** Answers an HTTP request with an edge error (if headers are not out yet, else cuts it). */
export function sendError(res: ServerResponse, err: EdgeError, accept: string | undefined, extraHeaders?: Record<string, string>): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const { body, type } = renderError(err, accept);
  res.writeHead(err.status, {
    'content-type': type,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...extraHeaders,
  });
  res.end(body);
}

/** Answers a raw upgrade socket with an edge error and closes it. */
export function sendSocketError(socket: Duplex, err: EdgeError, accept: string | undefined): void {
  if (socket.destroyed) return;
  const { body, type } = renderError(err, accept);
  socket.end(
    `HTTP/1.1 ${err.status} ${TITLES[err.status] ?? 'Error'}\r\n` +
      `Content-Type: ${type}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `Cache-Control: no-store\r\nConnection: close\r\n\r\n${body}`,
  );
}
