/**
 * Usage of process-runtime workloads, read from Linux's /proc. A workload is every process of its
 * supervisor's session (the supervisor is spawned detached, so it leads a session of its own, and
 * the command and all its children inherit it), minus the supervisor itself, which is Berth's and
 * not the workload's. One scan of /proc serves every workload asked for.
 *
 * A child that calls setsid() itself (a daemonizing server) leaves the session and is not counted;
 * the runtime's stop misses it the same way (it signals the process group), so the figures match
 * what Berth controls. Without /proc (macOS), the figures are zeros.
 */
import { execFile } from 'node:child_process';
import { readdir, readFile, stat } from 'node:fs/promises';
import { totalmem } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { WorkloadStats } from '../runtime.js';

const execFileAsync = promisify(execFile);

/** The fields of `/proc/<pid>/stat` Berth reads (see proc(5)). */
export interface ProcStat {
  pid: number;
  state: string;
  ppid: number;
  session: number;
  /** User + system CPU time in clock ticks. */
  ticks: number;
  /** Resident set in pages. */
  rssPages: number;
}

/**
 * Parses one `/proc/<pid>/stat` line. The command name (field 2) is in parentheses and may hold
 * spaces and parentheses itself, so fields are counted from the LAST `)`.
 */
export function parseProcStat(text: string): ProcStat | null {
  const close = text.lastIndexOf(')');
  const open = text.indexOf(' (');
  if (close < 0 || open < 0) return null;
  const pid = Number(text.slice(0, open));
  // After ") ": field 3 (state) is index 0, so field n is index n - 3.
  const f = text.slice(close + 2).trim().split(/\s+/);
  const at = (n: number): number => Number(f[n - 3]);
  if (!Number.isInteger(pid) || f.length < 22) return null;
  return { pid, state: f[0]!, ppid: at(4), session: at(6), ticks: at(14) + at(15), rssPages: at(24) };
}

/** Sums per session: CPU ticks, resident pages and process count, leaving out `exclude` pids. */
export function sumBySession(stats: readonly ProcStat[], sessions: ReadonlySet<number>, exclude: ReadonlySet<number>) {
  const out = new Map<number, { ticks: number; rssPages: number; pids: number }>();
  for (const s of stats) {
    // Zombies hold no memory and their CPU time moves to the parent that reaps them.
    if (!sessions.has(s.session) || exclude.has(s.pid) || s.state === 'Z') continue;
    const sum = out.get(s.session) ?? { ticks: 0, rssPages: 0, pids: 0 };
    sum.ticks += s.ticks;
    sum.rssPages += s.rssPages;
    sum.pids += 1;
    out.set(s.session, sum);
  }
  return out;
}

/** Every readable `/proc/<pid>/stat`; processes that end during the scan are skipped. */
export async function scanProc(root = '/proc'): Promise<ProcStat[]> {
  let names: string[];
  try {
    names = await readdir(root);
  } catch {
    return [];
  }
  const all = await Promise.all(
    names
      .filter((n) => /^\d+$/.test(n))
      .map((n) => readFile(path.join(root, n, 'stat'), 'utf8').then(parseProcStat, () => null)),
  );
  return all.filter((s): s is ProcStat => s !== null);
}

let sysconf: Promise<{ clkTck: number; pageSize: number }> | undefined;

/** Clock ticks per second and the page size, asked once from `getconf` (100 and 4096 almost everywhere). */
export function hostUnits(): Promise<{ clkTck: number; pageSize: number }> {
  return (sysconf ??= (async () => {
    const ask = async (name: string, fallback: number): Promise<number> => {
      const n = Number((await execFileAsync('getconf', [name]).catch(() => ({ stdout: '' }))).stdout.trim());
      return Number.isInteger(n) && n > 0 ? n : fallback;
    };
    return { clkTck: await ask('CLK_TCK', 100), pageSize: await ask('PAGESIZE', 4096) };
  })());
}

/** The memory a process workload may use: the host's (it has no limit of its own). */
export const processMemoryLimit = (): number => totalmem();

/** Apparent size of the files under `dir` (like `du --apparent-size`), stopping after `maxEntries`. */
export async function dirBytes(dir: string, maxEntries = 100_000): Promise<number> {
  let total = 0;
  let seen = 0;
  const walk = async (d: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (++seen > maxEntries) return;
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) total += await stat(p).then((s) => s.size, () => 0);
    }
  };
  await walk(dir);
  return total;
}

/** A process workload as `processStats` needs it: its directory, and its supervisor when running. */
export interface ProcessWorkload {
  ref: string;
  dir: string;
  supervisorPid: number | null;
}

/**
 * Stats of process workloads: one /proc scan sums every running one's session; a stopped one
 * reports zeros. Disk: the workload's directory (its log), when asked for.
 */
export async function processStats(workloads: readonly ProcessWorkload[], opts: { disk?: boolean } = {}): Promise<Map<string, WorkloadStats>> {
  const sessions = new Set(workloads.flatMap((w) => (w.supervisorPid !== null ? [w.supervisorPid] : [])));
  const [{ clkTck, pageSize }, procs] = await Promise.all([hostUnits(), sessions.size ? scanProc() : Promise.resolve([])]);
  const sums = sumBySession(procs, sessions, sessions);
  const out = new Map<string, WorkloadStats>();
  for (const w of workloads) {
    const sum = w.supervisorPid !== null ? sums.get(w.supervisorPid) : undefined;
    out.set(w.ref, {
      cpuSeconds: (sum?.ticks ?? 0) / clkTck,
      cpuPercent: null,
      memoryBytes: (sum?.rssPages ?? 0) * pageSize,
      memoryLimitBytes: processMemoryLimit(),
      pids: sum?.pids ?? 0,
      diskBytes: opts.disk ? await dirBytes(w.dir) : null,
      at: Date.now(),
    });
  }
  return out;
}
