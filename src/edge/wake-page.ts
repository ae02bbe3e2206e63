/**
 * The answer of a stopped workspace's hosted URL. Browsers get a page naming the workspace (and
 * why it stopped); its owner and admins also get a Start button. The button is a link to the
 * dashboard origin's `/api/wake?to=<this URL>`, where the owner confirms with a click and the
 * dashboard starts the workspace (an authenticated POST with a CSRF token, on the dashboard's
 * origin) and sends the browser back here once it answers. Nothing on this page, which is served
 * on the apps origin next to other tenants' content, can start anything by itself.
 * API clients (Accept without text/html) get a JSON 503 with a code and a hint.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Route } from '../domain/route.js';

/** What the daemon tells the edge about a stopped workspace for its wake page. */
export interface WakeInfo {
  /** The requester may start it (its owner or an admin, as the edge's credentials tell). */
  canStart: boolean;
  /** Why it stopped (e.g. idle-stopped …), or null. */
  reason: string | null;
  /** The dashboard this workspace belongs to (where `/api/wake` is). */
  dashboardUrl: string;
}

/** Code of the JSON 503 of a stopped workspace. */
export const STOPPED_CODE = 'E_WORKSPACE_STOPPED';

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** True for a browser navigation (GET/HEAD that accepts HTML). */
export function wantsPage(req: IncomingMessage): boolean {
  return (req.method === 'GET' || req.method === 'HEAD') && (req.headers.accept ?? '').includes('text/html');
}

/** The URL of `/api/wake` that starts the workspace behind `here` (after the owner confirms). */
export function wakeUrl(info: WakeInfo, here: string): string {
  return `${info.dashboardUrl}/api/wake?to=${encodeURIComponent(here)}`;
}

/** Renders the stopped page; `here` is the full URL that was asked for. */
export function renderWakePage(route: Route, info: WakeInfo, here: string): string {
  const name = escapeHtml(route.workloadName);
  const reason = info.reason ? `<p>${escapeHtml(info.reason)}</p>` : '';
  const action = info.canStart
    ? `<p><a id="berth-start" href="${escapeHtml(wakeUrl(info, here))}" style="display:inline-block;padding:.6rem 1.2rem;background:#1f6feb;color:#fff;border-radius:6px;text-decoration:none">Start ${name}</a></p>` +
      '<p><small>Berth asks you to confirm on its dashboard, starts the workspace and brings you back to this page.</small></p>'
    : // The same confirm page: it signs its owner in on the dashboard and refuses everyone else.
      `<p>Ask its owner to start it. <small>(Its owner? <a id="berth-owner-start" href="${escapeHtml(wakeUrl(info, here))}">Start it from Berth</a>.)</small></p>`;
  return (
    `<!doctype html><html><head><meta charset="utf-8"><title>${name} is stopped</title>` +
    '<meta name="robots" content="noindex"></head>' +
    '<body style="font-family:system-ui,sans-serif;margin:3rem;max-width:40rem">' +
    `<h1>Workspace “${name}” is stopped</h1>${reason}${action}<hr><small>Berth</small></body></html>\n`
  );
}

/** Answers a request to a stopped workspace the requester may see: the page, or JSON 503. */
export function sendStopped(req: IncomingMessage, res: ServerResponse, route: Route, info: WakeInfo, here: string): void {
  const headers = {
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'retry-after': '5',
  };
  if (wantsPage(req)) {
    const body = renderWakePage(route, info, here);
    res.writeHead(503, {
      ...headers,
      'content-type': 'text/html; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      // Our own page: no script at all, and nobody frames it (the Start link must be a real click).
      'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
      'x-frame-options': 'DENY',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
    return;
  }
  const hint = info.canStart
    ? `start it with \`berth ws start ${route.workloadName}\` or POST /api/workspaces/${route.workloadId}/start`
    : 'ask its owner to start it';
  const body = JSON.stringify({
    error: { code: STOPPED_CODE, message: `The workspace "${route.workloadName}" is stopped${info.reason ? ` (${info.reason})` : ''}.`, hint },
  });
  res.writeHead(503, { ...headers, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
