import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestKind } from '../edge/edge-contract.js';
import type { ReconcileReport } from '../services/reconcile.js';
import { Counter, Gauge, Histogram, Registry } from './registry.js';
import { registerWorkspaceUsage, type WorkspaceUsageRow } from './workspace-metrics.js';

/** Who scrapes: per-workspace series are filtered by it. */
export interface MetricsViewer {
  userId: string;
  role: string;
}

export interface MetricsSources {
  /** Workloads by kind and state, read at scrape time. */
  workloads: () => { kind: string; state: string }[];
  /** Open client sockets and WebSocket tunnels of the edge. */
  edgeStats: () => { sockets: number; tunnels: number };
  /** Pending jobs (previews), when a queue exists. */
  queueDepth?: () => number;
  /**
   * Usage of the running workspaces `viewer` may see (admins: all; members: their own, as in the
   * API), measured (through a short cache) before each scrape.
   */
  workspaceUsage?: (viewer: MetricsViewer) => Promise<WorkspaceUsageRow[]>;
}

/**
 * Berth's Prometheus metrics: requests by kind and status, `/llm/` requests by workspace and status, request latency, active WebSockets,
 * workloads by state, job queue depth, reconcile results. Served at `GET /metrics` to any
 * principal that may read (bearer token or session): the figures name workloads' states, not
 * secrets, but are still nobody else's business.
 */
export function createDaemonMetrics(src: MetricsSources) {
  const registry = new Registry();
  const requests = registry.register(new Counter('berth_http_requests_total', 'HTTP requests through the access point, by kind and status.'));
  const latency = registry.register(new Histogram('berth_http_request_duration_seconds', 'Time from request to end of response, by kind.'));
  registry.register(new Gauge('berth_websockets_active', 'Open WebSocket tunnels to workloads.', () => [[{}, src.edgeStats().tunnels]]));
  registry.register(new Gauge('berth_client_sockets', 'Open client connections.', () => [[{}, src.edgeStats().sockets]]));
  registry.register(
    new Gauge('berth_workloads', 'Workloads by kind and state.', () => {
      const counts = new Map<string, { kind: string; state: string; n: number }>();
      for (const w of src.workloads()) {
        const k = `${w.kind}/${w.state}`;
        const c = counts.get(k) ?? { kind: w.kind, state: w.state, n: 0 };
        c.n++;
        counts.set(k, c);
      }
      return [...counts.values()].map((c) => [{ kind: c.kind, state: c.state }, c.n]);
    }),
  );
  registry.register(new Gauge('berth_job_queue_depth', 'Jobs waiting to run.', () => [[{}, src.queueDepth?.() ?? 0]]));
  const reconciles = registry.register(new Counter('berth_reconcile_actions_total', 'What reconcile passes did, by action.'));
  const passes = registry.register(new Counter('berth_reconcile_passes_total', 'Reconcile passes run.'));
  let usageRows: WorkspaceUsageRow[] = [];
  if (src.workspaceUsage) registerWorkspaceUsage(registry, () => usageRows);
  const llm = registry.register(
    new Counter('berth_llm_requests_total', 'Requests through /llm/, by workspace id (empty: a user, or refused before any was known) and status.'),
  );

  return {
    /** Edge hook: one call per finished response. */
    onResponse(kind: RequestKind, status: number, seconds: number): void {
      requests.inc({ kind, status: String(status) });
      latency.observe({ kind }, seconds);
    },
    /** Edge hook: one call per finished `/llm/` response. */
    onLlmResponse(workspaceId: string | null, status: number): void {
      llm.inc({ workspace: workspaceId ?? '', status: String(status) });
    },
    onReconcile(r: ReconcileReport): void {
      passes.inc();
      if (r.abandonedCreates.length) reconciles.inc({ action: 'abandoned_create_removed' }, r.abandonedCreates.length);
      if (r.finishedDeletes.length) reconciles.inc({ action: 'interrupted_delete_finished' }, r.finishedDeletes.length);
      if (r.restarted.length) reconciles.inc({ action: 'restarted' }, r.restarted.length);
      if (r.crashed.length) reconciles.inc({ action: 'crash_recorded' }, r.crashed.length);
      if (r.orphansRemoved.length) reconciles.inc({ action: 'orphan_removed' }, r.orphansRemoved.length);
    },
    /**
     * Writes the exposition; the caller has authenticated the request. Workspace usage is measured
     * first; a failed measurement leaves those gauges empty rather than failing the scrape.
     */
    async serve(_req: IncomingMessage, res: ServerResponse, viewer: MetricsViewer): Promise<void> {
      const rows = src.workspaceUsage ? await src.workspaceUsage(viewer).catch(() => []) : [];
      // Set and rendered with no await in between: two concurrent scrapes cannot see each other's rows.
      usageRows = rows;
      const body = registry.render();
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'cache-control': 'no-store' });
      res.end(body);
    },
  };
}
