/**
 * Workspace activity, kept in memory: the edge notes every request and WebSocket frame to a
 * workspace's hosted ports here (the hot path: one Map lookup and a few field writes, no
 * allocation, no I/O), exec sessions hold a workspace open while they last, and the API notes CLI
 * use. `flush()` writes what changed since the last flush to the store in one transaction, so the
 * last activity survives a restart and `ws show` can say why a workspace did or did not stop.
 *
 * Lifecycle: `new ActivityTracker()` → `note()` / `hold()` any time → `flush()` every few seconds
 * and once at shutdown.
 */
import type { Workspace } from '../domain/workspace.js';
import { coarseNow } from './coarse-clock.js';

/** What counted as activity. `port`: the hosted (host) port, for `http` and `ws`. */
export type ActivityKind = 'http' | 'ws' | 'exec' | 'api';

interface Entry {
  at: number;
  kind: ActivityKind;
  port: number;
  dirty: boolean;
}

/** The human reason shown by `ws show` and the API: "HTTP on 9000", "WebSocket on 9000", "exec session", "API". */
export function activityReason(kind: ActivityKind, port: number): string {
  switch (kind) {
    case 'http':
      return `HTTP on ${port}`;
    case 'ws':
      return `WebSocket on ${port}`;
    case 'exec':
      return 'exec session';
    case 'api':
      return 'API';
  }
}

/** The last activity of a workspace as known now: in memory, else as stored. */
export interface LastActivity {
  /** ms since the epoch; null: none recorded. */
  at: number | null;
  reason: string | null;
  /** Exec sessions open right now (each keeps the workspace active). */
  openSessions: number;
}

export interface ActivityStore {
  recordActivity(entries: readonly { id: string; at: string; reason: string }[]): void;
}

export class ActivityTracker {
  private readonly latest = new Map<string, Entry>();
  private readonly sessions = new Map<string, number>();

  constructor(
    private readonly store: ActivityStore,
    /** Default: a clock that ticks every 250 ms (reading a real clock per request costs ~1 µs here). */
    private readonly now: () => number = coarseNow,
  ) {}

  /** Records activity of a workspace now. Cheap enough for every proxied request. */
  note(workspaceId: string, kind: ActivityKind, port = 0): void {
    const e = this.latest.get(workspaceId);
    const at = this.now();
    if (e) {
      e.at = at;
      e.kind = kind;
      e.port = port;
      e.dirty = true;
    } else this.latest.set(workspaceId, { at, kind, port, dirty: true });
  }

  /**
   * An open exec session: the workspace counts as active until the returned release is called
   * (once; later calls do nothing). Its end is noted as activity.
   */
  hold(workspaceId: string): () => void {
    this.sessions.set(workspaceId, (this.sessions.get(workspaceId) ?? 0) + 1);
    this.note(workspaceId, 'exec');
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const n = (this.sessions.get(workspaceId) ?? 1) - 1;
      if (n <= 0) this.sessions.delete(workspaceId);
      else this.sessions.set(workspaceId, n);
      this.note(workspaceId, 'exec');
    };
  }

  /** Last activity of `ws`: an open exec session counts as now; else memory, else the store. */
  last(ws: Pick<Workspace, 'id' | 'lastActiveAt' | 'lastActiveReason'>): LastActivity {
    const openSessions = this.sessions.get(ws.id) ?? 0;
    if (openSessions > 0) return { at: this.now(), reason: activityReason('exec', 0), openSessions };
    const e = this.latest.get(ws.id);
    if (e) return { at: e.at, reason: activityReason(e.kind, e.port), openSessions };
    const stored = ws.lastActiveAt ? Date.parse(ws.lastActiveAt) : NaN;
    return { at: Number.isNaN(stored) ? null : stored, reason: ws.lastActiveReason, openSessions };
  }

  /**
   * Writes the activity noted since the last flush (open sessions as of now) in one store
   * transaction. A failed write keeps the entries dirty for the next flush.
   */
  flush(): number {
    const now = this.now();
    for (const id of this.sessions.keys()) this.note(id, 'exec');
    const batch: { id: string; at: string; reason: string }[] = [];
    const flushed: Entry[] = [];
    for (const [id, e] of this.latest) {
      if (!e.dirty) continue;
      batch.push({ id, at: new Date(e.at).toISOString(), reason: activityReason(e.kind, e.port) });
      flushed.push(e);
    }
    this.store.recordActivity(batch);
    for (const e of flushed) e.dirty = false;
    // Entries flushed long ago are in the store now: drop them so the map tracks the active set.
    for (const [id, e] of this.latest) if (!e.dirty && now - e.at > 3_600_000) this.latest.delete(id);
    return batch.length;
  }

  /** Forgets a removed workspace. */
  forget(workspaceId: string): void {
    this.latest.delete(workspaceId);
    this.sessions.delete(workspaceId);
  }
}
