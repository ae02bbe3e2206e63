/**
 * Pure addition of preview routes to a route table: each live preview gets one host route
 * `{pr}.{previewDomain}` whose `prefixRoutes` send path prefixes to its services (longest first,
 * `/` → the first service by default). Previews are public; the whole path goes upstream unchanged.
 */
import type { Route, RouteTable } from '../domain/route.js';
import { upstreamOrigin } from './route-table.js';

export interface PreviewRouteInput {
  id: string;
  name: string;
  /** Lowercase hostname without a port (`12.preview.example.com`). */
  host: string;
  /** Longest prefix first, as the preview config sorts them. */
  routes: { prefix: string; upstreamHost: string; hostPort: number }[];
}

/** `.{domain}` without port or trailing dot, or null. */
export function previewSuffixOf(domain: string | undefined): string | null {
  if (!domain) return null;
  const bare = domain.trim().toLowerCase().replace(/:\d+$/, '').replace(/\.$/, '');
  return bare ? `.${bare}` : null;
}

/**
 * Returns a new frozen table: `table`'s routes plus one host route per preview. A preview host
 * that is already taken, outside the preview domain, or without routes is listed in `rejected`.
 */
export function withPreviewRoutes(table: RouteTable, previews: readonly PreviewRouteInput[], previewDomain: string | undefined): RouteTable {
  const suffix = previewSuffixOf(previewDomain);
  if (!suffix) return table;
  const hostRoutes = new Map(table.hostRoutes);
  const rejected = [...table.rejected];
  for (const p of previews) {
    const host = p.host.toLowerCase();
    if (!host.endsWith(suffix) || host.slice(0, -suffix.length).includes('.')) {
      rejected.push({ workloadId: p.id, reason: `preview host ${host} is not directly under ${suffix.slice(1)}` });
      continue;
    }
    if (hostRoutes.has(host)) {
      rejected.push({ workloadId: p.id, reason: `host ${host} is claimed twice` });
      continue;
    }
    const entries = p.routes.map((r) => {
      const route: Route = Object.freeze({
        kind: 'preview' as const,
        workloadId: p.id,
        workloadName: p.name,
        state: 'running' as const,
        upstream: Object.freeze({ host: r.upstreamHost, port: r.hostPort, origin: upstreamOrigin(r.upstreamHost, r.hostPort) }),
        hostPort: r.hostPort,
        containerPort: r.hostPort,
        stripPrefix: '',
        prependPath: '',
        forwardedPrefix: '',
        via: 'host' as const,
        access: null,
      });
      return Object.freeze({ prefix: r.prefix, route });
    });
    const root = entries.find((e) => e.prefix === '/');
    if (!root) {
      rejected.push({ workloadId: p.id, reason: 'preview has no route for /' });
      continue;
    }
    hostRoutes.set(host, entries.length === 1 ? root.route : Object.freeze({ ...root.route, prefixRoutes: Object.freeze(entries) }));
  }
  return Object.freeze({ ...table, hostRoutes, previewSuffix: suffix, rejected: Object.freeze(rejected) });
}
