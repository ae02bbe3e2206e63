import { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { Workspace } from '../../domain/workspace.js';
import type { WorkspaceService } from '../../services/workspaces.js';
import type { AuthService } from '../../services/auth.js';
import type { ApiEnv } from '../env.js';
import { canSee, presentWorkspace } from './workspaces.js';

/**
 * `GET /api/events`: server-sent events for live dashboards. On connect the client gets every
 * workspace it may see as `workspace` events; then, after each change, only what changed:
 * `{"type":"workspace","workspace":{…}}` or `{"type":"workspace-removed","id"}`.
 * A comment line every 25 s keeps proxies from closing an idle stream. When the daemon shuts
 * down the stream ends at once (EventSource reconnects after `retry`), instead of holding the
 * drain period open.
 */
export function eventRoutes(svc: WorkspaceService, auth: AuthService, shutdown?: AbortSignal) {
  const app = new Hono<ApiEnv>();
  app.get('/', (c) => {
    const principal = c.get('principal');
    return streamSSE(c, async (stream) => {
      let seen = new Map<string, string>();
      const ownerName = (ws: Workspace) => (ws.ownerId ? (auth.findUserSafe(ws.ownerId)?.username ?? null) : null);
      const diff = async (): Promise<void> => {
        const now = new Map<string, string>();
        for (const ws of svc.list()) {
          if (!canSee(principal, ws)) continue;
          now.set(ws.id, ws.updatedAt + ws.state);
          if (seen.get(ws.id) !== now.get(ws.id)) {
            await stream.writeSSE({ event: 'workspace', data: JSON.stringify({ type: 'workspace', workspace: presentWorkspace(ws, ownerName(ws)) }) });
          }
        }
        for (const id of seen.keys()) {
          if (!now.has(id)) await stream.writeSSE({ event: 'workspace-removed', data: JSON.stringify({ type: 'workspace-removed', id }) });
        }
        seen = now;
      };
      let pending: Promise<void> = Promise.resolve();
      const onChange = (): void => {
        pending = pending.then(diff, diff);
      };
      svc.on('changed', onChange);
      const keepAlive = setInterval(() => void stream.write(': keep-alive\n\n'), 25_000);
      stream.onAbort(() => {
        svc.off('changed', onChange);
        clearInterval(keepAlive);
      });
      // Sent at once so the client sees the stream open even when it can see no workspace yet.
      await stream.write('retry: 3000\n\n');
      await diff();
      // Hold the stream open until the client goes away or the daemon stops.
      await new Promise<void>((resolve) => {
        stream.onAbort(resolve);
        if (shutdown?.aborted) resolve();
        shutdown?.addEventListener('abort', () => resolve(), { once: true });
      });
      svc.off('changed', onChange);
      clearInterval(keepAlive);
    });
  });
  return app;
}
