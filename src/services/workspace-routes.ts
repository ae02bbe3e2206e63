/**
 * Workspaces as the edge sees them: every allocated port of a workspace is a route
 * (`/hosted/{id}/{port}/`, or `{port}--{id}.{appsDomain}`), guarded by the workspace's visibility
 * and owner. Pure: the daemon and the scale benchmark build the route table with it.
 */
import type { RoutableWorkload } from '../domain/route.js';
import { dashboardUrlOf, type Workspace } from '../domain/workspace.js';

/**
 * Maps one workspace record to its route-table row. A workspace being deleted routes as `deleting`
 * (503 naming it) from the moment the delete begins: its workload is removed after that, so
 * clients see a clear 503 instead of the 502s of an upstream that vanished under its route.
 */
export function workspaceRoutable(ws: Workspace): RoutableWorkload {
  return {
    kind: 'workspace',
    id: ws.id,
    name: ws.name,
    state: ws.deleting ? 'deleting' : ws.state,
    upstreamHost: ws.upstreamHost,
    // Keep ports are forwarded under the public path the workload was told (BERTH_BASE_PATH_*).
    outerPrefix: ws.hosting.basePath,
    // `keep` ports forward /hosted/{id}/{port}/… whole (tools told their base path).
    ports: ws.ports.map((p) => ({ containerPort: p.containerPort, hostPort: p.hostPort, keepPrefix: p.prefix === 'keep' })),
    access: {
      // `authenticated` is a private route that any signed-in user passes (as catalog apps are).
      visibility: ws.visibility === 'public' ? 'public' : 'private',
      ...(ws.visibility === 'authenticated' ? { anyUser: true } : {}),
      ownerId: ws.ownerId,
      // Where a private app's login redirect sends the browser: the dashboard the workspace was created from.
      dashboardUrl: dashboardUrlOf(ws.hosting),
    },
  };
}
