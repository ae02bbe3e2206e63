/**
 * The API's side of idle auto-stop: the `idleStop` field of create and PATCH bodies, the idle
 * block of a presented workspace, and the middleware that counts API use of a workspace as
 * activity.
 */
import type { MiddlewareHandler } from 'hono';
import { z } from 'zod';
import { parseDuration } from '../../domain/duration.js';
import type { Workspace } from '../../domain/workspace.js';
import type { ActivityTracker } from '../../services/activity.js';
import type { IdleView } from '../../services/idle-stop.js';
import type { WorkspaceService } from '../../services/workspaces.js';
import type { ApiEnv } from '../env.js';

/** Shortest idle limit accepted (tests use ~1 s; anything shorter would stop a workspace between two clicks). */
export const MIN_IDLE_STOP_MS = 1_000;
/** Longest idle limit accepted. */
export const MAX_IDLE_STOP_MS = 365 * 86_400_000;

const IDLE_HINT = 'give a duration like 30m, 2h or 1h30m (or milliseconds as a number), or "off" / null for never';

/**
 * `idleStop`: a duration string (`2h`), milliseconds (a number), or `off` / null (never). Parsed
 * to ms or null.
 */
export const idleStopField = z.union([z.string().max(64), z.number(), z.null()]).transform((v, ctx): number | null => {
  if (v === null || v === 'off') return null;
  const ms = typeof v === 'number' ? (Number.isSafeInteger(v) ? v : null) : parseDuration(v);
  if (ms === null || ms < MIN_IDLE_STOP_MS || ms > MAX_IDLE_STOP_MS) {
    ctx.addIssue({ code: 'custom', message: `idleStop must be between 1s and 365d, or off`, params: { hint: IDLE_HINT } });
    return z.NEVER;
  }
  return ms;
});

/** What the workspace routes need of idle auto-stop. */
export interface WorkspaceIdle {
  activity: ActivityTracker;
  view(ws: Workspace): IdleView;
}

/**
 * Counts a successful API call about one workspace (`/api/workspaces/:id/…` and PATCH) as its
 * activity ("API"). Plain reads of its state (`GET /:id`, the list) do not count: a dashboard or a
 * monitor polling a workspace must not keep it running.
 */
export function apiActivity(svc: WorkspaceService, idle: WorkspaceIdle): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    await next();
    if (c.res.status >= 400) return;
    const parts = c.req.path.split('/').filter(Boolean); // api, workspaces, :id, …
    const idOrName = parts[2];
    if (idOrName === undefined || (parts.length === 3 && c.req.method !== 'PATCH')) return;
    try {
      idle.activity.note(svc.get(decodeURIComponent(idOrName)).id, 'api');
    } catch {
      // Deleted by this very call: nothing to keep alive.
    }
  };
}
