import type { IncomingMessage } from 'node:http';
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { HttpBindings } from '@hono/node-server';
import type { BerthConfig } from '../config/schema.js';
import { BerthError } from '../errors.js';
import type { HostingInfo } from '../domain/workspace.js';
import type { Logger } from '../log.js';
import type { Runtime } from '../runtime/runtime.js';
import type { WorkspaceService } from '../services/workspaces.js';
import { requireToken } from './auth.js';
import { errorResponse } from './error-handler.js';
import { workspaceRoutes } from './routes/workspaces.js';

export interface ApiDeps {
  config: BerthConfig;
  log: Logger;
  token: string;
  version: string;
  runtime: Runtime;
  runtimeReason: string;
  workspaces: WorkspaceService;
  hostingFor: (req: IncomingMessage) => HostingInfo;
  startedAt: number;
}

/** Routes reachable without a token. Everything else under /api needs one. */
export const OPEN_ROUTES: ReadonlySet<string> = new Set(['GET /api/health']);

/** Builds the Hono app serving /api. Mounted in-process behind the edge. */
export function createApiApp(deps: ApiDeps) {
  const app = new Hono<{ Bindings: HttpBindings }>();
  app.onError((err, c) => errorResponse(c, err, deps.log));
  app.notFound((c) =>
    errorResponse(c, new BerthError('E_NOT_FOUND', `no route for ${c.req.method} ${c.req.path}`), deps.log),
  );
  app.use(
    '/api/*',
    bodyLimit({
      maxSize: 1024 * 1024,
      onError: () => {
        throw new BerthError('E_PAYLOAD_TOO_LARGE', 'request body is larger than 1 MiB');
      },
    }),
  );
  app.use('/api/*', requireToken(deps.token, OPEN_ROUTES));

  app.get('/api/health', (c) =>
    c.json({ status: 'ok', runtime: deps.runtime.name, version: deps.version }),
  );

  app.get('/api/status', (c) => {
    const counts = { creating: 0, running: 0, stopped: 0, failed: 0 };
    for (const ws of deps.workspaces.list()) counts[ws.state]++;
    const total = deps.config.portRangeEnd - deps.config.portRangeStart + 1;
    return c.json({
      runtime: deps.runtime.name,
      runtimeReason: deps.runtimeReason,
      version: deps.version,
      uptimeSeconds: Math.round((Date.now() - deps.startedAt) / 1000),
      workspaces: counts,
      ports: { used: deps.workspaces.portsInUse(), total },
    });
  });

  app.route('/api/workspaces', workspaceRoutes(deps.workspaces, deps.hostingFor));
  return app;
}
