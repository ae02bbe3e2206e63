/**
 * Resource limits of a workspace (CPUs and memory) and the sizes users write them in. Pure: the
 * API, the CLI and the service share these rules, so `--memory 512m` means the same everywhere.
 */

/** Engines refuse a memory limit below 6 MB (docker: "Minimum memory limit allowed is 6MB"). */
export const MIN_MEMORY_MB = 6;
/** docker's smallest `--cpus` (one hundredth of a CPU); podman accepts it too. */
export const MIN_CPUS = 0.01;

const MEMORY_RE = /^(\d+(?:\.\d+)?)\s*(k|m|g|t|ki|mi|gi|ti|kb|mb|gb|tb)?$/i;
const UNIT_MB: Record<string, number> = {
  k: 1 / 1024, ki: 1 / 1024, kb: 1 / 1024,
  m: 1, mi: 1, mb: 1,
  g: 1024, gi: 1024, gb: 1024,
  t: 1024 * 1024, ti: 1024 * 1024, tb: 1024 * 1024,
};

/** The hint every refused memory value carries. */
export const MEMORY_HINT = 'give a size like 512m or 2g (k, m, g, t; binary units), or a whole number of megabytes';
/** The hint every refused CPU value carries. */
export const CPUS_HINT = 'give a number of CPUs like 0.5, 1 or 2 (at least 0.01)';

/**
 * `512m`, `2g`, `1.5Gi`, or a number of megabytes → whole megabytes (rounded down), or the problem.
 * The units are binary, as the engines read them (`--memory 1g` is 1024 MiB).
 */
export function parseMemoryMb(v: string | number): { mb: number } | { problem: string } {
  let mb: number;
  if (typeof v === 'number') mb = v;
  else {
    const m = MEMORY_RE.exec(v.trim());
    if (!m) return { problem: `memory ${JSON.stringify(v)} is not a size` };
    mb = Number(m[1]) * UNIT_MB[(m[2] ?? 'm').toLowerCase()]!;
  }
  if (!Number.isFinite(mb)) return { problem: 'memory must be a finite size' };
  if (mb < MIN_MEMORY_MB) return { problem: `memory must be at least ${MIN_MEMORY_MB}m (the engines' minimum), got ${formatMb(mb)}` };
  return { mb: Math.floor(mb) };
}

/** Why `cpus` is not a usable CPU limit, or null. */
export function cpusProblem(cpus: number): string | null {
  if (!Number.isFinite(cpus)) return 'cpus must be a finite number';
  if (cpus < MIN_CPUS) return `cpus must be at least ${MIN_CPUS}, got ${cpus}`;
  return null;
}

/** What the host offers: the ceiling of any limit. */
export interface HostCapacity {
  cpus: number;
  memoryMb: number;
}

/**
 * Why limits cannot be given on this host, or null: more CPUs than the host has, or more memory
 * than it has. (A limit above the host is no limit at all, and usually a typo: 512g for 512m.)
 */
export function limitsOverHost(limits: { cpus?: number | null | undefined; memoryMb?: number | null | undefined }, host: HostCapacity): string | null {
  if (limits.cpus != null && limits.cpus > host.cpus) return `cpus ${limits.cpus} is more than the ${host.cpus} CPUs of this host`;
  if (limits.memoryMb != null && limits.memoryMb > host.memoryMb) {
    return `memory ${formatMb(limits.memoryMb)} is more than the ${formatMb(host.memoryMb)} of this host`;
  }
  return null;
}

/** 512 → `512m`, 2048 → `2g`, 1536 → `1.5g`. */
export function formatMb(mb: number): string {
  if (mb >= 1024) return `${Number((mb / 1024).toFixed(2))}g`;
  return `${Number(mb.toFixed(2))}m`;
}

/** Bytes for people: `0 B`, `812 KiB`, `1.5 MiB`, `2.3 GiB` (binary, as `--memory` counts). */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${Math.round(v)} B` : `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}
