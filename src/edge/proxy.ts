/**
 * HTTP forwarding (Berth's own HTTP/1.1 client, src/edge/upstream: one keep-alive pool per
 * upstream origin) and WebSocket tunnels (raw socket pipe). Responses stream through as they
 * arrive: no buffering, backpressure honoured.
 *
 * Lifecycle: `createProxy()` → `forward()` / `tunnel()` per request → `onTableSwap()` on every
 * route change (drops pools and tunnels whose upstream is gone) → `close()` (ends everything).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { UpstreamPool } from './upstream/pool.js';
import { exchange, type ExchangeControl, type ExchangeHandler } from './upstream/exchange.js';
import type { Logger } from '../log.js';
import type { Route, RouteTable } from '../domain/route.js';
import { routeUnchanged } from './route-table.js';
import type { TrustedProxies } from './forwarded.js';
import { clientResponseHeaders, upstreamRequestHeaders, WORKLOAD_HTTP, WORKLOAD_WS, type HeaderPolicy } from './headers.js';
import { sendError, type EdgeError } from './pages.js';
import { Tunnel, type TunnelOptions } from './tunnel.js';

export interface ProxyOptions {
  log: Logger;
  trusted: TrustedProxies;
  /** Time to wait for an upstream's response headers before answering 504. */
  upstreamTimeoutMs: number;
  /** Time to wait for a TCP connect before answering 504. */
  connectTimeoutMs: number;
  /** Max keep-alive connections per upstream. */
  connectionsPerUpstream: number;
  /** How long a pool whose upstream left the table may finish in-flight requests. */
  drainMs: number;
  /**
   * The CSP `frame-ancestors` directive added to catalog apps' responses for this request:
   * who may frame them (the dashboard, on its own origin). Default: `frame-ancestors 'self'`.
   */
  appFrameAncestors?: (req: IncomingMessage) => string;
  /** WebSocket frames relayed on a route, either way (per chunk; see TunnelOptions.onTraffic). */
  onActivity?: (route: Route, via: 'ws') => void;
}

/** One forward target: where to send and how to name it in error pages. */
export interface ForwardTarget {
  origin: string;
  /** Request target on the upstream (path + query). */
  path: string;
  /** Shown in error pages ("workspace web"). */
  label: string;
  policy: HeaderPolicy;
  /** X-Forwarded-Prefix route part, null for none. */
  routePrefix: string | null;
  /** Header pairs appended after rewriting (e.g. the LLM key). */
  extraHeaders?: readonly string[];
}

export interface Proxy {
  /** Forwards one HTTP request to `target` and streams the answer back. */
  forward(req: IncomingMessage, res: ServerResponse, target: ForwardTarget): void;
  /** Forwards an HTTP request to a workload route (the hot path). */
  forwardRoute(req: IncomingMessage, res: ServerResponse, route: Route, path: string): void;
  /** Tunnels an upgrade request (WebSocket) to a workload route. */
  tunnel(req: IncomingMessage, socket: Duplex, head: Buffer, route: Route, key: string, path: string): void;
  /** Applies a new table: closes pools of vanished upstreams and tunnels whose route changed. */
  onTableSwap(table: RouteTable): void;
  /** Number of open WebSocket tunnels (for tests and metrics). */
  tunnelCount(): number;
  /** Ends every WebSocket tunnel with a close frame (1001) both ways; resolves when all are closed (≤ 1 s). */
  closeTunnels(): Promise<void>;
  /** Ends tunnels and destroys every pool (in-flight requests fail). */
  close(): Promise<void>;
}

/** How error pages name a target: the workload and port, or a ready label (the LLM provider). */
function targetLabel(target: Route | string): string {
  if (typeof target === 'string') return target;
  const kind = target.kind.charAt(0).toUpperCase() + target.kind.slice(1);
  return `${kind} "${target.workloadName}" (port ${target.hostPort})`;
}

/** Maps an upstream client / socket error to the edge answer. */
function upstreamError(err: unknown, target: Route | string): EdgeError {
  const code = (err as { code?: string }).code;
  const label = targetLabel(target);
  if (code === 'E_HEADERS_TIMEOUT' || code === 'E_CONNECT_TIMEOUT' || code === 'ETIMEDOUT') {
    return { status: 504, code: 'E_UPSTREAM_TIMEOUT', message: `${label} did not answer in time.` };
  }
  // ERR_INVALID_*: the head parsed, but Node refused to relay it (a control character, a name that is not a token).
  if (code === 'E_UPSTREAM_PROTOCOL' || code === 'ERR_INVALID_CHAR' || code === 'ERR_INVALID_HTTP_TOKEN' || code === 'ERR_HTTP_INVALID_HEADER_VALUE') {
    return { status: 502, code: 'E_UPSTREAM_PROTOCOL', message: `${label} sent an invalid HTTP response (${(err as Error).message}).` };
  }
  const hint = typeof target === 'string' ? '' : '; is the app listening on that port?';
  return { status: 502, code: 'E_UPSTREAM_UNREACHABLE', message: `${label} is not reachable (${code ?? 'connection failed'})${hint}` };
}

/** Added to every response of an app route (a second CSP header only narrows the app's own). */
export const APP_FRAME_ANCESTORS = "frame-ancestors 'self'";

const RELAY = Symbol('berth.relay');
type RelayedResponse = ServerResponse & { [RELAY]?: ResponseRelay };

/** Shared listeners (no closure per request): `this` is the ServerResponse. */
function onResponseClose(this: RelayedResponse): void {
  this[RELAY]?.clientClosed();
}
function onResponseDrain(this: RelayedResponse): void {
  this[RELAY]?.resume();
}

/** Relays one upstream response into a ServerResponse; one object per request. */
class ResponseRelay implements ExchangeHandler {
  control: ExchangeControl | null = null;
  private finished = false;

  constructor(
    private readonly req: IncomingMessage,
    private readonly res: RelayedResponse,
    /** A Route (named lazily, only when an error page needs it) or a ready label. */
    private readonly target: Route | string,
    private readonly frameAncestors: (req: IncomingMessage) => string,
    private readonly log: Logger,
  ) {
    res[RELAY] = this;
    res.on('close', onResponseClose);
  }

  /** The client went away before the upstream finished: stop the upstream request. */
  clientClosed(): void {
    if (!this.finished) {
      this.finished = true;
      this.control?.abort();
    }
  }

  resume(): void {
    this.control?.resume();
  }

  onHead(statusCode: number, rawHeaders: string[]): void {
    const { headers, contentType } = clientResponseHeaders(rawHeaders);
    // Catalog apps may be framed by the Berth dashboard and by nothing else.
    if (typeof this.target !== 'string' && this.target.kind === 'app') headers.push('Content-Security-Policy', this.frameAncestors(this.req));
    this.res.writeHead(statusCode, headers);
    // An event stream may stay quiet for a while; the client must see the headers now.
    if (contentType !== undefined && contentType.startsWith('text/event-stream')) this.res.flushHeaders();
  }

  onBody(chunk: Buffer): void {
    if (this.res.write(chunk)) return;
    this.control?.pause();
    this.res.once('drain', onResponseDrain);
  }

  onEnd(): void {
    this.finished = true;
    this.res.end();
  }

  onError(err: Error): void {
    if (this.finished) return;
    this.finished = true;
    if (this.res.headersSent) {
      this.log.debug({ err, url: this.req.url }, 'upstream failed mid-response');
      this.res.destroy();
      return;
    }
    this.log.debug({ err, url: this.req.url }, 'upstream failed');
    sendError(this.res, upstreamError(err, this.target), this.req.headers.accept);
  }
}


/** Creates the proxy. Pools are made lazily, on the first request to an upstream. */
export function createProxy(opts: ProxyOptions): Proxy {
  const pools = new Map<string, UpstreamPool>();
  const tunnels = new Set<Tunnel>();
  const log = opts.log;
  const tunnelOpts: TunnelOptions = {
    log,
    connectTimeoutMs: opts.connectTimeoutMs,
    upstreamError,
    onClosed: (t) => tunnels.delete(t),
    ...(opts.onActivity ? { onTraffic: (t: Tunnel) => opts.onActivity!(t.route, 'ws') } : {}),
  };

  function poolFor(origin: string): UpstreamPool {
    let pool = pools.get(origin);
    if (pool === undefined) {
      pool = new UpstreamPool(origin, { connections: opts.connectionsPerUpstream, connectTimeoutMs: opts.connectTimeoutMs, keepAliveMs: 4_000 });
      pools.set(origin, pool);
    }
    return pool;
  }

  const frameAncestors = opts.appFrameAncestors ?? ((): string => APP_FRAME_ANCESTORS);
  /** Shared body of forward/forwardRoute; positional so the hot path allocates no target object. */
  function dispatch(
    req: IncomingMessage,
    res: ServerResponse,
    origin: string,
    path: string,
    label: Route | string,
    policy: HeaderPolicy,
    routePrefix: string | null,
    extraHeaders: readonly string[] | undefined,
  ): void {
    const socket = req.socket as IncomingMessage['socket'] & { encrypted?: boolean };
    const { headers, hasBody } = upstreamRequestHeaders(
      req.rawHeaders,
      policy,
      { peer: socket.remoteAddress, encrypted: socket.encrypted === true, trusted: opts.trusted, routePrefix },
      extraHeaders,
    );
    const relay = new ResponseRelay(req, res, label, frameAncestors, log);
    // Event streams and long polls may idle for minutes once answered; only the wait for the head is bounded.
    relay.control = exchange(poolFor(origin), { method: req.method ?? 'GET', path, headers, body: hasBody ? req : null, headersTimeoutMs: opts.upstreamTimeoutMs }, relay);
  }

  function forward(req: IncomingMessage, res: ServerResponse, target: ForwardTarget): void {
    dispatch(req, res, target.origin, target.path, target.label, target.policy, target.routePrefix, target.extraHeaders);
  }

  function forwardRoute(req: IncomingMessage, res: ServerResponse, route: Route, path: string): void {
    dispatch(req, res, route.upstream.origin, path, route, WORKLOAD_HTTP, route.via === 'path' ? route.forwardedPrefix : null, undefined);
  }

  function tunnel(req: IncomingMessage, client: Duplex, head: Buffer, route: Route, key: string, path: string): void {
    const socket = req.socket as IncomingMessage['socket'] & { encrypted?: boolean };
    const { headers } = upstreamRequestHeaders(req.rawHeaders, WORKLOAD_WS, {
      peer: socket.remoteAddress,
      encrypted: socket.encrypted === true,
      trusted: opts.trusted,
      routePrefix: route.via === 'path' ? route.forwardedPrefix : null,
    });
    let requestHead = `${req.method ?? 'GET'} ${path} HTTP/1.1\r\n`;
    for (let i = 0; i < headers.length; i += 2) requestHead += `${headers[i]}: ${headers[i + 1]}\r\n`;
    requestHead += '\r\n';
    tunnels.add(new Tunnel(route, key, client, req, requestHead, head, tunnelOpts));
  }

  function onTableSwap(table: RouteTable): void {
    const live = new Set<string>();
    for (const r of table.pathRoutes.values()) if (r.state === 'running') live.add(r.upstream.origin);
    for (const r of table.hostRoutes.values()) if (r.state === 'running') live.add(r.upstream.origin);
    for (const [origin, pool] of pools) {
      if (live.has(origin)) continue;
      pools.delete(origin);
      // Let in-flight requests finish (bounded), then cut whatever is still streaming.
      const timer = setTimeout(() => pool.destroy(), opts.drainMs);
      timer.unref();
      void pool.close().then(() => clearTimeout(timer));
    }
    for (const t of tunnels) {
      if (!routeUnchanged(table, t.key, t.route)) {
        log.debug({ route: t.route.workloadId, key: t.key }, 'closing websocket: route changed');
        void t.goAway('route changed');
      }
    }
  }

  async function closeTunnels(): Promise<void> {
    await Promise.all([...tunnels].map((t) => t.goAway('Berth is shutting down')));
  }

  async function close(): Promise<void> {
    for (const t of tunnels) t.destroy();
    const all = [...pools.values()];
    pools.clear();
    for (const p of all) p.destroy();
  }

  return { forward, forwardRoute, tunnel, onTableSwap, tunnelCount: () => tunnels.size, closeTunnels, close };
}
