import { Hono } from 'hono';
import { deleteCookie, setCookie } from 'hono/cookie';
import { z } from 'zod';
import type { BerthConfig } from '../../config/schema.js';
import type { HostingInfo } from '../../domain/workspace.js';
import type { IncomingMessage } from 'node:http';
import { presentUser, type AuthService } from '../../services/auth.js';
import type { Route } from '../../domain/route.js';
import type { HandoffStore } from '../../auth/app-handoff.js';
import { hostnameOf } from '../../edge/match.js';
import { APPS_ORIGIN_KEY, hostKey } from '../hosted-access.js';
import { cookieValue } from '../upgrade-auth.js';
import { SESSION_COOKIE } from '../authn.js';
import { BerthError } from '../../errors.js';
import type { ApiEnv } from '../env.js';
import { readJson } from './workspaces.js';

const loginBody = z.object({ username: z.string().min(1).max(64), password: z.string().min(1).max(1024) }).strict();
const setupBody = z.object({ token: z.string().min(1).max(200), password: z.string().max(1024) }).strict();

/** What the hand-off needs of the edge: the current routes and the apps origin. */
export interface HandoffDeps {
  store: HandoffStore;
  /** The route of an app host (subdomain mode), if any. */
  hostRoute: (hostname: string) => Route | undefined;
  /** The path route serving `path` (below the apps origin's base), if any. */
  pathRoute: (path: string) => Route | undefined;
  /** The apps origin's URL for this request (`proto://host[:port][base]`). */
  appsUrl: (req: IncomingMessage) => string;
}

/** /api/auth: login (sets the session cookie), logout, me, and the one-time admin setup. */
export function authRoutes(
  auth: AuthService,
  config: BerthConfig,
  hostingFor: (req: IncomingMessage) => HostingInfo,
  handoff: HandoffDeps,
) {
  const app = new Hono<ApiEnv>();

  /**
   * Sign-in for private hosted apps: `GET /api/auth/handoff?to=<app URL>`, where the URL is on the
   * apps origin (path routes) or on an app's own host (subdomain mode). With a dashboard session
   * that may see the app, mints a one-time ticket bound to that origin and sends the browser to
   * its `/__berth/handoff`; without one, sends it to the login page first. The redirect target is
   * built from Berth's own view of the origins (the apps origin, or the app host on the
   * dashboard's scheme and port), never from the scheme or port given in `to`. (An open route: it
   * checks the session itself.)
   */
  app.get('/handoff', (c) => {
    const req = c.env.incoming;
    const hosting = hostingFor(req);
    const dashboard = `${hosting.proto}://${hosting.host}${hosting.basePath}`;
    let to: URL;
    try {
      to = new URL(c.req.query('to') ?? '');
    } catch {
      throw new BerthError('E_BAD_REQUEST', 'to must be the full URL of a hosted app', { hint: 'open the app from the dashboard' });
    }
    const notHere = new BerthError('E_NOT_FOUND', 'no hosted app at that address', { hint: 'open the app from the dashboard' });
    if (to.protocol !== 'http:' && to.protocol !== 'https:') throw notHere;
    const apps = new URL(handoff.appsUrl(req));
    const appsBase = apps.pathname.replace(/\/+$/, '');
    let route: Route | undefined;
    let key: string;
    let target: string;
    if (to.origin === apps.origin && to.pathname.startsWith(appsBase + '/')) {
      route = handoff.pathRoute(to.pathname.slice(appsBase.length));
      key = APPS_ORIGIN_KEY;
      target = apps.origin + appsBase;
    } else {
      route = handoff.hostRoute(hostnameOf(to.host));
      key = route ? hostKey(route) : '';
      const port = /:\d+$/.exec(hosting.host)?.[0] ?? '';
      target = `${hosting.proto}://${hostnameOf(to.host)}${port}`;
    }
    if (!route) throw notHere;
    const p = auth.sessionPrincipal(cookieValue(c.req.header('cookie'), SESSION_COOKIE));
    if (!p) return c.redirect(`${dashboard}/#/login?next=${encodeURIComponent(c.req.url.slice(c.req.url.indexOf('/api/')))}`, 302);
    if (p.role !== 'admin' && route.access?.anyUser !== true && p.userId !== route.access?.ownerId) throw notHere;
    const ticket = handoff.store.mint(p.userId, key);
    const next = to.pathname + to.search;
    c.header('cache-control', 'no-store');
    return c.redirect(`${target}/__berth/handoff?ticket=${ticket}&next=${encodeURIComponent(next)}`, 302);
  });

  app.post('/login', async (c) => {
    const body = await readJson(c.req.raw, loginBody);
    const { sessionId, csrfToken, user } = await auth.login(body.username, body.password, c.get('clientIp'));
    const hosting = hostingFor(c.env.incoming);
    setCookie(c, SESSION_COOKIE, sessionId, {
      httpOnly: true,
      sameSite: 'Lax',
      secure: hosting.proto === 'https',
      path: `${hosting.basePath}/`,
      maxAge: config.sessionMaxHours * 3600,
    });
    return c.json({ user: presentUser(user), csrfToken });
  });

  app.post('/logout', (c) => {
    auth.logout(c.get('principal'), c.get('clientIp'));
    handoff.store.endUser(c.get('principal').userId);
    deleteCookie(c, SESSION_COOKIE, { path: `${hostingFor(c.env.incoming).basePath}/` });
    return c.body(null, 204);
  });

  app.get('/me', (c) => {
    const p = c.get('principal');
    return c.json({ user: { id: p.userId, username: p.username, role: p.role }, via: p.via, csrfToken: p.csrfToken ?? null });
  });

  app.post('/setup', async (c) => {
    const body = await readJson(c.req.raw, setupBody);
    await auth.setup(body.token, body.password, c.get('clientIp'));
    return c.body(null, 204);
  });

  return app;
}
