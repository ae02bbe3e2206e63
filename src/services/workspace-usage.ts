/**
 * Usage of workspaces (CPU, memory, disk), measured on request and cached briefly, so a dashboard
 * polling every few seconds, `berth ws top` and a Prometheus scrape together cost the engine one
 * `stats` call per `maxAgeMs` however many of them ask: concurrent askers share one call in flight.
 * A sample past `maxAgeMs` but recent is answered at once and refreshed behind the answer
 * (stale-while-revalidate): only the first request for a workspace waits for the engine.
 *
 * CPU percent is a rate between two samples of the cumulative CPU time (podman, process). The
 * first time a workload is measured there is no earlier sample, so two are taken `firstGapMs`
 * apart (as docker's own CLI does): the first answer costs about a second, later ones nothing.
 * Docker's CLI reports a percent over its own window; it is used as is.
 *
 * Disk figures (the writable layer) are costlier (the engine walks the layer) and change slowly:
 * refreshed at most every `diskMaxAgeMs`.
 */
import type { Workspace } from '../domain/workspace.js';
import type { Runtime, WorkloadRef, WorkloadStats } from '../runtime/runtime.js';

/** What `GET /api/workspaces/:id` shows as `usage`. */
export interface WorkspaceUsage {
  /** CPU in percent of one CPU (150 = one and a half CPUs busy); null when not measurable yet. */
  cpuPercent: number | null;
  /** CPU time since the workload started, in seconds; null where the engine does not say (docker). */
  cpuSeconds: number | null;
  memoryBytes: number;
  /** The workload's memory limit (the host's memory when it has none); null when unknown. */
  memoryLimitBytes: number | null;
  pids: number;
  /** Bytes written to the workload's own filesystem (writable layer; process: its directory). */
  diskBytes: number | null;
  /** When this was measured (ISO 8601). */
  sampledAt: string;
}

/** Tuning of the sampler; the defaults suit a dashboard polling every 5 s. */
export interface UsageSamplerOptions {
  /** A sample younger than this is served from the cache (default 3 s). */
  maxAgeMs?: number;
  /** Disk figures are refreshed at most this often (default 30 s). */
  diskMaxAgeMs?: number;
  /** Gap between the two samples of a workload measured for the first time (default 1 s). */
  firstGapMs?: number;
  /**
   * A sample older than `maxAgeMs` but younger than this is answered at once while a new one is
   * taken behind it (default 60 s); an older one (or none) is waited for.
   */
  serveStaleMs?: number;
  /** Entries unused for this long are dropped (default 10 min), so removed workspaces do not linger. */
  forgetAfterMs?: number;
  /** Told of a failed measurement (at most once a minute); usage is then missing, never an error to the asker. */
  onError?: (err: unknown) => void;
}

interface Entry {
  stats: WorkloadStats;
  cpuPercent: number | null;
  disk: { bytes: number | null; at: number } | null;
  usedAt: number;
}

/** CPU percent between two samples of cumulative CPU seconds; null when it cannot be computed. */
export function cpuRate(prev: WorkloadStats | undefined, next: WorkloadStats): number | null {
  if (next.cpuPercent !== null) return next.cpuPercent;
  if (!prev || prev.cpuSeconds === null || next.cpuSeconds === null) return null;
  const dt = (next.at - prev.at) / 1000;
  // A restart resets the counter; a too-short gap would be noise.
  if (dt < 0.2 || next.cpuSeconds < prev.cpuSeconds) return null;
  return Math.round(((next.cpuSeconds - prev.cpuSeconds) / dt) * 1000) / 10;
}

/** The sampler; see the module comment. One per daemon. */
export class WorkspaceUsageSampler {
  private readonly cache = new Map<WorkloadRef, Entry>();
  private readonly inFlight = new Map<WorkloadRef, Promise<void>>();
  private readonly maxAgeMs: number;
  private readonly diskMaxAgeMs: number;
  private readonly firstGapMs: number;
  private readonly forgetAfterMs: number;
  private readonly serveStaleMs: number;
  private readonly onError: ((err: unknown) => void) | undefined;
  private lastErrorAt = -Infinity;
  /** Engine calls made (for tests and the curious). */
  calls = 0;

  constructor(
    private readonly runtime: Pick<Runtime, 'stats'>,
    opts: UsageSamplerOptions = {},
  ) {
    this.maxAgeMs = opts.maxAgeMs ?? 3000;
    this.diskMaxAgeMs = opts.diskMaxAgeMs ?? 30_000;
    this.firstGapMs = opts.firstGapMs ?? 1000;
    this.forgetAfterMs = opts.forgetAfterMs ?? 10 * 60_000;
    this.serveStaleMs = opts.serveStaleMs ?? 60_000;
    this.onError = opts.onError;
  }

  /** Whether the runtime can measure at all. */
  get available(): boolean {
    return typeof this.runtime.stats === 'function';
  }

  /**
   * Usage of each running workspace among `list`, by workspace id; workspaces that are not
   * running (or whose workload the engine no longer knows) are absent. Never throws for an engine
   * failure: usage is an observation, and a failed one is simply missing.
   */
  async usage(list: readonly Workspace[]): Promise<Map<string, WorkspaceUsage>> {
    const running = list.filter((ws) => ws.state === 'running' && ws.runtimeRef);
    const refs = running.map((ws) => ws.runtimeRef!);
    // Stale but recent samples are served at once and refreshed behind the answer, so a poll
    // never waits for the engine (docker's CLI takes ~2 s); only a first or old sample is awaited.
    const servable = (r: WorkloadRef): boolean => Date.now() - (this.cache.get(r)?.stats.at ?? -Infinity) < this.serveStaleMs;
    const refresh = this.ensure(refs).catch((err: unknown) => this.failed(err));
    if (!refs.every(servable)) await refresh;
    const now = Date.now();
    const out = new Map<string, WorkspaceUsage>();
    for (const ws of running) {
      const e = this.cache.get(ws.runtimeRef!);
      if (!e) continue;
      e.usedAt = now;
      out.set(ws.id, {
        cpuPercent: e.cpuPercent,
        cpuSeconds: e.stats.cpuSeconds,
        memoryBytes: e.stats.memoryBytes,
        memoryLimitBytes: e.stats.memoryLimitBytes,
        pids: e.stats.pids,
        diskBytes: e.disk?.bytes ?? null,
        sampledAt: new Date(e.stats.at).toISOString(),
      });
    }
    this.forget(now);
    return out;
  }

  /** Usage of one workspace, or null when it is not running or cannot be measured. */
  async usageOf(ws: Workspace): Promise<WorkspaceUsage | null> {
    return (await this.usage([ws])).get(ws.id) ?? null;
  }

  /** Refreshes the refs whose sample is stale; joins a refresh already in flight for a ref. */
  private async ensure(refs: readonly WorkloadRef[]): Promise<void> {
    if (!this.runtime.stats || refs.length === 0) return;
    const now = Date.now();
    const stale = refs.filter((r) => !this.inFlight.has(r) && !(now - (this.cache.get(r)?.stats.at ?? -Infinity) < this.maxAgeMs));
    if (stale.length > 0) {
      const job = this.sample(stale).finally(() => {
        for (const r of stale) if (this.inFlight.get(r) === job) this.inFlight.delete(r);
      });
      for (const r of stale) this.inFlight.set(r, job);
    }
    await Promise.all(refs.map((r) => this.inFlight.get(r)).filter((p) => p !== undefined));
  }

  private async sample(refs: readonly WorkloadRef[]): Promise<void> {
    const stats = this.runtime.stats!.bind(this.runtime);
    const now = Date.now();
    const disk = refs.some((r) => !(now - (this.cache.get(r)?.disk?.at ?? -Infinity) < this.diskMaxAgeMs));
    this.calls++;
    let first = await stats([...refs], { disk });
    // Workloads seen for the first time with a CPU counter: a second sample gives a rate now.
    const fresh = refs.filter((r) => !this.cache.has(r) && first.get(r)?.cpuSeconds != null && first.get(r)?.cpuPercent === null);
    if (fresh.length > 0) {
      for (const r of fresh) this.store(r, first.get(r)!, disk);
      await new Promise((resolve) => setTimeout(resolve, this.firstGapMs));
      this.calls++;
      const second = await stats(fresh, { disk: false });
      first = new Map([...first, ...second]);
    }
    for (const r of refs) {
      const s = first.get(r);
      // Not measured this time (gone, or an engine hiccup): the last sample ages out on its own
      // (served while younger than serveStaleMs, forgotten after forgetAfterMs).
      if (s) this.store(r, s, disk && !fresh.includes(r));
    }
  }

  private store(ref: WorkloadRef, s: WorkloadStats, withDisk: boolean): void {
    const prev = this.cache.get(ref);
    this.cache.set(ref, {
      stats: s,
      cpuPercent: cpuRate(prev?.stats, s),
      disk: withDisk ? { bytes: s.diskBytes, at: s.at } : (prev?.disk ?? null),
      usedAt: prev?.usedAt ?? s.at,
    });
  }

  /** Reports an engine failure through `onError`, at most once a minute (a poll must not flood the log). */
  private failed(err: unknown): void {
    const now = Date.now();
    if (now - this.lastErrorAt < 60_000) return;
    this.lastErrorAt = now;
    this.onError?.(err);
  }

  private forget(now: number): void {
    for (const [ref, e] of this.cache) if (now - e.usedAt > this.forgetAfterMs) this.cache.delete(ref);
  }
}
