/**
 * Usage of podman and docker containers: argv builders and parsers (pure), and `ociStats`, which
 * runs them through the driver's `run` (never a shell string).
 *
 * Why the engines' `stats` CLI rather than reading cgroup files: the cgroup of a container sits
 * at a path that depends on the engine, its cgroup manager (cgroupfs or systemd), the cgroup
 * version (v1 here, v2 elsewhere) and rootless mode; the CLI hides all of that behind one call for
 * many containers. Cost measured here: podman 4.3 answers in ~0.13 s; docker 28's CLI in ~1.5–2 s,
 * because it samples twice to compute a percent (so the callers' cache matters most on docker).
 * Podman's `{{json .ContainerStats}}` gives raw numbers (cumulative CPU nanoseconds, bytes);
 * docker's CLI gives only formatted strings (`1.094MiB / 64MiB`, `31.52%`), parsed here.
 * The writable layer's size (`inspect --size`) costs a walk of the layer, so it is asked for only
 * when the caller wants disk figures.
 */
import { BerthError } from '../../errors.js';
import type { WorkloadRef, WorkloadStats } from '../runtime.js';
import { classifyEngineError, engineMessage } from './oci-args.js';

/** argv for `<bin> stats` once, for `refs`, in the engine's machine-readable format. */
export function statsArgs(engine: 'podman' | 'docker', refs: readonly string[]): string[] {
  const format = engine === 'podman' ? '{{json .ContainerStats}}' : '{{json .}}';
  return ['stats', '--no-stream', '--no-trunc', `--format=${format}`, '--', ...refs];
}

/** argv for the size of each container's writable layer: one `<id> <bytes>` line per ref. */
export function sizeArgs(refs: readonly string[]): string[] {
  return ['container', 'inspect', '--size', '--format={{.Id}} {{.SizeRw}}', '--', ...refs];
}

/** One line of podman's `{{json .ContainerStats}}` (podman 4.3). */
interface PodmanRow {
  ContainerID?: string;
  CPUNano?: number;
  CPU?: number;
  MemUsage?: number;
  MemLimit?: number;
  PIDs?: number;
}

/** One line of docker's `{{json .}}` (docker 28): formatted strings only. */
interface DockerRow {
  ID?: string;
  CPUPerc?: string;
  MemUsage?: string;
  PIDs?: string;
}

/** Splits JSON-lines output (blank lines skipped); a line that is not JSON is skipped too. */
function jsonLines<T>(stdout: string): T[] {
  const out: T[] = [];
  for (const line of stdout.split('\n')) {
    const t = line.trim();
    if (!t) continue;
    try {
      out.push(JSON.parse(t) as T);
    } catch {
      // A warning line among the rows (podman prints some on stderr, but be lenient).
    }
  }
  return out;
}

/** The ref among `refs` that names container `id` (refs may be full ids or prefixes of them). */
function refFor(id: string, refs: readonly string[]): string | undefined {
  return refs.find((r) => r === id || id.startsWith(r) || r.startsWith(id));
}

/** podman's stats lines → stats by ref. A container that is not running reports zeros. */
export function parsePodmanStats(stdout: string, refs: readonly string[], at: number): Map<WorkloadRef, WorkloadStats> {
  const out = new Map<WorkloadRef, WorkloadStats>();
  for (const row of jsonLines<PodmanRow>(stdout)) {
    const ref = row.ContainerID ? refFor(row.ContainerID, refs) : undefined;
    if (!ref) continue;
    out.set(ref, {
      cpuSeconds: typeof row.CPUNano === 'number' ? row.CPUNano / 1e9 : null,
      // podman's CLI percent is the average since start (a new process each call): not a rate now.
      cpuPercent: null,
      memoryBytes: num(row.MemUsage),
      memoryLimitBytes: typeof row.MemLimit === 'number' && row.MemLimit > 0 ? row.MemLimit : null,
      pids: num(row.PIDs),
      diskBytes: null,
      at,
    });
  }
  return out;
}

/** docker's stats lines → stats by ref: `31.52%`, `1.094MiB / 64MiB`, `1`. */
export function parseDockerStats(stdout: string, refs: readonly string[], at: number): Map<WorkloadRef, WorkloadStats> {
  const out = new Map<WorkloadRef, WorkloadStats>();
  for (const row of jsonLines<DockerRow>(stdout)) {
    const ref = row.ID ? refFor(row.ID, refs) : undefined;
    if (!ref) continue;
    const [used, limit] = (row.MemUsage ?? '').split('/').map((s) => parseSize(s));
    const pct = /^\s*([\d.]+)\s*%\s*$/.exec(row.CPUPerc ?? '');
    out.set(ref, {
      cpuSeconds: null,
      cpuPercent: pct ? Number(pct[1]) : null,
      memoryBytes: used ?? 0,
      memoryLimitBytes: limit ? limit : null,
      pids: Number.parseInt(row.PIDs ?? '', 10) || 0,
      diskBytes: null,
      at,
    });
  }
  return out;
}

const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12,
  kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, tib: 1024 ** 4,
};

/** `1.094MiB`, `340KiB`, `0B`, `1.5kB` → bytes (rounded); null when it is not a size. */
export function parseSize(text: string | undefined): number | null {
  const m = /^\s*([\d.]+)\s*([a-z]+)\s*$/i.exec(text ?? '');
  if (!m) return null;
  const unit = SIZE_UNITS[m[2]!.toLowerCase()];
  const n = Number(m[1]);
  return unit === undefined || !Number.isFinite(n) ? null : Math.round(n * unit);
}

/** `<id> <bytes>` lines of `sizeArgs` → writable-layer bytes by ref. */
export function parseSizes(stdout: string, refs: readonly string[]): Map<WorkloadRef, number> {
  const out = new Map<WorkloadRef, number>();
  for (const line of stdout.split('\n')) {
    const m = /^([0-9a-f]{12,64})\s+(\d+)\s*$/.exec(line.trim());
    const ref = m ? refFor(m[1]!, refs) : undefined;
    if (m && ref) out.set(ref, Number(m[2]));
  }
  return out;
}

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/** What `ociStats` needs from the driver: its `run` (argv → exit code and output). */
export type StatsRun = (argv: string[]) => Promise<{ code: number | null; stdout: string; stderr: string }>;

/**
 * Stats of `refs` through the engine's CLI. The engines fail the whole call when one ref is gone
 * (removed between the caller's listing and this call): then each is asked alone, and the gone
 * one is left out. When nothing could be measured for another reason, throws E_RUNTIME with the
 * engine's words. Disk figures are a second call, made only when `disk` is asked for.
 */
export async function ociStats(
  engine: 'podman' | 'docker',
  run: StatsRun,
  refs: readonly string[],
  opts: { disk?: boolean } = {},
): Promise<Map<WorkloadRef, WorkloadStats>> {
  if (refs.length === 0) return new Map();
  const parse = engine === 'podman' ? parsePodmanStats : parseDockerStats;
  /** Engine words of failures other than "no such container" (which only means: left out). */
  const failures: string[] = [];
  const once = async (some: readonly string[]): Promise<Map<WorkloadRef, WorkloadStats>> => {
    const res = await run(statsArgs(engine, some));
    if (res.code === 0) return parse(res.stdout, some, Date.now());
    if (classifyEngineError(res.stderr) !== 'not-found') failures.push(engineMessage(res.stderr) || `exit ${res.code}`);
    return new Map();
  };
  const [stats, sizes] = await Promise.all([
    (async () => {
      const all = await once(refs);
      if (all.size > 0 || refs.length === 1) return all;
      const each = await Promise.all(refs.map((r) => once([r])));
      return new Map(each.flatMap((m) => [...m]));
    })(),
    opts.disk ? run(sizeArgs(refs)).then((res) => parseSizes(res.stdout, refs)) : Promise.resolve(new Map<WorkloadRef, number>()),
  ]);
  // Nothing measured and the engine said why (rootless podman on cgroup v1, a daemon that does not
  // answer): an error the caller can log, rather than an empty answer that looks like "all gone".
  if (stats.size === 0 && failures.length > 0) throw new BerthError('E_RUNTIME', `${engine} stats failed: ${failures[failures.length - 1]}`);
  for (const [ref, s] of stats) s.diskBytes = opts.disk ? (sizes.get(ref) ?? null) : null;
  return stats;
}
