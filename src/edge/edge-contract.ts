/**
 * The edge's contract: its options, limits and handle (implemented by `createEdge` in
 * server.ts). Lifecycle: `createEdge()` (no socket yet) → `setRoutes()` any time → `listen()` and
 * `listenApps()` → `setRoutes()` on every control-plane change → `close()`.
 */
import type http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { SecureContext } from 'node:tls';
import type { BerthConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { Route, RouteTable } from '../domain/route.js';
import type { EdgeError } from './pages.js';
import type { Origins } from './origins.js';
import type { WakeInfo } from './wake-page.js';

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

/** TLS of both listeners (BERTH_TLS): the certificate per handshake, and HSTS. */
export interface EdgeTls {
  /** Picks the certificate by SNI (CertificateStore.sniCallback). */
  sniCallback: (servername: string, cb: (err: Error | null, ctx?: SecureContext) => void) => void;
  /** Strict-Transport-Security max-age in seconds; 0: none. */
  hstsMaxAge: number;
}

export interface EdgeOptions {
  config: BerthConfig;
  log: Logger;
  /** Serve HTTPS instead of HTTP on both listeners. */
  tls?: EdgeTls;
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
  /**
   * Activity on a route (idle auto-stop): every authorized HTTP request, and every chunk of
   * WebSocket frames in either direction. On the hot path: must be cheap (no clock read per call)
   * and must not throw.
   */
  onActivity?: (route: Route, via: 'http' | 'ws') => void;
  /**
   * A stopped workspace's wake page (edge/wake-page.ts): whether this requester may start it, why it
   * stopped, its dashboard. Called only for requests that passed the route's access check; null
   * (or no hook) answers the plain 503.
   */
  wake?: (req: IncomingMessage, route: Route) => WakeInfo | null;
}

/** What `EdgeOptions.llmAccess` decided about one `/llm/` request. */
export type LlmVerdict =
  | { readonly ok: true; readonly workspaceId: string | null }
  | { readonly ok: false; readonly workspaceId: string | null; readonly error: EdgeError; readonly retryAfterSeconds?: number };

/** How the edge classified a request, for metrics. */
export type RequestKind = 'workspace' | 'app' | 'preview' | 'api' | 'llm' | 'refused';

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

