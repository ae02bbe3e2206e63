import { EventEmitter } from 'node:events';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BerthConfig } from './config/schema.js';
import { BerthError } from './errors.js';
import type { Logger } from './log.js';
import { createApiApp } from './api/app.js';
import { createApiListener } from './api/listener.js';
import { bearerToken, ensureTokenFile } from './auth/tokens.js';
import { createExecUpgradeHandler } from './api/exec-socket.js';
import { createHostingResolver, createLinkHostingResolver } from './api/hosting.js';
import { SESSION_COOKIE } from './api/authn.js';
import { forwardedInfo, parseTrustedProxies } from './edge/forwarded.js';
import { AuthRepo } from './store/auth-repo.js';
import { LlmTokensRepo } from './store/llm-tokens-repo.js';
import { LlmTokens } from './services/llm-tokens.js';
import { createLlmAccess } from './api/llm-access.js';
import { AuthService } from './services/auth.js';
import { sessionPrincipalForUpgrade } from './api/upgrade-auth.js';
import { createHostedAccess } from './api/hosted-access.js';
import { createIdleHooks } from './api/idle-hooks.js';
import { HandoffStore } from './auth/app-handoff.js';
import type { Edge } from './edge/edge-contract.js';
import { createDashboardHandler } from './web/static.js';
import { createDaemonMetrics } from './metrics/daemon-metrics.js';
import { cookieValue } from './api/upgrade-auth.js';
import { fileURLToPath } from 'node:url';
import { buildRouteTable } from './edge/route-table.js';
import { createEdge } from './edge/server.js';
import { prepareDataDir } from './store/data-dir.js';
import { setupTls } from './edge/tls/setup.js';
import type { CertificateStatus } from './edge/tls/certificates.js';
import { selectRuntime } from './runtime/select.js';
import { scopeToInstallation } from './runtime/installation.js';
import { adoptionRules } from './services/adoption.js';
import { PreviewsRepo } from './store/previews-repo.js';
import { openDb } from './store/db.js';
import { WorkspacesRepo } from './store/workspaces-repo.js';
import { WorkspaceService } from './services/workspaces.js';
import { AppsRepo } from './store/apps-repo.js';
import { AppService } from './services/apps.js';
import { InfraService } from './infra/managed.js';
import { appRoutableWorkloads } from './services/app-routes.js';
import { workspaceRoutable } from './services/workspace-routes.js';
import { createReconciler, type ReconcileReport } from './services/reconcile.js';
import { createPreviewStack, type PreviewStack } from './services/previews-setup.js';
import { BERTH_URL_SCRIPT } from './workload/berth-url.js';
import { instanceId } from './store/instance-id.js';
import { createOrigins } from './edge/origins.js';
import { matchRequest } from './edge/match.js';
import type { HostingInfo } from './domain/workspace.js';

/** A running daemon. `close()` stops the listener and the store; workloads keep running. */
export interface Daemon {
  url: string;
  port: number;
  /** The apps origin's listener (path-mode hosted apps and `/embed/` apps), e.g. http://127.0.0.1:8996. */
  appsUrl: string;
  appsPort: number;
  /** The HTTP→HTTPS redirect listener's port (BERTH_TLS on), else null. */
  httpPort: number | null;
  /** Certificates served and why an update was refused ([] with BERTH_TLS=off). */
  tlsStatus(): CertificateStatus[];
  runtime: string;
  runtimeReason: string;
  /** This installation's id (store/instance-id.ts), on every workload, network and volume it makes. */
  installation: string;
  token: string;
  /** One-time URL to set the admin password, while it has none (also logged). */
  setupUrl: string | null;
  workspaces: WorkspaceService;
  /** Catalog apps (install/uninstall). */
  apps: AppService;
  auth: AuthService;
  /** The API app (for tests that enumerate its routes). */
  api: { routes: { method: string; path: string }[] };
  /** Pull-request previews: service, job queue, deliveries log. */
  previews: PreviewStack;
  /** Runs one reconcile pass now (also runs at start and every BERTH_RECONCILE_INTERVAL s). */
  reconcile(): Promise<ReconcileReport>;
  close(): Promise<void>;
}

export function berthVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/**
 * Starts Berth: data dir, store, token, runtime (chosen and explained), services, API and the
 * edge on config.port. Resolves once the listener accepts connections.
 */
export async function startDaemon(config: BerthConfig, log: Logger): Promise<Daemon> {
  const startedAt = Date.now();
  prepareDataDir(config.dataDir, log);
  // Before anything else starts: an unusable certificate is a configuration error to fix first.
  // On-demand ACME orders only for hosts the edge routes: its table is read per handshake (the edge is made below).
  const tls = setupTls(config, log.child({ component: 'tls' }), { isRouted: (host) => edgeRef?.routes().hostRoutes.has(host) ?? false });
  const token = ensureTokenFile(path.join(config.dataDir, 'token'));
  const helperDir = path.join(config.dataDir, 'bin');
  mkdirSync(helperDir, { recursive: true });
  const berthUrlHelper = path.join(helperDir, 'berth-url');
  writeFileSync(berthUrlHelper, BERTH_URL_SCRIPT);
  chmodSync(berthUrlHelper, 0o755);

  const selected = await selectRuntime(config.runtime, { log: log.child({ component: 'runtime' }), dataDir: config.dataDir }, {
    podmanBin: config.podmanBin,
    dockerBin: config.dockerBin,
  });
  const { reason } = selected;
  log.info({ runtime: selected.runtime.name, reason }, `runtime: ${selected.runtime.name} (${reason})`);
  if (!selected.runtime.capabilities.isolation) log.warn('the process runtime gives workloads NO isolation from the host');

  const db = openDb(path.join(config.dataDir, 'berth.db'), log);
  const repo = new WorkspacesRepo(db);
  const llmTokens = new LlmTokens(new LlmTokensRepo(db));
  // Every service sees the runtime through this installation's scope: what it creates carries the
  // installation id and what it lists is its own (runtime/installation.ts, services/adoption.ts).
  const installation = instanceId(db);
  const runtime = scopeToInstallation(selected.runtime, {
    id: installation,
    ...adoptionRules({
      workspaceRef: (id) => repo.get(id)?.runtimeRef,
      appRef: (name) => appsRepo.get(name)?.runtimeRef,
      previewExists: (id) => previewsRepo.get(id) !== undefined,
      infraClaims: (w) => infra.claimsUnlabelled(w),
    }),
  });
  const workspaces = new WorkspaceService({ config, log: log.child({ component: 'workspaces' }), repo, runtime, berthUrlHelper, llmTokens, installation });
  const appsRepo = new AppsRepo(db);
  // BERTH_POSTGRES_URL / BERTH_REDIS_URL, or Berth's own servers after `berth infra up`.
  const infra = new InfraService({ config, runtime, log: log.child({ component: 'infra' }), usersOf: (kind) => apps.usersOf(kind), instanceId: installation });
  const apps = new AppService({ config, log: log.child({ component: 'apps' }), repo: appsRepo, runtime, shared: infra, installation });
  const previewsRepo = new PreviewsRepo(db);
  const previews = createPreviewStack({ config, log, db, runtime });
  const version = berthVersion();
  const auth = new AuthService({ repo: new AuthRepo(db), config, log: log.child({ component: 'auth' }), localToken: token });
  const { setupToken } = await auth.bootstrap();
  const trusted = parseTrustedProxies(config.trustedProxies);
  const hostingFor = createHostingResolver(config);
  // Stored in workspaces and apps, shown to others: trusted configuration only (api/hosting.ts).
  const linkHostingFor = createLinkHostingResolver(config, log.child({ component: 'hosting' }));
  const origins = createOrigins({ trusted, publicUrl: config.publicUrl, appsUrl: config.appsUrl });
  const appsHostingFor = (req: IncomingMessage): HostingInfo => {
    const dashboard = linkHostingFor(req);
    return { ...origins.appsHosting(req), dashboardUrl: `${dashboard.proto}://${dashboard.host}${dashboard.basePath}` };
  };
  if (!trusted.empty && !config.appsUrl) {
    log.warn('BERTH_TRUSTED_PROXIES is set but BERTH_APPS_URL is not: hosted apps are linked at this host on BERTH_APPS_PORT, past the outer proxy; set BERTH_APPS_URL to the apps origin the proxy serves');
  }
  const handoffs = new HandoffStore(60_000, config.sessionIdleMinutes * 60_000);
  // Idle auto-stop: activity from the edge, exec sessions and the API; the wake page's hook.
  const idle = createIdleHooks({ config, log: log.child({ component: 'idle-stop' }), repo, workspaces, principalOn: (req, route) => hostedAccess.principal(req, route) });
  // The edge is created below; the hand-off route looks routes up in its current table.
  let edgeRef: Edge | null = null;
  const shuttingDown = new AbortController();
  // The reconciler writes crashes, restarts and abandoned installs straight into the workspace and
  // app rows, past the services (which emit `changed` for their own writes only). It reports a
  // pass that changed something through onChange below, which fires this for /api/events: a
  // separate signal rather than re-emitting the services' `changed`, which would rebuild the
  // route table twice.
  const storeChanged = new EventEmitter<{ changed: [] }>();
  // Every open /api/events stream listens to each of these: many open dashboards are expected,
  // not a leak (Node warns past 10 listeners by default).
  for (const source of [workspaces, apps, previews.service, storeChanged]) source.setMaxListeners(0);
  const api = createApiApp({
    ...(tls ? { tlsStatus: () => tls.status() } : {}),
    shutdown: shuttingDown.signal,
    storeChanged,
    handoff: {
      store: handoffs,
      hostRoute: (hostname) => edgeRef?.routes().hostRoutes.get(hostname),
      pathRoute: (path) => {
        const m = edgeRef ? matchRequest(edgeRef.routes(), path, undefined) : null;
        return m && (m.type === 'route' || m.type === 'unavailable') && m.route.via === 'path' ? m.route : undefined;
      },
      appsUrl: origins.appsUrl,
    },
    config,
    log: log.child({ component: 'api' }),
    auth,
    clientIpOf: (req) => forwardedInfo(req, trusted).clientIp,
    version,
    runtime,
    runtimeReason: reason,
    workspaces,
    apps,
    hostingFor,
    appsHostingFor,
    startedAt,
    previews: previews.api,
    infra,
    idle: idle.api,
  });

  const apiListener = createApiListener(api.fetch);
  const dashboard = createDashboardHandler({
    // <repo>/web/dist from both src/daemon.ts (tsx) and dist/daemon.js
    distDir: fileURLToPath(new URL('../web/dist', import.meta.url)),
    prefixFor: (req) => hostingFor(req).basePath,
  });
  const hostedAccess = createHostedAccess({
    auth,
    handoffs,
    expectedOrigin: (req, route) => {
      const h = route.via === 'path' ? origins.appsHosting(req) : forwardedInfo(req, trusted);
      return `${h.proto}://${h.host}`;
    },
  });
  let edgeForStats: Edge | null = null;
  const metrics = createDaemonMetrics({
    workloads: () => workspaces.list().map((ws) => ({ kind: 'workspace', state: ws.state })),
    edgeStats: () => edgeForStats?.stats() ?? { sockets: 0, tunnels: 0 },
    workspaceUsage: async (viewer) => {
      // The API's rule (routes/workspaces.ts canSee): members see only their own workspaces.
      const list = workspaces.list().filter((ws) => viewer.role === 'admin' || ws.ownerId === viewer.userId);
      const usage = await workspaces.usage.usage(list);
      return list.flatMap((ws) => (usage.has(ws.id) ? [{ id: ws.id, name: ws.name, usage: usage.get(ws.id)! }] : []));
    },
  });
  const serveMetrics = (req: IncomingMessage, res: ServerResponse): boolean => {
    if (req.method !== 'GET' || (req.url !== '/metrics' && !req.url?.startsWith('/metrics?'))) return false;
    const p =
      auth.tokenPrincipal(bearerToken(req.headers.authorization)) ??
      auth.sessionPrincipal(cookieValue(req.headers.cookie, SESSION_COOKIE));
    if (!p) {
      res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Bearer' });
      res.end(JSON.stringify({ error: { code: 'E_UNAUTHORIZED', message: 'send Authorization: Bearer <token>' } }));
      return true;
    }
    void metrics.serve(req, res, p).catch((err: unknown) => {
      log.warn({ err }, 'metrics scrape failed');
      if (!res.headersSent) res.writeHead(500).end();
    });
    return true;
  };
  const execSockets = createExecUpgradeHandler({
    principalOf: (req) =>
      auth.tokenPrincipal(bearerToken(req.headers.authorization)) ?? sessionPrincipalForUpgrade(auth, req, hostingFor, SESSION_COOKIE),
    workspaces,
    log: log.child({ component: 'exec' }),
    onSession: idle.onSession,
  });
  const edge = createEdge({
    config,
    log: log.child({ component: 'edge' }),
    fallback: (req, res) => {
      if (serveMetrics(req, res) || dashboard(req, res)) return;
      return apiListener(req, res);
    },
    onResponse: metrics.onResponse,
    llmAccess: createLlmAccess({ auth, llmTokens, hostingFor, ratePerMinute: config.llmRateLimit }),
    onLlmResponse: metrics.onLlmResponse,
    limits: { drainMs: config.drainSeconds * 1000 },
    authorize: hostedAccess.authorize,
    redeemHandoff: hostedAccess.redeemHandoff,
    fallbackUpgrade: execSockets.handle,
    origins,
    closeWebSockets: execSockets.closeAll,
    ...(tls ? { tls: tls.edge } : {}),
    onActivity: idle.onActivity,
    wake: idle.wake,
  });
  edgeRef = edge;
  edgeForStats = edge;
  const refreshRoutes = (): void => {
    // Deletes made past the service (the reconciler finishing one) cascade to the credential.
    llmTokens.reload();
    edge.setRoutes(previews.withRoutes(
      buildRouteTable(
        workspaces.list().map(workspaceRoutable).concat(appRoutableWorkloads(apps)),
        config.appsDomain ? { appsDomain: config.appsDomain } : {},
      ),
    ));
  };
  workspaces.on('changed', refreshRoutes);
  apps.on('changed', refreshRoutes);
  previews.service.on('changed', refreshRoutes);
  const reconcile = createReconciler({
    repo,
    runtime,
    log: log.child({ component: 'reconcile' }),
    orphanGraceMs: 2 * config.reconcileInterval * 1000,
    busy: () => workspaces.busyIds(),
    onChange: () => {
      refreshRoutes();
      storeChanged.emit('changed');
    },
    onReport: metrics.onReconcile,
    apps: { repo: appsRepo, busy: () => apps.busyNames() },
    infra,
  });
  // Before the listener opens: a crash mid-create is cleaned up and every running workload's
  // route is back in the table by the time the first request arrives.
  const startupReport = await reconcile({ startup: true }).catch((err: unknown) => {
    log.error({ err }, 'startup reconcile failed; routes restored from the store as recorded');
    return null;
  });
  refreshRoutes();
  const timer = setInterval(() => {
    reconcile().catch((err: unknown) => log.warn({ err }, 'reconcile failed'));
  }, config.reconcileInterval * 1000);
  timer.unref();

  let address;
  try {
    address = await edge.listen(config.port, config.host);
  } catch (err) {
    clearInterval(timer);
    db.close();
    const e = err as NodeJS.ErrnoException;
    throw new BerthError('E_CONFIG', `cannot listen on ${config.host}:${config.port}: ${e.code ?? e.message}`, {
      hint: e.code === 'EADDRINUSE' ? 'another process uses this port: stop it or set BERTH_PORT' : 'check BERTH_HOST and BERTH_PORT',
      cause: err,
    });
  }
  let appsAddress;
  try {
    appsAddress = await edge.listenApps(config.appsPort ?? 0, config.host);
  } catch (err) {
    clearInterval(timer);
    await edge.close();
    db.close();
    const e = err as NodeJS.ErrnoException;
    throw new BerthError('E_CONFIG', `cannot listen on ${config.host}:${config.appsPort} (the apps origin): ${e.code ?? e.message}`, {
      hint: e.code === 'EADDRINUSE' ? 'another process uses this port: stop it or set BERTH_APPS_PORT' : 'check BERTH_HOST and BERTH_APPS_PORT',
      cause: err,
    });
  }
  let redirectAddress = null;
  try {
    redirectAddress = tls ? await tls.listenRedirect(() => address.port) : null;
  } catch (err) {
    clearInterval(timer);
    await edge.close();
    db.close();
    throw err;
  }
  origins.setPorts(address.port, appsAddress.port);
  const shownHost = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  const hostPart = shownHost.includes(':') ? `[${shownHost}]` : shownHost;
  const scheme = tls ? 'https' : 'http';
  const url = `${scheme}://${hostPart}:${address.port}`;
  const appsUrl = `${scheme}://${hostPart}:${appsAddress.port}`;
  log.info(
    { url, dataDir: config.dataDir, version, workspaces: workspaces.list().length, reconciled: startupReport },
    `Berth ${version} listening on ${url} (apps origin ${appsUrl})`,
  );
  previews.start();
  idle.start();
  const setupUrl = setupToken ? `${config.publicUrl ?? url}/#/setup?token=${setupToken}` : null;
  if (setupUrl) log.warn({ setupUrl }, `the admin account has no password yet: set it once at ${setupUrl}`);

  let closed = false;
  return {
    url,
    port: address.port,
    appsUrl,
    appsPort: appsAddress.port,
    httpPort: redirectAddress?.port ?? null,
    tlsStatus: () => tls?.status() ?? [],
    runtime: runtime.name,
    runtimeReason: reason,
    installation,
    token,
    setupUrl,
    workspaces,
    apps,
    auth,
    api,
    previews,
    reconcile: () => reconcile(),
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      workspaces.off('changed', refreshRoutes);
      apps.off('changed', refreshRoutes);
      shuttingDown.abort();
      await edge.close();
      await tls?.close();
      // The worker writes to the store: stopped before it closes.
      await previews.stop();
      previews.service.off('changed', refreshRoutes);
      await idle.close();
      db.close();
      log.info('Berth stopped (workloads keep running)');
    },
  };
}
