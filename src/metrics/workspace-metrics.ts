/**
 * Per-workspace usage gauges for `/metrics`. Cardinality is bounded: a series exists only for a
 * workspace that is running now (the gauges are rebuilt at every scrape, so a removed workspace's
 * series disappear with it), its labels are the workspace id and name only (no image, no user
 * values beyond the validated name), and at most `MAX_WORKSPACE_SERIES` workspaces are exported —
 * the largest by memory; the rest are counted in `berth_workspace_usage_omitted`.
 */
import type { WorkspaceUsage } from '../services/workspace-usage.js';
import { Gauge, type Registry } from './registry.js';

/** Most workspaces exported per scrape (each is 4 series). */
export const MAX_WORKSPACE_SERIES = 500;

/** One running workspace's usage as the scrape sees it. */
export interface WorkspaceUsageRow {
  id: string;
  name: string;
  usage: WorkspaceUsage;
}

/**
 * Registers the gauges on `registry`; they read whatever `rows()` returns at render time (the
 * caller refreshes the rows before rendering, see daemon-metrics.ts `serve`).
 */
export function registerWorkspaceUsage(registry: Registry, rows: () => readonly WorkspaceUsageRow[]): void {
  const top = (): readonly WorkspaceUsageRow[] => {
    const all = rows();
    return all.length <= MAX_WORKSPACE_SERIES ? all : [...all].sort((a, b) => b.usage.memoryBytes - a.usage.memoryBytes).slice(0, MAX_WORKSPACE_SERIES);
  };
  const gauge = (name: string, help: string, value: (u: WorkspaceUsage) => number | null): void => {
    registry.register(
      new Gauge(name, help, () =>
        top().flatMap((r) => {
          const v = value(r.usage);
          return v === null ? [] : [[{ workspace: r.id, name: r.name }, v] as [Record<string, string>, number]];
        }),
      ),
    );
  };
  gauge('berth_workspace_cpu_percent', 'CPU use of a running workspace, in percent of one CPU.', (u) => u.cpuPercent);
  gauge('berth_workspace_memory_bytes', 'Memory in use by a running workspace.', (u) => u.memoryBytes);
  gauge('berth_workspace_memory_limit_bytes', "A running workspace's memory limit (the host's memory when it has none).", (u) => u.memoryLimitBytes);
  gauge('berth_workspace_disk_bytes', "Bytes written to a running workspace's own filesystem (its writable layer).", (u) => u.diskBytes);
  registry.register(
    new Gauge('berth_workspace_usage_omitted', `Running workspaces left out of the per-workspace gauges (more than ${MAX_WORKSPACE_SERIES}).`, () => [
      [{}, Math.max(0, rows().length - MAX_WORKSPACE_SERIES)],
    ]),
  );
}
