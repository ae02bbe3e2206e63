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
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { BerthConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { Route, RouteTable } from '../domain/route.js';
import { emptyRouteTable } from './route-table.js';
import { matchRequest } from './match.js';
import { parseTrustedProxies } from './forwarded.js';
import { createProxy, type ForwardTarget } from './proxy.js';
import { BERTH_APP_SESSION_COOKIE, LLM_HTTP } from './headers.js';
import { sendError, sendSocketError, type EdgeError } from './pages.js';
import { markAppsRequest, type Origins } from './origins.js';
import { createEntryGuards } from './entry-guards.js';

/** Timeouts and sizes; every field has a production default. */
export interface EdgeLimits {
  /** Max time to receive a request's headers (slowloris guard). */
  headersTimeoutMs: number;
  /** Max time to receive a whole request (headers and body). */
  requestTimeoutMs: number;
  /** Idle time before a client keep-alive connection is closed. */
  keepAliveTimeoutMs: number;
  /** How often Node checks the two timeouts above. */
  checkIntervalMs: number;
  /** Max bytes of request headers; larger requests get 431. */
  maxHeaderSize: number;
  /** Max wait for an upstream's response headers before 504. */
  upstreamTimeoutMs: number;
  /** Max wait for an upstream TCP connect before 504. */
  connectTimeoutMs: number;
  /** Keep-alive connections per upstream. */
  connectionsPerUpstream: number;
  /** Grace for in-flight requests on close() and for pools of removed upstreams. */
  drainMs: number;
}

export interface EdgeOptions {
  config: BerthConfig;
  log: Logger;
  /** Receives every request that is not a workload route or `/llm/` (the Hono API); a rejected promise answers 500. */
  fallback: (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;
  /** Receives upgrade requests that match no route; without it they get 404. */
  fallbackUpgrade?: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  /** At shutdown, ends the WebSockets `fallbackUpgrade` accepted, with close frames (bounded, ~1 s). */
  closeWebSockets?: () => Promise<void>;
  limits?: Partial<EdgeLimits>;
  /**
   * Decides, per `/llm/` request, whether the operator's key may be spent on its behalf (a
   * workspace's credential, a user's token or session). Without it `/llm/` refuses everyone: an
   * unwired gate must not make an open relay. Called only for `/llm/` requests.
   */
  llmAccess?: (req: IncomingMessage) => LlmVerdict;
  /** Called once per finished `/llm/` response: the workspace it was spent for (null: a user, or refused before one was known) and its status. */
  onLlmResponse?: (workspaceId: string | null, status: number) => void;
  /**
   * Decides whether a request may reach a private route (HTTP and WebSocket alike). Without it,
   * private routes are refused: failing closed beats leaking a private app.
   */
  authorize?: (req: IncomingMessage, route: Route) => boolean;
  /**
   * Redeems a one-time hand-off ticket presented at `{app host}/__berth/handoff?ticket=…&next=/…`
   * (subdomain mode: `route` is the host's route) or at the apps origin's `/__berth/handoff`
   * (`route` null: a session for every path route of the apps origin) and returns the value of the
   * app-origin session cookie to set, or null when the ticket is unknown, used, expired or for
   * another host.
   */
  redeemHandoff?: (ticket: string, route: Route | null) => string | null;
  /**
   * The dashboard and apps origins. With it, path routes (`/hosted/…`, `/embed/…`) are served only
   * to requests addressed to the apps origin (the apps listener, see `listenApps`); the dashboard
   * origin answers them with a 308 to the apps origin, and the apps origin answers nothing else
   * (no API, no dashboard, no exec socket). Without it (unit harnesses), one origin serves all.
   */
  origins?: Origins;
  /** Called once per finished HTTP response: what kind of request it was, its status, its duration. */
  onResponse?: (kind: RequestKind, status: number, seconds: number) => void;
}

/** What `EdgeOptions.llmAccess` decided about one `/llm/` request. */
export type LlmVerdict =
  | { readonly ok: true; readonly workspaceId: string | null }
  | { readonly ok: false; readonly workspaceId: string | null; readonly error: EdgeError; readonly retryAfterSeconds?: number };

const LLM_REFUSED: LlmVerdict = {
  ok: false,
  workspaceId: null,
  error: { status: 401, code: 'E_UNAUTHORIZED', message: 'The LLM proxy needs a credential: send Authorization: Bearer $BERTH_LLM_TOKEN (or a Berth API token).' },
};

const LLM_CHALLENGE = Object.freeze({ 'www-authenticate': 'Bearer' });

/** How the edge classified a request, for metrics. */
export type RequestKind = 'workspace' | 'app' | 'preview' | 'api' | 'llm' | 'refused';

const KIND = Symbol('berth.kind');
const STARTED = Symbol('berth.started');
type Tagged = ServerResponse & { [KIND]?: RequestKind; [STARTED]?: number };

export interface Edge {
  server: http.Server;
  /** The apps origin's listener (after `listenApps`). */
  appsServer: http.Server;
  /** Swaps the whole table in one assignment; tunnels whose route is untouched stay open. */
  setRoutes(table: RouteTable): void;
  routes(): RouteTable;
  listen(port: number, host: string): Promise<AddressInfo>;
  /** Opens the apps origin's listener (same handlers; every request on it is an apps-origin request). */
  listenApps(port: number, host: string): Promise<AddressInfo>;
  close(): Promise<void>;
  /** Open client sockets and WebSocket tunnels (tests, metrics). */
  stats(): { sockets: number; tunnels: number };
}

/** Production defaults of EdgeLimits; `createEdge({ limits })` overrides any of them. */
export const defaultEdgeLimits: Readonly<EdgeLimits> = Object.freeze({
  headersTimeoutMs: 20_000,
  requestTimeoutMs: 300_000,
  // Longer than the usual outer proxy's upstream keep-alive, so they close first (no races).
  keepAliveTimeoutMs: 65_000,
  checkIntervalMs: 1_000,
  maxHeaderSize: 16 * 1024,
  upstreamTimeoutMs: 300_000,
  connectTimeoutMs: 10_000,
  connectionsPerUpstream: 256,
  drainMs: 10_000,
});

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

/** `/hosted…` or `/embed…` in any spelling (`//hosted`, `/embed?x`): a target meant for a path route. */
const PATH_ROUTE_TARGET = /^\/+(?:hosted|embed)(?:[/?]|$)/;

const VISIBLE_ASCII = /^[\x21-\x7e]*$/;

/** Path on app hosts where a one-time hand-off ticket is redeemed (never forwarded upstream). */
export const HANDOFF_PATH = '/__berth/handoff?';

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

  /**
   * A refused private route: browsers are sent through the dashboard's hand-off (which logs them
   * in first if needed) back to this URL with an app-origin session; others get 401. Without
   * separate origins (unit harnesses), path routes send the browser to the login page.
   */
  function refuse(req: IncomingMessage, res: ServerResponse, route: Route): void {
    const access = route.access!;
    const wantsPage = req.method === 'GET' && (req.headers.accept ?? '').includes('text/html');
    if (wantsPage) {
      const proto = route.via === 'host' && access.dashboardUrl.startsWith('https:') ? 'https' : 'http';
      const here =
        route.via === 'host'
          ? `${proto}://${req.headers.host ?? ''}${req.url ?? '/'}`
          : origins
            ? `${origins.appsUrl(req)}${req.url ?? '/'}`
            : (req.url ?? '/');
      const location =
        route.via === 'host' || origins
          ? `${access.dashboardUrl}/api/auth/handoff?to=${encodeURIComponent(here)}`
          : `${access.dashboardUrl}/#/login?next=${encodeURIComponent(here)}`;
      res.writeHead(302, { location, 'cache-control': 'no-store', 'content-length': 0 });
      res.end();
      return;
    }
    sendError(res, { status: 401, code: 'E_UNAUTHORIZED', message: `The ${route.kind} "${route.workloadName}" is private: log in to Berth first.` }, req.headers.accept);
  }

  /**
   * `/__berth/handoff?ticket=…&next=/…` on an app host (`route`) or on the apps origin (`route`
   * null): trade the ticket for a session cookie of that origin.
   */
  function handoff(req: IncomingMessage, res: ServerResponse, route: Route | null, path: string): void {
    const q = new URLSearchParams(path.slice(path.indexOf('?') + 1));
    const next = q.get('next') ?? '/';
    const cookie = opts.redeemHandoff?.(q.get('ticket') ?? '', route) ?? null;
    if (!cookie) {
      sendError(res, { status: 401, code: 'E_UNAUTHORIZED', message: 'This sign-in link is invalid, used or expired; open the app from Berth again.' }, req.headers.accept);
      return;
    }
    const https = route ? route.access?.dashboardUrl.startsWith('https:') : origins?.appsHosting(req).proto === 'https';
    const secure = https ? '; Secure' : '';
    // Only same-host relative paths: the hand-off must not become an open redirect. Only visible
    // ASCII too: `next` arrives %-decoded, and CR/LF or a char past Latin-1 would make writeHead throw.
    const safeNext = next.startsWith('/') && !next.startsWith('//') && !next.includes('\\') && VISIBLE_ASCII.test(next) ? next : '/';
    res.writeHead(302, {
      location: safeNext,
      'set-cookie': `${BERTH_APP_SESSION_COOKIE}=${cookie}; Path=/; HttpOnly; SameSite=Lax${secure}`,
      'cache-control': 'no-store',
      'content-length': 0,
    });
    res.end();
  }

  const origins = opts.origins;
  const ON_APPS_ORIGIN = (appsUrl: string): EdgeError => ({
    status: 404,
    code: 'E_WRONG_ORIGIN',
    message: `Hosted apps are served on the apps origin, not the dashboard's: connect to ${appsUrl} instead.`,
  });

  /**
   * Which origin may answer this match: path routes (and their redirects, 503s and 404s) belong
   * to the apps origin, so the dashboard origin redirects them there ('redirect'); on the apps
   * origin ('apps') everything that is not a workload route is refused. Host routes (subdomain
   * apps, previews) are origins of their own and answer on either listener ('any').
   */
  function originSide(req: IncomingMessage, m: ReturnType<typeof matchRequest>, url: string): 'apps' | 'redirect' | 'any' {
    if (origins!.isAppsRequest(req)) return 'apps';
    const pathRoute =
      m.type === 'route' || m.type === 'unavailable'
        ? m.route.via === 'path'
        : m.type === 'redirect' || (m.type === 'not-found' && PATH_ROUTE_TARGET.test(url));
    return pathRoute ? 'redirect' : 'any';
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

  /** 308 to the same target on the apps origin: workload content is never served on the dashboard's origin. */
  function toAppsOrigin(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(308, { location: origins!.appsUrl(req) + (req.url ?? '/'), 'content-length': 0, 'cache-control': 'no-store' });
    res.end();
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
    const side = origins ? originSide(req, m, url) : 'any';
    if (side === 'redirect') return toAppsOrigin(req, res);
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
    const side = origins ? originSide(req, m, url) : 'any';
    // WebSocket clients follow no redirects: say where the app is instead.
    if (side === 'redirect') return sendSocketError(socket, ON_APPS_ORIGIN(origins!.appsUrl(req)), accept);
    if (side === 'apps' && (m.type === 'none' || m.type === 'llm')) return sendSocketError(socket, NOTHING_HERE, accept);
    switch (m.type) {
      case 'route':
        if (!allowed(req, m.route)) {
          sendSocketError(socket, { status: 401, code: 'E_UNAUTHORIZED', message: `The ${m.route.kind} "${m.route.workloadName}" is private.` }, accept);
          return;
        }
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
  const server = http.createServer(serverOptions, onRequest);
  server.on('upgrade', onUpgrade);
  server.on('clientError', onClientError);
  server.on('connection', track);
  const appsServer = http.createServer(serverOptions, onAppsRequest);
  appsServer.on('upgrade', onAppsUpgrade);
  appsServer.on('clientError', onClientError);
  appsServer.on('connection', track);

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
