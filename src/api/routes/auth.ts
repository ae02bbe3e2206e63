import { Hono } from 'hono';
import { deleteCookie, setCookie } from 'hono/cookie';
import { z } from 'zod';
import type { BerthConfig } from '../../config/schema.js';
import type { HostingInfo } from '../../domain/workspace.js';
import type { IncomingMessage } from 'node:http';
import { presentUser, type AuthService } from '../../services/auth.js';
import { SESSION_COOKIE } from '../authn.js';
import type { ApiEnv } from '../env.js';
import { readJson } from './workspaces.js';

const loginBody = z.object({ username: z.string().min(1).max(64), password: z.string().min(1).max(1024) }).strict();
const setupBody = z.object({ token: z.string().min(1).max(200), password: z.string().max(1024) }).strict();

/** /api/auth: login (sets the session cookie), logout, me, and the one-time admin setup. */
export function authRoutes(auth: AuthService, config: BerthConfig, hostingFor: (req: IncomingMessage) => HostingInfo) {
  const app = new Hono<ApiEnv>();

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
