/**
 * `/api/volumes`: this installation's volumes with their sizes and users (services/volumes.ts).
 * `GET /` lists what the caller may see; `DELETE /:name` removes a volume nothing uses (a kept
 * workspace volume, an uninstalled app's). Others' volumes are "not found", as for workspaces.
 */
import { Hono } from 'hono';
import type { AuthService } from '../../services/auth.js';
import type { VolumeService } from '../../services/volumes.js';
import type { ApiEnv } from '../env.js';

/** Routes under /api/volumes. */
export function volumeRoutes(svc: VolumeService, auth: AuthService) {
  const app = new Hono<ApiEnv>();

  app.get('/', async (c) => c.json({ volumes: await svc.list(c.get('principal')) }));

  app.delete('/:name', async (c) => {
    const p = c.get('principal');
    const removed = await svc.remove(c.req.param('name'), p);
    auth.audit(p, 'volume.delete', removed.name, c.get('clientIp'), { kind: removed.kind, madeBy: removed.madeBy, sizeBytes: removed.sizeBytes });
    return c.json({ removed });
  });

  return app;
}
