/**
 * The edge: the daemon's single listener. Workload routes go straight to their upstream, `/llm/`
 * to the configured LLM provider, and everything else to the in-process fallback (the API and
 * dashboard) untouched, so the API path has no extra hop.
 *
 * Lifecycle: `createEdge()` (no socket yet) → `setRoutes()` any time, also before listening →
 * `listen()` → `setRoutes()` on every control-plane change → `close()` (stops accepting, lets
 * in-flight requests drain for `drainMs`, then ends every socket, tunnel and upstream pool).
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Route, RouteTable } from '../domain/route.js';
import { emptyRouteTable } from './route-table.js';
import { matchRequest } from './match.js';
import { parseTrustedProxies } from './forwarded.js';
import { createProxy, type ForwardTarget } from './proxy.js';
import { LLM_HTTP } from './headers.js';
import { sendError, sendSocketError, type EdgeError } from './pages.js';
import { markAppsRequest } from './origins.js';
import { createAccessPages, HANDOFF_PATH } from './access-pages.js';
import { createEntryGuards } from './entry-guards.js';
import { sendStopped } from './wake-page.js';
import { defaultEdgeLimits, type Edge, type EdgeLimits, type EdgeOptions, type LlmVerdict, type RequestKind } from './edge-contract.js';

const LLM_REFUSED: LlmVerdict = {
  ok: false,
  workspaceId: null,
  error: { status: 401, code: 'E_UNAUTHORIZED', message: 'The LLM proxy needs a credential: send Authorization: Bearer $BERTH_LLM_TOKEN (or a Berth API token).' },
};

const LLM_CHALLENGE = Object.freeze({ 'www-authenticate': 'Bearer' });

const KIND = Symbol('berth.kind');
const STARTED = Symbol('berth.started');
type Tagged = ServerResponse & { [KIND]?: RequestKind; [STARTED]?: number };

/** First Host header from rawHeaders, without building `req.headers`. */
function rawHost(raw: readonly string[]): string | undefined {
  for (let i = 0; i < raw.length; i += 2) {
    const n = raw[i]!;
    if (n.length === 4 && (n === 'Host' || n === 'host' || n.toLowerCase() === 'host')) return raw[i + 1];
  }
  return undefined;
}

/** `/llm` target (path + query below the provider's base URL) → full upstream path. */
function llmPath(basePath: string, rest: string): string {
  return basePath + (rest === '' || rest.charCodeAt(0) === 63 /* ? */ ? '/' + rest : rest);
}

/** Creates the edge (not yet listening). */
export function createEdge(opts: EdgeOptions): Edge {
  const { config, log } = opts;
  const limits: EdgeLimits = { ...defaultEdgeLimits, ...opts.limits };
  const trusted = parseTrustedProxies(config.trustedProxies);
  const proxy = createProxy({
    log,
    trusted,
    upstreamTimeoutMs: limits.upstreamTimeoutMs,
    connectTimeoutMs: limits.connectTimeoutMs,
    connectionsPerUpstream: limits.connectionsPerUpstream,
    drainMs: limits.drainMs,
    ...(opts.onActivity ? { onActivity: opts.onActivity } : {}),
    ...(opts.origins ? { appFrameAncestors: (req: IncomingMessage) => `frame-ancestors 'self' ${opts.origins!.dashboardSource(req)}` } : {}),
  });
  let table: RouteTable = emptyRouteTable();
  const sockets = new Set<Socket>();

  const llm = config.llmBaseUrl ? new URL(config.llmBaseUrl) : null;
  const llmBase = llm ? llm.pathname.replace(/\/+$/, '') : '';
  const llmExtra: readonly string[] = config.llmApiKey ? ['Authorization', `Bearer ${config.llmApiKey}`] : [];

  const notFound = (what: string): EdgeError => ({ status: 404, code: 'E_NOT_FOUND', message: what });
  const NOTHING_HERE = notFound('Nothing is served at this address: no running app has this path or host.');
  const unavailable = (r: { kind: string; workloadName: string; state: string }): EdgeError => {
    const what = `The ${r.kind} "${r.workloadName}"`;
    const message =
      r.state === 'creating'
        ? `${what} is still being created; try again in a moment.`
        : r.state === 'failed'
          ? `${what} failed; check its status and logs, then start it again.`
          : r.state === 'deleting'
            ? `${what} is being deleted.`
            : `${what} is ${r.state}; start it to reach its apps.`;
    return { status: 503, code: 'E_WORKLOAD_UNAVAILABLE', message };
  };

  const { requestFailed, upgradeFailed, onClientError } = createEntryGuards(log);
  const fallbackFailed = (err: unknown, req: IncomingMessage, res: ServerResponse): void => requestFailed(err, req, res, 'fallback handler');

  const allowed = (req: IncomingMessage, route: Route): boolean =>
    route.access === null || (opts.authorize !== undefined && opts.authorize(req, route));

  const origins = opts.origins;
  const { refuse, handoff, originSide, toAppsOrigin, wrongOrigin, hereUrl } = createAccessPages({ origins, redeemHandoff: opts.redeemHandoff });
  const onActivity = opts.onActivity;

  /** A stopped workspace: the normal refusal for those who may not see it, else the wake page (or JSON 503). */
  function stopped(req: IncomingMessage, res: ServerResponse, route: Route): void {
    if (!allowed(req, route)) return refuse(req, res, route);
    const info = opts.wake!(req, route);
    if (!info) return sendError(res, unavailable(route), req.headers.accept, { 'retry-after': '5' });
    sendStopped(req, res, route, info, hereUrl(req, route, info.dashboardUrl));
  }

  const onResponse = opts.onResponse;
  // One shared listener (no closure per request): the response carries its own kind and start.
  function finished(this: Tagged): void {
    try {
      onResponse!(this[KIND] ?? 'refused', this.statusCode, (performance.now() - (this[STARTED] ?? 0)) / 1000);
    } catch (err) {
      log.error({ err }, 'onResponse hook failed');
    }
  }

  function onAppsRequest(req: IncomingMessage, res: ServerResponse): void {
    markAppsRequest(req);
    onRequest(req, res);
  }

  // Entry points: Node calls these straight from the socket, where a throw would end the
  // process. Each body runs inside one try/catch (no closure per request); a throw costs only
  // the request or socket it happened on.
  function onRequest(req: IncomingMessage, res: ServerResponse): void {
    try {
      handleRequest(req, res);
    } catch (err) {
      requestFailed(err, req, res, 'request handler');
    }
  }

  function onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    // An error on a socket nobody listens to would crash the daemon.
    socket.on('error', upgradeSocketError);
    try {
      handleUpgrade(req, socket, head);
    } catch (err) {
      upgradeFailed(err, req, socket);
    }
  }

  function upgradeSocketError(err: Error): void {
    log.debug({ err }, 'upgrade socket error');
  }

  function handleRequest(req: IncomingMessage, res: ServerResponse): void {
    const t = table; // one read: the whole request sees one table
    const url = req.url ?? '/';
    const m = matchRequest(t, url, t.hostSuffix === null && !t.previewSuffix ? undefined : rawHost(req.rawHeaders));
    const side = originSide(req, m, url);
    if (side === 'redirect') return toAppsOrigin(req, res, url);
    if (onResponse) {
      const tagged = res as Tagged;
      tagged[STARTED] = performance.now();
      tagged[KIND] = m.type === 'route' ? m.route.kind : m.type === 'none' ? 'api' : m.type === 'llm' ? 'llm' : 'refused';
      res.once('finish', finished);
    }
    switch (m.type) {
      case 'route':
        if (m.route.via === 'host' && m.path.startsWith(HANDOFF_PATH)) return handoff(req, res, m.route, m.path);
        if (!allowed(req, m.route)) return refuse(req, res, m.route);
        if (onActivity) onActivity(m.route, 'http');
        proxy.forwardRoute(req, res, m.route, m.path);
        return;
      case 'none':
        if (side === 'apps') {
          // The apps origin answers nothing of Berth's own but the hand-off: no API, no dashboard.
          if (url.startsWith(HANDOFF_PATH)) return handoff(req, res, null, url);
          sendError(res, NOTHING_HERE, req.headers.accept);
          return;
        }
        try {
          const pending = opts.fallback(req, res);
          if (pending) pending.catch((err: unknown) => fallbackFailed(err, req, res));
        } catch (err) {
          fallbackFailed(err, req, res);
        }
        return;
      case 'redirect':
        res.writeHead(308, { location: m.location, 'content-length': 0, 'cache-control': 'no-store' });
        res.end();
        return;
      case 'unavailable':
        if (opts.wake && m.route.kind === 'workspace' && m.route.state === 'stopped') return stopped(req, res, m.route);
        sendError(res, unavailable(m.route), req.headers.accept, { 'retry-after': '5' });
        return;
      case 'not-found':
        log.debug({ url: req.url, reason: m.reason }, 'edge 404');
        sendError(res, NOTHING_HERE, req.headers.accept);
        return;
      case 'llm': {
        if (side === 'apps') return sendError(res, NOTHING_HERE, req.headers.accept);
        if (!llm) {
          sendError(res, { status: 404, code: 'E_LLM_NOT_CONFIGURED', message: 'The LLM proxy is not configured: set BERTH_LLM_BASE_URL (and BERTH_LLM_API_KEY).' }, req.headers.accept);
          return;
        }
        let verdict: LlmVerdict = LLM_REFUSED;
        try {
          if (opts.llmAccess) verdict = opts.llmAccess(req);
        } catch (err) {
          log.warn({ err, url: req.url }, 'LLM access check failed; refusing');
        }
        if (opts.onLlmResponse) {
          const onLlm = opts.onLlmResponse;
          const workspaceId = verdict.workspaceId;
          res.once('finish', () => onLlm(workspaceId, res.statusCode));
        }
        if (!verdict.ok) {
          // SDKs parse JSON errors whatever they sent as Accept.
          const retry = verdict.retryAfterSeconds;
          const extra = retry !== undefined ? { 'retry-after': String(retry) } : verdict.error.status === 401 ? LLM_CHALLENGE : undefined;
          sendError(res, verdict.error, 'application/json', extra);
          return;
        }
        // The client's Authorization (its Berth credential) and cookies are dropped by LLM_HTTP;
        // the operator's key is added as the only Authorization.
        const target: ForwardTarget = {
          origin: llm.origin,
          path: llmPath(llmBase, m.path),
          label: 'The LLM provider',
          policy: LLM_HTTP,
          routePrefix: null,
          extraHeaders: llmExtra,
        };
        proxy.forward(req, res, target);
        return;
      }
    }
  }

  function onAppsUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    markAppsRequest(req);
    onUpgrade(req, socket, head);
  }

  function handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const t = table;
    const url = req.url ?? '/';
    const m = matchRequest(t, url, t.hostSuffix === null && !t.previewSuffix ? undefined : rawHost(req.rawHeaders));
    const accept = req.headers.accept;
    const side = originSide(req, m, url);
    // WebSocket clients follow no redirects: say where the app is instead.
    if (side === 'redirect') return sendSocketError(socket, wrongOrigin(req), accept);
    if (side === 'apps' && (m.type === 'none' || m.type === 'llm')) return sendSocketError(socket, NOTHING_HERE, accept);
    switch (m.type) {
      case 'route':
        if (!allowed(req, m.route)) {
          sendSocketError(socket, { status: 401, code: 'E_UNAUTHORIZED', message: `The ${m.route.kind} "${m.route.workloadName}" is private.` }, accept);
          return;
        }
        if (onActivity) onActivity(m.route, 'ws');
        proxy.tunnel(req, socket, head, m.route, m.key, m.path);
        return;
      case 'none':
        if (opts.fallbackUpgrade) opts.fallbackUpgrade(req, socket, head);
        else sendSocketError(socket, notFound('No WebSocket endpoint here.'), accept);
        return;
      case 'unavailable':
        sendSocketError(socket, unavailable(m.route), accept);
        return;
      default:
        // Redirects are not followed by WebSocket clients, and /llm has no WebSockets.
        log.debug({ url: req.url, reason: m.type === 'not-found' ? m.reason : m.type }, 'edge upgrade 404');
        sendSocketError(socket, NOTHING_HERE, accept);
    }
  }

  const serverOptions: http.ServerOptions = {
    maxHeaderSize: limits.maxHeaderSize,
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    connectionsCheckingInterval: limits.checkIntervalMs,
    noDelay: true,
  };
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };
  const tlsOptions = opts.tls;
  const hsts = tlsOptions && tlsOptions.hstsMaxAge > 0 ? `max-age=${tlsOptions.hstsMaxAge}` : null;
  const withHsts = (handler: (req: IncomingMessage, res: ServerResponse) => void) =>
    hsts === null
      ? handler
      : (req: IncomingMessage, res: ServerResponse): void => {
          res.setHeader('strict-transport-security', hsts);
          handler(req, res);
        };
  // One certificate store for both origins; HTTP/1.1 only over ALPN (the upgrade path for WebSockets).
  const makeServer = (handler: (req: IncomingMessage, res: ServerResponse) => void): http.Server =>
    tlsOptions
      ? https.createServer({ ...serverOptions, SNICallback: tlsOptions.sniCallback, minVersion: 'TLSv1.2', ALPNProtocols: ['http/1.1'] }, withHsts(handler))
      : http.createServer(serverOptions, handler);
  // A failed handshake (no certificate for the name, a scanner speaking plain HTTP) costs only its socket.
  const tlsClientError = (err: Error): void => log.debug({ err }, 'TLS handshake failed');
  const server = makeServer(onRequest);
  server.on('upgrade', onUpgrade);
  server.on('clientError', onClientError);
  server.on(tlsOptions ? 'secureConnection' : 'connection', track);
  if (tlsOptions) server.on('tlsClientError', tlsClientError);
  const appsServer = makeServer(onAppsRequest);
  appsServer.on('upgrade', onAppsUpgrade);
  appsServer.on('clientError', onClientError);
  appsServer.on(tlsOptions ? 'secureConnection' : 'connection', track);
  if (tlsOptions) appsServer.on('tlsClientError', tlsClientError);

  const listenOn = (srv: http.Server, port: number, host: string): Promise<AddressInfo> =>
    new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      srv.once('error', onError);
      srv.listen(port, host, () => {
        srv.off('error', onError);
        resolve(srv.address() as AddressInfo);
      });
    });

  return {
    server,
    appsServer,
    setRoutes(next) {
      table = next;
      proxy.onTableSwap(next);
    },
    routes: () => table,
    stats: () => ({ sockets: sockets.size, tunnels: proxy.tunnelCount() }),
    listen: (port, host) => listenOn(server, port, host),
    listenApps: (port, host) => listenOn(appsServer, port, host),
    async close() {
      const stopped = (srv: http.Server): Promise<void> =>
        srv.listening ? new Promise<void>((resolve) => srv.close(() => resolve())) : Promise.resolve();
      const closed = Promise.all([stopped(server), stopped(appsServer)]).then(() => undefined);
      server.closeIdleConnections();
      appsServer.closeIdleConnections();
      // WebSockets never "finish", so they get no drain period: close frames now (≤ 1 s).
      const webSockets = Promise.all([proxy.closeTunnels(), opts.closeWebSockets?.()]);
      // Keep-alive sockets whose last response finishes during the drain go idle afterwards;
      // close them as they do, or server.close() would wait out the whole drain period.
      const sweep = setInterval(() => {
        server.closeIdleConnections();
        appsServer.closeIdleConnections();
      }, 50);
      let timer: NodeJS.Timeout | undefined;
      const drained = new Promise<void>((resolve) => (timer = setTimeout(resolve, limits.drainMs)));
      await Promise.race([closed, drained]);
      await Promise.race([webSockets, drained]);
      clearTimeout(timer);
      clearInterval(sweep);
      const gone = [...sockets].map((s) => new Promise<void>((resolve) => (s.closed ? resolve() : s.once('close', () => resolve()))));
      for (const s of sockets) s.destroy();
      await Promise.all(gone);
      await proxy.close();
      await closed;
    },
  };
}
