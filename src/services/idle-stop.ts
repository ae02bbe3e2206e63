/**
 * Idle auto-stop: a timer that stops every running workspace with an idle limit (`idleStopMs`)
 * that has had no activity (services/activity.ts) for longer than that limit, records why in its
 * `reason`, and logs it. A workspace's idle clock starts at its last activity or at the moment
 * this daemon first saw it running, whichever is later: a workspace started by hand, by a restart
 * policy or found running after a daemon restart gets a full idle period before it can be stopped.
 *
 * Lifecycle: `createIdleStopper()` → `start()` (sweeps every `intervalMs`, flushing activity to
 * the store each time) → `close()` (stops the timer, flushes once more).
 */
import { formatDuration } from '../domain/duration.js';
import type { Workspace } from '../domain/workspace.js';
import type { Logger } from '../log.js';
import type { ActivityTracker } from './activity.js';

/** What the stopper needs of the workspace service. */
export interface IdleWorkspaces {
  list(): Workspace[];
  busyIds(): ReadonlySet<string>;
  stop(idOrName: string, opts?: { reason?: string }): Promise<Workspace>;
}

export interface IdleStopperOptions {
  workspaces: IdleWorkspaces;
  activity: ActivityTracker;
  log: Logger;
  /** Time between sweeps (BERTH_IDLE_SWEEP_INTERVAL). */
  intervalMs: number;
  now?: () => number;
}

/** The idle state of one workspace as the API shows it. */
export interface IdleView {
  /** The limit (`2h`), or null when the workspace never idle-stops. */
  idleStop: string | null;
  idleStopMs: number | null;
  /** Last activity (ISO) and what it was ("WebSocket on 9000"); null: none recorded. */
  lastActiveAt: string | null;
  lastActiveReason: string | null;
  /** Exec sessions open now: each keeps the workspace running. */
  openSessions: number;
  /** When it will be stopped if nothing happens (ISO); null when it is not running or has no limit. */
  idleStopAt: string | null;
}

/** Prefix of the `reason` of an idle-stopped workspace (the dashboard and CLI show the reason as is). */
export const IDLE_STOPPED = 'idle-stopped';

/** How often noted activity is written to the store (when sweeps are further apart). */
const FLUSH_MS = 5_000;

/** A duration rounded for a sentence: whole minutes past 10 min, whole seconds past 10 s. */
function roughly(ms: number): number {
  if (ms >= 600_000) return Math.round(ms / 60_000) * 60_000;
  if (ms >= 10_000) return Math.round(ms / 1000) * 1000;
  return ms;
}

export function createIdleStopper(opts: IdleStopperOptions) {
  const { workspaces, activity, log } = opts;
  const now = opts.now ?? Date.now;
  /** When this daemon first saw each running workspace running (the idle clock's earliest start). */
  const seenRunning = new Map<string, number>();
  let timer: NodeJS.Timeout | null = null;
  let flushTimer: NodeJS.Timeout | null = null;
  let sweeping: Promise<string[]> | null = null;

  /** When the idle clock of a running workspace started: its last activity or when it was first seen running. */
  const idleSince = (ws: Workspace, t: number): { since: number; last: ReturnType<ActivityTracker['last']> } => {
    let seen = seenRunning.get(ws.id);
    if (seen === undefined) {
      seen = t;
      seenRunning.set(ws.id, seen);
    }
    const last = activity.last(ws);
    return { since: Math.max(seen, last.at ?? 0), last };
  };

  function view(ws: Workspace): IdleView {
    const t = now();
    const last = activity.last(ws);
    let idleStopAt: string | null = null;
    if (ws.state === 'running' && ws.idleStopMs !== null && !ws.deleting) {
      const since = last.openSessions > 0 ? t : Math.max(seenRunning.get(ws.id) ?? t, last.at ?? 0);
      idleStopAt = new Date(since + ws.idleStopMs).toISOString();
    }
    return {
      idleStop: ws.idleStopMs === null ? null : formatDuration(ws.idleStopMs),
      idleStopMs: ws.idleStopMs,
      lastActiveAt: last.at === null ? null : new Date(last.at).toISOString(),
      lastActiveReason: last.reason,
      openSessions: last.openSessions,
      idleStopAt,
    };
  }

  /** One pass: stops the workspaces idle past their limit; resolves with their names. */
  async function sweepOnce(): Promise<string[]> {
    const t = now();
    const stopped: string[] = [];
    const busy = workspaces.busyIds();
    const running = new Set<string>();
    for (const ws of workspaces.list()) {
      if (ws.state !== 'running' || ws.deleting) continue;
      running.add(ws.id);
      const { since, last } = idleSince(ws, t);
      if (ws.idleStopMs === null || busy.has(ws.id) || last.openSessions > 0) continue;
      const idleMs = t - since;
      if (idleMs < ws.idleStopMs) continue;
      const lastPart = last.at !== null && last.at >= since ? `last activity: ${last.reason ?? 'unknown'} at ${new Date(last.at).toISOString()}` : 'no activity since it started';
      const reason = `${IDLE_STOPPED}: no activity for ${formatDuration(roughly(idleMs))} (limit ${formatDuration(ws.idleStopMs)}; ${lastPart})`;
      try {
        await workspaces.stop(ws.id, { reason });
        log.info({ workspaceId: ws.id, name: ws.name, idleMs, limitMs: ws.idleStopMs, lastActive: last.reason }, `workspace ${ws.name} stopped: ${reason}`);
        stopped.push(ws.name);
        running.delete(ws.id);
      } catch (err) {
        // Left running; the next sweep tries again.
        log.warn({ err, workspaceId: ws.id, name: ws.name }, 'idle stop failed');
      }
    }
    for (const id of seenRunning.keys()) if (!running.has(id)) seenRunning.delete(id);
    return stopped;
  }

  const flush = (): void => {
    try {
      activity.flush();
    } catch (err) {
      log.warn({ err }, 'recording workspace activity failed; kept in memory for the next flush');
    }
  };

  /** Flushes activity to the store, then sweeps; one pass at a time (a slow stop never overlaps the next). */
  function sweep(): Promise<string[]> {
    if (sweeping) return sweeping;
    flush();
    sweeping = sweepOnce().finally(() => {
      sweeping = null;
    });
    return sweeping;
  }

  return {
    view,
    sweep,
    start(): void {
      if (timer) return;
      timer = setInterval(() => {
        sweep().catch((err: unknown) => log.warn({ err }, 'idle sweep failed'));
      }, opts.intervalMs);
      timer.unref();
      // The store learns of activity every few seconds whatever the sweep interval (restarts lose little).
      if (opts.intervalMs > FLUSH_MS) {
        flushTimer = setInterval(flush, FLUSH_MS);
        flushTimer.unref();
      }
    },
    async close(): Promise<void> {
      if (timer) clearInterval(timer);
      if (flushTimer) clearInterval(flushTimer);
      timer = flushTimer = null;
      await sweeping?.catch(() => undefined);
      flush();
    },
  };
}

export type IdleStopper = ReturnType<typeof createIdleStopper>;
