/**
 * Idle auto-stop wired into the daemon: one activity tracker fed by the edge (HTTP requests and
 * WebSocket frames on workspace routes), the exec socket (open sessions) and the API (CLI use);
 * the idle stopper's timer; and the edge's wake hook for stopped workspaces.
 *
 * Lifecycle: `createIdleHooks()` → pass its hooks to the edge, exec socket and API → `start()`
 * once listening → `close()` before the store closes (flushes the last activity).
 */
import type { IncomingMessage } from 'node:http';
import type { BerthConfig } from '../config/schema.js';
import type { Route } from '../domain/route.js';
import { dashboardUrlOf } from '../domain/workspace.js';
import type { WakeInfo } from '../edge/wake-page.js';
import type { Logger } from '../log.js';
import { ActivityTracker } from '../services/activity.js';
import { isAdmin, type Principal } from '../services/auth.js';
import { createIdleStopper } from '../services/idle-stop.js';
import type { WorkspaceService } from '../services/workspaces.js';
import type { WorkspacesRepo } from '../store/workspaces-repo.js';
import type { WorkspaceIdle } from './routes/workspace-idle.js';

export interface IdleHooksDeps {
  config: BerthConfig;
  log: Logger;
  repo: WorkspacesRepo;
  workspaces: WorkspaceService;
  /** Who a request on a route is (hosted-access.ts `principal`). */
  principalOn: (req: IncomingMessage, route: Route) => Principal | null;
}

export function createIdleHooks(deps: IdleHooksDeps) {
  const { repo, workspaces } = deps;
  const activity = new ActivityTracker(repo);
  const stopper = createIdleStopper({
    workspaces,
    activity,
    log: deps.log,
    intervalMs: deps.config.idleSweepInterval,
  });
  const api: WorkspaceIdle = { activity, view: stopper.view };
  return {
    activity,
    stopper,
    api,
    /** EdgeOptions.onActivity: the hot path (one Map lookup). */
    onActivity(route: Route, via: 'http' | 'ws'): void {
      if (route.kind === 'workspace') activity.note(route.workloadId, via, route.hostPort);
    },
    /** EdgeOptions.wake: the Start button for the owner and admins. */
    wake(req: IncomingMessage, route: Route): WakeInfo | null {
      const ws = repo.get(route.workloadId);
      if (!ws) return null;
      const p = deps.principalOn(req, route);
      return {
        canStart: p !== null && (isAdmin(p) || (ws.ownerId !== null && p.userId === ws.ownerId)),
        reason: ws.reason,
        dashboardUrl: dashboardUrlOf(ws.hosting),
      };
    },
    /** Exec socket's onSession: an open shell keeps its workspace running. */
    onSession: (workspaceId: string): (() => void) => activity.hold(workspaceId),
    start: (): void => stopper.start(),
    close: (): Promise<void> => stopper.close(),
  };
}
