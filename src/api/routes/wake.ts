/**
 * Waking a stopped workspace from its own URL, on the dashboard's origin. The apps origin's
 * stopped page (edge/wake-page.ts) links its owner here:
 *
 * 1. `GET /api/wake?to=<hosted URL>` (a top-level navigation): with a dashboard session of the
 *    owner or an admin, a page on the dashboard's origin asking to confirm, carrying the session's
 *    CSRF token in its form; without a session, the login page first. A GET changes nothing.
 * 2. `POST /api/wake` (the owner's click on that page): same-origin only (`Sec-Fetch-Site` /
 *    `Origin`, checked by the API's middleware for open routes), the form's CSRF token must match
 *    the session's, then the workspace starts, Berth waits until the port in `to` accepts
 *    connections (bounded), and sends the browser through the sign-in hand-off back to `to`.
 *
 * A page on the apps origin (any tenant's) can navigate a browser to step 1, never past it: it
 * cannot read the CSRF token (another origin), its POSTs are cross-origin, and the dashboard
 * cannot be framed (so no click can be stolen). Both routes are "open" (they check the session
 * themselves), as the form cannot send the API's X-CSRF-Token header.
 */
import type { IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import { Hono } from 'hono';
import { BerthError } from '../../errors.js';
import type { Route } from '../../domain/route.js';
import type { HostingInfo, Workspace } from '../../domain/workspace.js';
import { hostnameOf } from '../../edge/match.js';
import type { AuthService, Principal } from '../../services/auth.js';
import type { ActivityTracker } from '../../services/activity.js';
import type { WorkspaceService } from '../../services/workspaces.js';
import { tokenMatches } from '../../auth/tokens.js';
import { SESSION_COOKIE } from '../authn.js';
import { cookieValue } from '../upgrade-auth.js';
import type { ApiEnv } from '../env.js';
import type { HandoffDeps } from './auth.js';

/** Open routes of this module (see app.ts OPEN_ROUTES). */
export const WAKE_ROUTES = ['GET /api/wake', 'POST /api/wake'] as const;

/** Longest the POST waits for the workspace's port to accept a connection before sending the browser back anyway. */
const HEALTHY_WAIT_MS = 30_000;

export interface WakeDeps {
  auth: AuthService;
  workspaces: WorkspaceService;
  activity?: ActivityTracker;
  hostingFor: (req: IncomingMessage) => HostingInfo;
  handoff: Pick<HandoffDeps, 'pathRoute' | 'hostRoute' | 'appsUrl'>;
  /** Overrides HEALTHY_WAIT_MS (tests). */
  healthyWaitMs?: number;
}

const notHere = (): BerthError => new BerthError('E_NOT_FOUND', 'no workspace of yours at that address', { hint: 'open the workspace from the dashboard' });

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Resolves until `host:port` accepts a TCP connection or `ms` passed (true when it did). */
export async function waitForPort(host: string, port: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host, port });
      const done = (v: boolean): void => {
        s.destroy();
        resolve(v);
      };
      s.setTimeout(1_000, () => done(false));
      s.once('connect', () => done(true));
      s.once('error', () => done(false));
    });
    if (ok) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

export function wakeRoutes(deps: WakeDeps) {
  const app = new Hono<ApiEnv>();
  const { auth, workspaces } = deps;

  /** The workspace route behind a hosted URL (apps origin path, or an app host), and the workspace; 404 otherwise. */
  function resolve(req: IncomingMessage, raw: string | undefined): { route: Route; ws: Workspace; to: URL } {
    let to: URL;
    try {
      to = new URL(raw ?? '');
    } catch {
      throw new BerthError('E_BAD_REQUEST', 'to must be the full URL of a hosted app', { hint: 'open the workspace from the dashboard' });
    }
    if (to.protocol !== 'http:' && to.protocol !== 'https:') throw notHere();
    const apps = new URL(deps.handoff.appsUrl(req));
    const appsBase = apps.pathname.replace(/\/+$/, '');
    const route =
      to.origin === apps.origin && to.pathname.startsWith(appsBase + '/')
        ? deps.handoff.pathRoute(to.pathname.slice(appsBase.length))
        : deps.handoff.hostRoute(hostnameOf(to.host));
    if (!route || route.kind !== 'workspace') throw notHere();
    return { route, ws: workspaces.get(route.workloadId), to };
  }

  const mayStart = (p: Principal, ws: Workspace): boolean => p.role === 'admin' || (ws.ownerId !== null && ws.ownerId === p.userId);

  const dashboardOf = (req: IncomingMessage): string => {
    const h = deps.hostingFor(req);
    return `${h.proto}://${h.host}${h.basePath}`;
  };

  /**
   * Back to the app. Private routes go through the hand-off (it rebuilds the target from Berth's
   * own origins and gives the browser an app session). Public routes need no session (and the
   * hand-off serves only who may see private ones): the target is rebuilt here the same way — the
   * apps origin for path routes, the app host on the dashboard's scheme and port for host routes.
   */
  const backTo = (req: IncomingMessage, route: Route, to: URL): string => {
    if (route.access !== null) return `${dashboardOf(req)}/api/auth/handoff?to=${encodeURIComponent(to.href)}`;
    const rest = to.pathname + to.search;
    if (route.via === 'path') return new URL(deps.handoff.appsUrl(req)).origin + rest;
    const h = deps.hostingFor(req);
    return `${h.proto}://${hostnameOf(to.host)}${/:\d+$/.exec(h.host)?.[0] ?? ''}${rest}`;
  };

  const page = (title: string, body: string): Response =>
    new Response(
      `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head>` +
        `<body style="font-family:system-ui,sans-serif;margin:3rem;max-width:40rem">${body}<hr><small>Berth</small></body></html>\n`,
      {
        headers: {
          'content-type': 'text/html; charset=utf-8',
          'cache-control': 'no-store',
          'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
          'x-frame-options': 'DENY',
          // Not no-referrer: Chromium then sends `Origin: null` with the form, which the origin check refuses.
          'referrer-policy': 'same-origin',
        },
      },
    );

  app.get('/', (c) => {
    const req = c.env.incoming;
    const { route, ws, to } = resolve(req, c.req.query('to'));
    const p = auth.sessionPrincipal(cookieValue(c.req.header('cookie'), SESSION_COOKIE));
    if (!p) return c.redirect(`${dashboardOf(req)}/#/login?next=${encodeURIComponent(c.req.url.slice(c.req.url.indexOf('/api/')))}`, 302);
    if (!mayStart(p, ws)) throw notHere();
    if (ws.state === 'running') return c.redirect(backTo(req, route, to), 302);
    const name = escapeHtml(ws.name);
    return page(
      `Start ${name}?`,
      `<h1>Start workspace “${name}”?</h1>` +
        (ws.reason ? `<p>It is ${escapeHtml(ws.state)}: ${escapeHtml(ws.reason)}</p>` : `<p>It is ${escapeHtml(ws.state)}.</p>`) +
        `<p>Then you go back to <code>${escapeHtml(to.href)}</code>.</p>` +
        '<form method="post" action="wake">' +
        `<input type="hidden" name="to" value="${escapeHtml(to.href)}">` +
        `<input type="hidden" name="csrf" value="${escapeHtml(p.csrfToken ?? '')}">` +
        `<button id="berth-confirm-start" type="submit" style="padding:.6rem 1.2rem">Start ${name}</button></form>`,
    );
  });

  app.post('/', async (c) => {
    const req = c.env.incoming;
    const p = auth.sessionPrincipal(cookieValue(c.req.header('cookie'), SESSION_COOKIE));
    if (!p) throw new BerthError('E_UNAUTHORIZED', 'log in first (session missing or expired)', { hint: 'open the workspace URL again and sign in' });
    let form: Record<string, unknown>;
    try {
      form = await c.req.parseBody();
    } catch {
      throw new BerthError('E_BAD_REQUEST', 'send the form of GET /api/wake', { hint: 'open the workspace URL again and use its Start button' });
    }
    const csrf = typeof form.csrf === 'string' ? form.csrf : undefined;
    if (!tokenMatches(csrf, p.csrfToken ?? '')) {
      throw new BerthError('E_CSRF', 'missing or wrong CSRF token for starting a workspace', { hint: 'open the workspace URL again and use its Start button' });
    }
    const { route, ws, to } = resolve(req, typeof form.to === 'string' ? form.to : undefined);
    if (!mayStart(p, ws)) throw notHere();
    let current = ws;
    if (ws.state !== 'running') {
      current = await workspaces.start(ws.id, p);
      auth.audit(p, 'workspace.start', ws.name, c.get('clientIp'), { via: 'wake' });
    }
    deps.activity?.note(ws.id, 'api');
    if (current.state === 'running') await waitForPort(current.upstreamHost, route.upstream.port, deps.healthyWaitMs ?? HEALTHY_WAIT_MS);
    return c.redirect(backTo(req, route, to), 303);
  });

  return app;
}
