/**
 * Pure builder of the edge's route table from workload rows. No I/O: the control plane calls it
 * whenever the store changes and hands the result to `edge.setRoutes()`, which swaps it in whole.
 */
import type { RejectedRoute, RoutablePort, RoutableWorkload, Route, RouteTable, Upstream } from '../domain/route.js';

export type { RouteAccess, RoutablePort, RoutableWorkload, Route, RouteTable, Upstream } from '../domain/route.js';

/** Ids end up in URL paths and DNS labels, so only DNS-label characters are routable. */
const ROUTABLE_ID_RE = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
/** An upstream host is an IP literal or a DNS name; anything else would smuggle into a URL. */
const UPSTREAM_HOST_RE = /^(?:[a-z0-9.-]+|[0-9a-f:.]+)$/i;
/** An outer prefix as forwarded/normalizePrefix makes it: `/seg/seg`, no dot segments, no `//`, no escapes. */
const OUTER_PREFIX_RE = /^(?:\/(?!\.{1,2}(?:\/|$))[A-Za-z0-9._~!$&'()*+,;=:@-]+)+$/;

export interface BuildRouteTableOptions {
  /** Enables subdomain routes `{hostPort}--{id}.{appsDomain}`; a `:port` suffix is ignored. */
  appsDomain?: string | undefined;
}

/** `http://host:port`, bracketing IPv6 literals; also the key of the upstream's connection pool. */
export function upstreamOrigin(host: string, port: number): string {
  return host.includes(':') ? `http://[${host}]:${port}` : `http://${host}:${port}`;
}

/** Path-route key of a workload port. */
export function pathRouteKey(id: string, hostPort: number): string {
  return `/hosted/${id}/${hostPort}/`;
}

/** Path-route key of a catalog app: apps are served only under `/embed/{app}/`. */
export function embedRouteKey(app: string): string {
  return `/embed/${app}/`;
}

/** Host-route key of a workload port (`suffix` is `.{appsDomain}`). */
export function hostRouteKey(id: string, hostPort: number, suffix: string): string {
  return `${hostPort}--${id}${suffix}`;
}

function isPort(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 65535;
}

function domainSuffix(appsDomain: string | undefined): string | null {
  if (!appsDomain) return null;
  const bare = appsDomain.trim().toLowerCase().replace(/:\d+$/, '').replace(/\.$/, '');
  return bare ? `.${bare}` : null;
}

/**
 * Builds an immutable route table. Every running or not-yet-running workload gets one path route
 * per allocated port (and one host route when `appsDomain` is set); non-running workloads keep
 * their routes so the edge can answer 503 naming them instead of a bare 404.
 *
 * Rows that would make routing ambiguous are left out and listed in `rejected`, because serving
 * the wrong workload is worse than a 404: an id that is not DNS-safe, an invalid port or upstream
 * host, the same id twice, or one upstream `host:port` claimed by two workloads.
 */
export function buildRouteTable(workloads: readonly RoutableWorkload[], opts: BuildRouteTableOptions = {}): RouteTable {
  const suffix = domainSuffix(opts.appsDomain);
  const rejected: RejectedRoute[] = [];

  // First pass: find ids and upstreams that more than one row claims. An upstream maps to its one
  // owner, or to CONTESTED; the owners' names are only gathered for the (rare) rejection message.
  // This runs on every store change, so it avoids per-port allocations (a Set per upstream made
  // a 1000-workspace table several times slower to build).
  const idCount = new Map<string, number>();
  const originOwner = new Map<string, string>();
  for (const w of workloads) {
    const idKey = `${w.kind}:${w.id}`;
    idCount.set(idKey, (idCount.get(idKey) ?? 0) + 1);
    for (const p of w.ports) {
      if (!isPort(p.hostPort)) continue;
      const origin = upstreamOrigin(w.upstreamHost, p.hostPort);
      const owner = originOwner.get(origin);
      if (owner === undefined) originOwner.set(origin, w.id);
      else if (owner !== w.id) originOwner.set(origin, CONTESTED);
    }
  }

  const pathRoutes = new Map<string, Route>();
  const hostRoutes = new Map<string, Route>();
  for (const w of workloads) {
    if (!ROUTABLE_ID_RE.test(w.id)) {
      rejected.push({ workloadId: w.id, reason: 'id is not DNS-label safe' });
      continue;
    }
    if ((idCount.get(`${w.kind}:${w.id}`) ?? 0) > 1) {
      rejected.push({ workloadId: w.id, reason: 'id appears more than once' });
      continue;
    }
    if (!UPSTREAM_HOST_RE.test(w.upstreamHost)) {
      rejected.push({ workloadId: w.id, reason: `invalid upstream host ${JSON.stringify(w.upstreamHost)}` });
      continue;
    }
    const access = w.access && w.access.visibility === 'private' ? w.access : null;
    const outerPrefix = w.outerPrefix ?? '';
    if (outerPrefix !== '' && !OUTER_PREFIX_RE.test(outerPrefix)) {
      // It is written into the request line of every keep route: refuse rather than forward garbage.
      rejected.push({ workloadId: w.id, reason: `invalid outer prefix ${JSON.stringify(outerPrefix)}` });
      continue;
    }
    // Apps: one route for their served (first) port, under /embed/{app}/ or on their own host.
    for (const p of w.kind === 'app' ? w.ports.slice(0, 1) : w.ports) {
      if (!isPort(p.hostPort) || !isPort(p.containerPort)) {
        rejected.push({ workloadId: w.id, reason: `invalid port mapping ${p.containerPort}:${p.hostPort}` });
        continue;
      }
      const origin = upstreamOrigin(w.upstreamHost, p.hostPort);
      if (originOwner.get(origin) === CONTESTED) {
        rejected.push({ workloadId: w.id, reason: `upstream ${origin} is claimed by ${ownersOf(workloads, origin).join(', ')}` });
        continue;
      }
      const pathKey = w.kind === 'app' ? embedRouteKey(w.id) : pathRouteKey(w.id, p.hostPort);
      if (pathRoutes.has(pathKey)) continue; // the same mapping listed twice: first one wins
      const upstream: Upstream = Object.freeze({ host: w.upstreamHost, port: p.hostPort, origin });
      if (w.kind === 'app') {
        if (w.appVia === 'host') {
          if (suffix) hostRoutes.set(`${w.id}${suffix}`, makeRoute(w, p, upstream, access, '', 'host'));
        } else if (p.keepPrefix) {
          // The app was told its base with the outer prefix (`${app.basePath}`): forward that whole path.
          // X-Forwarded-Prefix stays as it was for apps (no route part), so an app that also reads it
          // does not build the prefix twice.
          pathRoutes.set(pathKey, makeRoute(w, p, upstream, access, '', 'path', outerPrefix, ''));
        } else pathRoutes.set(pathKey, makeRoute(w, p, upstream, access, pathKey.slice(0, -1), 'path'));
        continue;
      }
      const base = pathKey.slice(0, -1);
      // `keep`: the whole public path goes through, outer prefix included (see RoutableWorkload.outerPrefix).
      pathRoutes.set(pathKey, p.keepPrefix ? makeRoute(w, p, upstream, access, '', 'path', outerPrefix, base) : makeRoute(w, p, upstream, access, base, 'path'));
      if (suffix) hostRoutes.set(hostRouteKey(w.id, p.hostPort, suffix), makeRoute(w, p, upstream, access, '', 'host'));
    }
  }

  return Object.freeze({ pathRoutes, hostRoutes, hostSuffix: suffix, rejected: Object.freeze(rejected) });
}

/** One frozen route; every route has this one shape (a closure per port cost measurably). */
function makeRoute(
  w: RoutableWorkload,
  p: RoutablePort,
  upstream: Upstream,
  access: Route['access'],
  stripPrefix: string,
  via: 'path' | 'host',
  prependPath = '',
  forwardedPrefix = stripPrefix,
): Route {
  return Object.freeze({
    kind: w.kind,
    workloadId: w.id,
    workloadName: w.name,
    state: w.state,
    upstream,
    hostPort: p.hostPort,
    containerPort: p.containerPort,
    access,
    stripPrefix,
    prependPath,
    forwardedPrefix,
    via,
  });
}

/** Marks an upstream claimed by more than one workload (not a valid id: ids are DNS labels). */
const CONTESTED = '\u0000contested';

/** Sorted ids of the workloads that claim `origin` (only for rejection messages). */
function ownersOf(workloads: readonly RoutableWorkload[], origin: string): string[] {
  const ids = new Set<string>();
  for (const w of workloads) for (const p of w.ports) if (isPort(p.hostPort) && upstreamOrigin(w.upstreamHost, p.hostPort) === origin) ids.add(w.id);
  return [...ids].sort();
}

/** An empty table: what the edge serves before the control plane's first update. */
export function emptyRouteTable(): RouteTable {
  return buildRouteTable([]);
}

/**
 * True when `route` is served identically by `table` (same key, upstream and state); used to keep
 * long-lived connections (WebSockets) open across a swap that does not concern them.
 */
export function routeUnchanged(table: RouteTable, key: string, route: Route): boolean {
  const next = route.via === 'path' ? table.pathRoutes.get(key) : table.hostRoutes.get(key);
  return (
    next !== undefined &&
    next.state === route.state &&
    next.stripPrefix === route.stripPrefix &&
    next.prependPath === route.prependPath &&
    next.upstream.origin === route.upstream.origin &&
    next.workloadId === route.workloadId
  );
}
