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
import { hostKey } from '../hosted-access.js';
import { cookieValue } from '../upgrade-auth.js';
import { SESSION_COOKIE } from '../authn.js';
import { BerthError } from '../../errors.js';
import type { ApiEnv } from '../env.js';
import { readJson } from './workspaces.js';

const loginBody = z.object({ username: z.string().min(1).max(64), password: z.string().min(1).max(1024) }).strict();
const setupBody = z.object({ token: z.string().min(1).max(200), password: z.string().max(1024) }).strict();

/** /api/auth: login (sets the session cookie), logout, me, and the one-time admin setup. */
export function authRoutes(
  auth: AuthService,
  config: BerthConfig,
  hostingFor: (req: IncomingMessage) => HostingInfo,
  handoff: { store: HandoffStore; hostRoute: (hostname: string) => Route | undefined },
) {
  const app = new Hono<ApiEnv>();

  /**
   * Subdomain mode sign-in: `GET /api/auth/handoff?to=<app URL>`. With a dashboard session that may
   * see the app, mints a one-time ticket bound to that app host and sends the browser there;
   * without one, sends it to the login page first. (An open route: it checks the session itself.)
   */
  app.get('/handoff', (c) => {
    const hosting = hostingFor(c.env.incoming);
    const dashboard = `${hosting.proto}://${hosting.host}${hosting.basePath}`;
    let to: URL;
    try {
      to = new URL(c.req.query('to') ?? '');
    } catch {
      throw new BerthError('E_BAD_REQUEST', 'to must be the full URL of a hosted app');
    }
    const route = handoff.hostRoute(hostnameOf(to.host));
    if (!route || (to.protocol !== 'http:' && to.protocol !== 'https:')) {
      throw new BerthError('E_NOT_FOUND', 'no hosted app at that address');
    }
    const p = auth.sessionPrincipal(cookieValue(c.req.header('cookie'), SESSION_COOKIE));
    if (!p) return c.redirect(`${dashboard}/#/login?next=${encodeURIComponent(c.req.url.slice(c.req.url.indexOf('/api/')))}`, 302);
    if (p.role !== 'admin' && p.userId !== route.access?.ownerId) throw new BerthError('E_NOT_FOUND', 'no hosted app at that address');
    const ticket = handoff.store.mint(p.userId, hostKey(route));
    const next = to.pathname + to.search;
    c.header('cache-control', 'no-store');
    return c.redirect(`${to.origin}/__berth/handoff?ticket=${ticket}&next=${encodeURIComponent(next)}`, 302);
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
