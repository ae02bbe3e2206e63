/**
 * `GET /api/events`: server-sent events for live dashboards. On connect the client gets
 * everything it may see — every workspace as a `workspace` event, every installed app as an
 * `app` event, every preview as a `preview` event — then, after each change, only what changed:
 *
 * - `{"type":"workspace","workspace":{…}}` / `{"type":"workspace-removed","id"}` (as
 *   `GET /api/workspaces` presents them; only the workspaces the user may see);
 * - `{"type":"app","app":{…}}` / `{"type":"app-removed","name"}` (as `GET /api/apps` presents
 *   them to this user: any logged-in user reads apps, only admins their settings' values);
 * - `{"type":"preview","preview":{…}}` / `{"type":"preview-removed","id"}` (as
 *   `GET /api/previews`; any logged-in user reads previews), only when the daemon has previews.
 *
 * The SSE event name equals `type`. A comment line every 25 s keeps proxies from closing an idle
 * stream. When the daemon shuts down the stream ends at once (EventSource reconnects after
 * `retry`), instead of holding the drain period open.
 */
import { Hono } from 'hono';
import { streamSSE, type SSEStreamingApi } from 'hono/streaming';
import type { AppManifest } from '../../catalog/manifest.js';
import type { Workspace } from '../../domain/workspace.js';
import type { Logger } from '../../log.js';
import type { AppService } from '../../services/apps.js';
import type { AuthService } from '../../services/auth.js';
import type { PreviewService } from '../../services/previews.js';
import type { WorkspaceService } from '../../services/workspaces.js';
import type { ApiEnv } from '../env.js';
import { presentApp } from './apps.js';
import { presentPreview } from './previews.js';
import { canSee, presentWorkspace } from './workspaces.js';

/** Anything that says "rows may have changed" without saying which (the services emit it). */
export interface ChangeSource {
  on(event: 'changed', listener: () => void): unknown;
  off(event: 'changed', listener: () => void): unknown;
}

/** What the event stream reads and listens to. */
export interface EventDeps {
  workspaces: WorkspaceService;
  apps: AppService;
  auth: AuthService;
  log: Logger;
  /** Absent when the daemon has no previews: the stream then carries no preview events. */
  previews?: PreviewService;
  /**
   * Changes made to the store behind the services' backs: the reconciler records crashes,
   * restarts and abandoned installs straight in the workspace and app rows, so the services never
   * emit `changed` for them. The daemon fires this after such a pass.
   */
  storeChanged?: ChangeSource;
  /** Aborted when the daemon starts shutting down. */
  shutdown?: AbortSignal;
  /** The idle block of a workspace (idle auto-stop), as GET /api/workspaces/:id shows it. */
  idleView?: (ws: Workspace) => unknown;
}

/** One row the client may see: `version` changes whenever what the client is shown does. */
interface Row {
  key: string;
  version: string;
  body: () => unknown;
}

/** What one client was last told about one kind of row: key → version. */
type Seen = Map<string, string>;

/**
 * Sends what changed in one kind of row since `seen` (`{type: kind, [kind]: body}` or
 * `{type: kind-removed, [keyField]: key}`) and answers the new state of what the client knows.
 */
async function sendDiff(stream: SSEStreamingApi, kind: string, keyField: 'id' | 'name', seen: Seen, rows: Row[]): Promise<Seen> {
  const now: Seen = new Map();
  for (const row of rows) {
    now.set(row.key, row.version);
    if (seen.get(row.key) === row.version) continue;
    await stream.writeSSE({ event: kind, data: JSON.stringify({ type: kind, [kind]: await row.body() }) });
  }
  for (const key of seen.keys()) {
    if (!now.has(key)) await stream.writeSSE({ event: `${kind}-removed`, data: JSON.stringify({ type: `${kind}-removed`, [keyField]: key }) });
  }
  return now;
}

/** `GET /` of /api/events (the stream described above), for every logged-in user. */
export function eventRoutes(deps: EventDeps) {
  const { workspaces, apps, auth, previews, shutdown } = deps;
  const sources: ChangeSource[] = [workspaces, apps, ...(previews ? [previews] : []), ...(deps.storeChanged ? [deps.storeChanged] : [])];
  const app = new Hono<ApiEnv>();
  app.get('/', (c) => {
    const principal = c.get('principal');
    const log = deps.log.child({ reqId: c.get('reqId') });
    return streamSSE(c, async (stream) => {
      const seen = { workspace: new Map() as Seen, app: new Map() as Seen, preview: new Map() as Seen };
      const ownerName = (ws: Workspace) => (ws.ownerId ? (auth.findUserSafe(ws.ownerId)?.username ?? null) : null);
      // Every change re-reads all three lists (cheap store reads) rather than trusting which
      // source fired: the reconciler's signal does not say what it touched.
      const diff = async (): Promise<void> => {
        seen.workspace = await sendDiff(
          stream,
          'workspace',
          'id',
          seen.workspace,
          workspaces
            .list()
            .filter((ws) => canSee(principal, ws))
            .map((ws) => ({
              key: ws.id,
              version: ws.updatedAt + ws.state + (ws.lastActiveAt ?? ''),
              body: () => ({ ...presentWorkspace(ws, ownerName(ws)), ...(deps.idleView ? { idle: deps.idleView(ws) } : {}) }),
            })),
        );
        // The catalog is read from disk: only when an app is about to be sent, once per pass.
        let manifests: Promise<Map<string, AppManifest>> | null = null;
        const manifest = async (name: string) => (await (manifests ??= apps.catalog().then((cat) => cat.apps))).get(name);
        seen.app = await sendDiff(
          stream,
          'app',
          'name',
          seen.app,
          // The whole row as version: restarts and exit codes change it without a state change.
          apps.list().map((a) => ({ key: a.name, version: JSON.stringify(a), body: async () => presentApp(apps, a, await manifest(a.name), principal) })),
        );
        if (previews) {
          seen.preview = await sendDiff(
            stream,
            'preview',
            'id',
            seen.preview,
            previews.list().map((p) => {
              const shown = presentPreview(p);
              return { key: p.id, version: JSON.stringify(shown), body: () => shown };
            }),
          );
        }
      };
      // Passes run one after the other, so events reach the client in the order things changed;
      // a failed pass (catalog unreadable, client gone) is logged and the next one starts afresh.
      let pending: Promise<void> = Promise.resolve();
      const onChange = (): void => {
        pending = pending.then(diff).catch((err: unknown) => log.warn({ err }, 'event stream: sending changes failed'));
      };
      for (const s of sources) s.on('changed', onChange);
      const keepAlive = setInterval(() => void stream.write(': keep-alive\n\n'), 25_000);
      const stop = (): void => {
        for (const s of sources) s.off('changed', onChange);
        clearInterval(keepAlive);
      };
      stream.onAbort(stop);
      // Sent at once so the client sees the stream open even when it can see nothing yet.
      await stream.write('retry: 3000\n\n');
      // The snapshot is the first pass of the same queue: a change during it cannot overtake it.
      onChange();
      await pending;
      // Hold the stream open until the client goes away or the daemon stops.
      await new Promise<void>((resolve) => {
        stream.onAbort(resolve);
        if (shutdown?.aborted) resolve();
        shutdown?.addEventListener('abort', () => resolve(), { once: true });
      });
      stop();
    });
  });
  return app;
}
