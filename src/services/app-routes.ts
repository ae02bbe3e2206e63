/**
 * Installed apps as the edge sees them: one route per app, `/embed/{app}/` (or `{app}.{appsDomain}`
 * for apps that cannot live under a sub-path). A failed install has no ports and gets no route
 * (404); an app that crashed keeps its ports and its route answers 503 until the reconciler has
 * restarted it. Any logged-in Berth user may open an app; anonymous requests are sent to the
 * login page.
 */
import type { RoutableWorkload } from '../domain/route.js';
import type { InstalledApp } from '../store/apps-repo.js';
import { dashboardUrlOf } from '../domain/workspace.js';

/** Maps installed apps to route-table rows (pure). */
export function appWorkloads(apps: readonly InstalledApp[]): RoutableWorkload[] {
  const out: RoutableWorkload[] = [];
  for (const a of apps) {
    const http = a.ports.find((p) => p.name === 'http');
    if (!http) continue;
    out.push({
      kind: 'app',
      id: a.name,
      name: a.name,
      state: a.state === 'installing' ? 'creating' : a.state,
      upstreamHost: a.upstreamHost,
      ports: [{ containerPort: http.containerPort, hostPort: http.hostPort, keepPrefix: !a.embed.stripPrefix }],
      // An app that keeps its prefix was told `${app.basePath}`, outer prefix included: forward that
      // whole path, as for keep-prefix workspace ports (the outer proxy stripped it before the edge).
      outerPrefix: a.hosting.basePath,
      appVia: a.embed.subpath ? 'path' : 'host',
      access: {
        visibility: 'private',
        ownerId: null,
        anyUser: true,
        dashboardUrl: dashboardUrlOf(a.hosting),
      },
    });
  }
  return out;
}

/** Route rows of every app a service knows (the daemon's refreshRoutes calls this). */
export function appRoutableWorkloads(svc: { list(): InstalledApp[] }): RoutableWorkload[] {
  return appWorkloads(svc.list());
}
