import { Hono } from 'hono';
import { z } from 'zod';
import { BerthError } from '../../errors.js';
import { presentUser, TOKEN_SCOPES, type AuthService } from '../../services/auth.js';
import { requireAdmin } from '../authn.js';
import type { ApiEnv } from '../env.js';
import { readJson } from './workspaces.js';

const userBody = z
  .object({ username: z.string().max(64), password: z.string().max(1024), role: z.enum(['admin', 'member']).default('member') })
  .strict();
const passwdBody = z.object({ password: z.string().max(1024) }).strict();
const tokenBody = z
  .object({ name: z.string().min(1).max(64), scopes: z.array(z.enum(TOKEN_SCOPES)).min(1).default(['read', 'write']) })
  .strict();

/** /api/users (admins; anyone may change their own password), /api/tokens, /api/audit (admins). */
export function adminRoutes(auth: AuthService) {
  const app = new Hono<ApiEnv>();

  app.get('/users', (c) => {
    requireAdmin(c.get('principal'));
    return c.json({ users: auth.listUsers().map(presentUser) });
  });
  app.post('/users', async (c) => {
    requireAdmin(c.get('principal'));
    const body = await readJson(c.req.raw, userBody);
    return c.json(presentUser(await auth.addUser(c.get('principal'), body, c.get('clientIp'))), 201);
  });
  app.delete('/users/:id', (c) => {
    requireAdmin(c.get('principal'));
    auth.removeUser(c.get('principal'), c.req.param('id'), c.get('clientIp'));
    return c.body(null, 204);
  });
  app.post('/users/:id/password', async (c) => {
    const body = await readJson(c.req.raw, passwdBody);
    await auth.setPassword(c.get('principal'), c.req.param('id'), body.password, c.get('clientIp'));
    return c.body(null, 204);
  });

  app.get('/tokens', (c) => {
    const tokens = auth.listTokens(c.get('principal'));
    return c.json({ tokens: tokens.map((t) => ({ id: t.id, name: t.name, scopes: t.scopes, userId: t.userId, createdAt: t.createdAt, lastUsedAt: t.lastUsedAt })) });
  });
  app.post('/tokens', async (c) => {
    const body = await readJson(c.req.raw, tokenBody);
    const { token, info } = auth.createToken(c.get('principal'), body.name, body.scopes, c.get('clientIp'));
    return c.json({ token, id: info.id, name: info.name, scopes: info.scopes, createdAt: info.createdAt }, 201);
  });
  app.delete('/tokens/:id', (c) => {
    auth.revokeToken(c.get('principal'), c.req.param('id'), c.get('clientIp'));
    return c.body(null, 204);
  });

  app.get('/audit', (c) => {
    requireAdmin(c.get('principal'));
    const limit = Number(c.req.query('limit') ?? 100);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new BerthError('E_BAD_REQUEST', 'limit must be an integer in 1–1000');
    return c.json({ entries: auth.listAudit(limit) });
  });

  return app;
}
