/**
 * `/api/infra`: Berth's shared PostgreSQL and Redis (`berth infra up|status|down`). Reading the
 * status needs any login; starting and stopping are admin-only and audited. `POST /up` and
 * `POST /down` stream NDJSON progress lines `{"message"}` and end with `{"status"}` or `{"error"}`.
 */
import { Readable } from 'node:stream';
import { Hono } from 'hono';
import { z } from 'zod';
import { BerthError, isBerthError } from '../../errors.js';
import type { InfraService } from '../../infra/managed.js';
import type { InfraStatus } from '../../infra/shared-infra.js';
import type { AuthService } from '../../services/auth.js';
import { requireAdmin } from '../authn.js';
import type { ApiEnv } from '../env.js';
import { readJson } from './workspaces.js';

/** Body of `POST /api/infra/down`. */
export const infraDownBody = z.object({ purge: z.boolean().optional(), force: z.boolean().optional() }).strict();

/** Routes mounted at `/api/infra`. */
export function infraRoutes(infra: InfraService, auth: AuthService) {
  const app = new Hono<ApiEnv>();

  /** Runs `op` with a progress callback and streams it as NDJSON. */
  const stream = (op: (say: (message: string) => void) => Promise<InfraStatus>, onDone: (err: unknown) => void): Response => {
    const lines = new Readable({ read() {} });
    const write = (v: unknown): void => void lines.push(JSON.stringify(v) + '\n');
    op((message) => write({ message }))
      .then((status) => {
        onDone(null);
        write({ status });
      })
      .catch((err: unknown) => {
        onDone(err);
        const e = isBerthError(err) ? err : new BerthError('E_INTERNAL', 'internal error; see the daemon log');
        write({ error: { code: e.code, message: e.message, ...(e.hint ? { hint: e.hint } : {}) } });
      })
      .finally(() => lines.push(null));
    return new Response(Readable.toWeb(lines) as ReadableStream, {
      headers: { 'content-type': 'application/x-ndjson; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' },
    });
  };

  app.get('/', async (c) => c.json(await infra.status()));

  app.post('/up', (c) => {
    const p = c.get('principal');
    requireAdmin(p);
    const ip = c.get('clientIp');
    return stream(
      (say) => infra.up(say),
      (err) => auth.audit(p, err ? 'infra.up.failed' : 'infra.up', null, ip, err ? { error: err instanceof Error ? err.message : String(err) } : null),
    );
  });

  app.post('/down', async (c) => {
    const p = c.get('principal');
    requireAdmin(p);
    const body = await readJson(c.req.raw, infraDownBody);
    // Refused before the stream starts: a plain 409.
    infra.checkDown(body);
    const ip = c.get('clientIp');
    return stream(
      (say) => infra.down(body, say),
      (err) => auth.audit(p, err ? 'infra.down.failed' : 'infra.down', null, ip, { purge: body.purge ?? false, force: body.force ?? false }),
    );
  });

  return app;
}
