/**
 * Pure routing types shared by the control plane (which builds route tables from store rows) and
 * the edge (which serves them). No I/O here.
 */
import type { PortMapping, WorkspaceState } from './workspace.js';

/** Kinds of workload the edge can route to. */
export type RoutableKind = 'workspace' | 'app' | 'preview';

/**
 * Lifecycle states a routed workload can be in; only 'running' is ever dialled. `deleting`: a
 * delete has begun, its workload is being removed (answered 503 rather than proxied to a dying
 * upstream).
 */
export type RoutableState = WorkspaceState | 'deleting';

/**
 * An allocated port as the edge sees it. `keepPrefix` makes the path route forward the full
 * `/hosted/{id}/{port}/…` path instead of stripping it: dev servers with a configurable base path
 * (Vite `base`, Next.js `basePath`, webpack-dev-server `publicPath`) expect their base in every
 * request, while apps that serve at `/` need it stripped (the default).
 */
export interface RoutablePort extends PortMapping {
  keepPrefix?: boolean;
}

/**
 * What the edge needs to know about one workload: the control plane maps store rows to this shape
 * (a workspace row maps field for field). `upstreamHost` is the address the runtime reported for
 * the workload's published ports (loopback for single-host drivers, a node address later).
 */
/**
 * Who may reach a workload's routes. `private` routes are checked by the edge's `authorize`
 * hook before anything is dialled; `dashboardUrl` is where a refused browser is sent to log in.
 */
export interface RouteAccess {
  readonly visibility: 'public' | 'private';
  readonly ownerId: string | null;
  readonly dashboardUrl: string;
  /** Any logged-in Berth user may pass (catalog apps), not only the owner and admins. */
  readonly anyUser?: boolean;
}

export interface RoutableWorkload {
  access?: RouteAccess;
  kind: RoutableKind;
  id: string;
  name: string;
  state: RoutableState;
  upstreamHost: string;
  ports: RoutablePort[];
  /**
   * The outer prefix the workload was told its ports live under (its hosting's `basePath`, e.g.
   * `/berth` behind a sub-path proxy; '' or absent at the root). Path routes of `keepPrefix`
   * workspace ports forward `{outerPrefix}/hosted/{id}/{port}/…`: exactly the public path the tool
   * was given as its base, although the outer proxy stripped `outerPrefix` before the edge.
   */
  outerPrefix?: string;
  /**
   * Apps only (kind 'app'): the first port is served at `/embed/{id}/` (`via: 'path'`) or, for apps
   * that need an origin of their own, at `{id}.{appsDomain}` (`via: 'host'`). Never under /hosted/.
   */
  appVia?: 'path' | 'host';
}

/** Where a route's traffic goes. `origin` is the upstream pool key (`http://host:port`). */
export interface Upstream {
  readonly host: string;
  readonly port: number;
  readonly origin: string;
}

/**
 * One entry of the route table. The upstream port is always the host port the control plane
 * allocated to the workload, never a value taken from a request.
 */
export interface Route {
  readonly kind: RoutableKind;
  readonly workloadId: string;
  readonly workloadName: string;
  readonly state: RoutableState;
  readonly upstream: Upstream;
  readonly hostPort: number;
  readonly containerPort: number;
  /**
   * Path prefix removed before forwarding: `/hosted/{id}/{port}` for path routes, '' for host
   * routes and for path routes of a `keepPrefix` port. X-Forwarded-Prefix ends with it.
   */
  readonly stripPrefix: string;
  /**
   * Put in front of the forwarded path: the workload's outer prefix for path routes of a
   * workspace's `keepPrefix` port, '' otherwise. Comes from the store, never from the request.
   */
  readonly prependPath: string;
  /**
   * The route's part of X-Forwarded-Prefix (after a trusted outer prefix): `stripPrefix`, except
   * for a workspace's `keepPrefix` path route, which still names its `/hosted/{id}/{port}` base.
   */
  readonly forwardedPrefix: string;
  /** 'path' for `/hosted/…` routes, 'host' for `{port}--{id}.{appsDomain}` routes. */
  readonly via: 'path' | 'host';
  /** null = public (no check). */
  readonly access: RouteAccess | null;
  /**
   * Previews: one host serves several services by path prefix (longest first, `/` last). The
   * edge picks the longest prefix matching the request path; the route itself serves `/`.
   */
  readonly prefixRoutes?: readonly { readonly prefix: string; readonly route: Route }[];
}

/** A workload row the builder refused, with the reason (logged by whoever swaps the table in). */
export interface RejectedRoute {
  readonly workloadId: string;
  readonly reason: string;
}

/**
 * Immutable snapshot the edge serves. The edge replaces it as a whole (one reference
 * assignment), so a request never sees half of an update.
 */
export interface RouteTable {
  /** Key: `/hosted/{id}/{hostPort}/`, or `/embed/{app}/` for apps. */
  readonly pathRoutes: ReadonlyMap<string, Route>;
  /** Key: `{hostPort}--{id}.{appsDomain}` (`{app}.{appsDomain}` for apps), lowercase, without a port. */
  readonly hostRoutes: ReadonlyMap<string, Route>;
  /**
   * `.{appsDomain}` (lowercase, no port) when subdomain routing is on, else null. A Host under
   * this suffix that matches no route is answered 404 by the edge instead of reaching the API.
   */
  readonly hostSuffix: string | null;
  /** `.{previewDomain}` when previews are on: an unknown host under it is a 404, never the API. */
  readonly previewSuffix?: string | null;
  /** Rows left out (invalid id or port, or a key claimed twice). */
  readonly rejected: readonly RejectedRoute[];
}
