import type { IncomingMessage } from 'node:http';
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { BerthConfig } from '../config/schema.js';
import { BerthError } from '../errors.js';
import type { HostingInfo } from '../domain/workspace.js';
import type { Logger } from '../log.js';
import type { Runtime } from '../runtime/runtime.js';
import type { AuthService } from '../services/auth.js';
import type { WorkspaceService } from '../services/workspaces.js';
import type { AppService } from '../services/apps.js';
import type { InfraService } from '../infra/managed.js';
import { appRoutes } from './routes/apps.js';
import { infraRoutes } from './routes/infra.js';
import { githubWebhookRoutes, previewApiRoutes, type PreviewApiDeps } from './routes/previews.js';
import { authenticate } from './authn.js';
import type { ApiEnv } from './env.js';
import type { HandoffDeps } from './routes/auth.js';
import { errorResponse } from './error-handler.js';
import { requestId } from '../edge/request-id.js';
import type { CertificateStatus } from '../edge/tls/certificates.js';
import { adminRoutes } from './routes/admin.js';
import { authRoutes } from './routes/auth.js';
import { workspaceRoutes } from './routes/workspaces.js';
import { volumeRoutes } from './routes/volumes.js';
import { eventRoutes, type ChangeSource } from './routes/events.js';
import { WAKE_ROUTES, wakeRoutes } from './routes/wake.js';
import type { WorkspaceIdle } from './routes/workspace-idle.js';

export interface ApiDeps {
  config: BerthConfig;
  log: Logger;
  version: string;
  runtime: Runtime;
  runtimeReason: string;
  workspaces: WorkspaceService;
  apps: AppService;
  auth: AuthService;
  /** The dashboard origin as this request reached it. */
  hostingFor: (req: IncomingMessage) => HostingInfo;
  /** The apps origin for this request (with the dashboard's URL): injected into workloads, used for their links. */
  appsHostingFor: (req: IncomingMessage) => HostingInfo;
  clientIpOf: (req: IncomingMessage) => string;
  handoff: HandoffDeps;
  startedAt: number;
  /** Pull-request previews: /api/previews, /api/webhooks/deliveries and POST /webhooks/github. */
  previews?: PreviewApiDeps;
  /** Berth's shared PostgreSQL/Redis: /api/infra. */
  infra?: InfraService;
  /** Aborted when the daemon starts shutting down: long-lived streams (SSE) end at once. */
  shutdown?: AbortSignal;
  /** Fires after the reconciler changed workspace or app rows directly (for /api/events). */
  storeChanged?: ChangeSource;
  /** Certificates served (BERTH_TLS), each with its expiry and the last refused update's reason; absent with TLS off. */
  tlsStatus?: () => CertificateStatus[];
  /** Idle auto-stop: activity of API use, the idle block of workspaces, waking from a hosted URL. */
  idle?: WorkspaceIdle;
}

/** Routes reachable without credentials. Everything else under /api needs a token or a session. */
export const OPEN_ROUTES: ReadonlySet<string> = new Set([
  'GET /api/health',
  'POST /api/auth/login',
  'POST /api/auth/setup',
  // Checks the session itself and redirects to the login page without one.
  'GET /api/auth/handoff',
  // Waking a stopped workspace from its URL: a form with its own CSRF check (routes/wake.ts).
  ...WAKE_ROUTES,
]);

/** Builds the Hono app serving /api. Mounted in-process behind the edge. */
export function createApiApp(deps: ApiDeps) {
  const app = new Hono<ApiEnv>();
  app.onError((err, c) => errorResponse(c, err, deps.log.child({ reqId: c.get('reqId') })));
  // Every API answer carries a request id, and every log line about it names the same id.
  app.use('*', async (c, next) => {
    const reqId = requestId(c.req.header('x-request-id'));
    c.set('reqId', reqId);
    const started = performance.now();
    await next();
    c.res.headers.set('x-request-id', reqId);
    deps.log.debug(
      { reqId, method: c.req.method, path: c.req.path, status: c.res.status, ms: Math.round(performance.now() - started) },
      'api request',
    );
  });
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
  app.use(
    '/api/*',
    authenticate(
      deps.auth,
      OPEN_ROUTES,
      (c) => deps.clientIpOf(c.env.incoming),
      (c) => {
        const h = deps.hostingFor(c.env.incoming);
        return `${h.proto}://${h.host}`;
      },
    ),
  );
  // API answers are per-user: never let a shared cache keep them.
  app.use('/api/*', async (c, next) => {
    await next();
    if (!c.res.headers.has('cache-control')) c.res.headers.set('cache-control', 'no-store');
  });

  app.get('/api/health', (c) => c.json({ status: 'ok', runtime: deps.runtime.name, version: deps.version }));

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
      tls: { mode: deps.config.tls, certificates: deps.tlsStatus?.() ?? [] },
    });
  });

  app.route('/api/auth', authRoutes(deps.auth, deps.config, deps.hostingFor, deps.handoff));
  app.route('/api/workspaces', workspaceRoutes(deps.workspaces, deps.auth, deps.appsHostingFor, deps.idle));
  app.route('/api/volumes', volumeRoutes(deps.workspaces.volumes, deps.auth));
  app.route('/api/wake', wakeRoutes({ auth: deps.auth, workspaces: deps.workspaces, activity: deps.idle?.activity, hostingFor: deps.hostingFor, handoff: deps.handoff }));
  app.route(
    '/api/events',
    eventRoutes({
      workspaces: deps.workspaces,
      apps: deps.apps,
      auth: deps.auth,
      log: deps.log,
      previews: deps.previews?.service,
      storeChanged: deps.storeChanged,
      shutdown: deps.shutdown,
      ...(deps.idle ? { idleView: deps.idle.view } : {}),
    }),
  );
  app.route('/api', adminRoutes(deps.auth));
  app.route('/api', appRoutes(deps.apps, deps.auth, deps.hostingFor, deps.appsHostingFor));
  if (deps.infra) app.route('/api/infra', infraRoutes(deps.infra, deps.auth));
  if (deps.previews) {
    app.route('/api', previewApiRoutes(deps.previews));
    app.route('/webhooks', githubWebhookRoutes(deps.previews));
  }
  return app;
}
