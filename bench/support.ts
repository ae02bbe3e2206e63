/**
 * Helpers shared by bench/route-update.ts and bench/scale.ts: a daemon in its own process with an
 * API client, HTTP probes, /proc readers (memory, CPU, processes, listening sockets, limits), small
 * statistics, and cleanup.
 *
 * Everything a bench starts lives under one temporary directory (`root`): the daemon's data dir
 * and the workloads' files. A process whose command line names that directory (a supervisor, a
 * busybox workload) or that lives in a supervisor's session was started by the bench, which is how
 * leftovers are found and, on failure, killed by pid. Cleanup runs in `finally`, on SIGINT/SIGTERM
 * (cleanupOnSignals) and, should the bench be killed outright, from a detached reaper (startReaper).
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { promisify } from 'node:util';
import { spawnDaemon } from '../test/support/daemon-process.js';
import { TEST_ADMIN_PASSWORD } from '../test/support/daemon.js';

const execFileAsync = promisify(execFile);

// ---------------------------------------------------------------------------------------------
// arguments and statistics

/** `--name value` pairs; unknown names are refused so a typo does not silently run defaults. */
export function parseArgs(argv: readonly string[], known: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i]!.replace(/^--/, '');
    if (!known.includes(name)) throw new Error(`unknown option ${argv[i]} (known: ${known.map((k) => `--${k}`).join(' ')})`);
    const value = argv[i + 1];
    if (value === undefined) throw new Error(`option ${argv[i]} needs a value`);
    out.set(name, value);
  }
  return out;
}

/** Nearest-rank percentile (p in 0–100) of a non-empty list. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

export const median = (xs: readonly number[]): number => percentile(xs, 50);

/** Prints rows as an aligned Markdown table (so the output can go into the README as is). */
export function printTable(header: readonly string[], rows: readonly (readonly string[])[]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  console.log(line(header));
  console.log(`|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : '-'.repeat(w + 1) + ':')).join('|')}|`);
  for (const r of rows) console.log(line(r));
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// HTTP probes (node:http, one request at a time; the figures are latencies, not throughput)

export interface ProbeResult {
  /** HTTP status, or 0 when no answer came (refused, reset, timeout). */
  status: number;
  /** Socket error code when status is 0. */
  error: string | null;
}

/** One GET on a fresh connection (`agent: false`), body drained. */
export function probe(host: string, port: number, urlPath: string, timeoutMs = 2000): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const req = http.get({ host, port, path: urlPath, agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      res.once('end', () => resolve({ status: res.statusCode ?? 0, error: null }));
      res.once('error', (err: NodeJS.ErrnoException) => resolve({ status: 0, error: err.code ?? err.message }));
    });
    req.once('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    req.once('error', (err: NodeJS.ErrnoException) => resolve({ status: 0, error: err.code ?? err.message }));
  });
}

/** One GET over `agent` (keep-alive); resolves the status once the body is read. */
export function getVia(agent: http.Agent, host: string, port: number, urlPath: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path: urlPath, agent }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode ?? 0));
      res.once('error', reject);
    });
    req.once('error', reject);
  });
}

// ---------------------------------------------------------------------------------------------
// the daemon in its own process

export interface BenchDaemon {
  pid: number;
  url: string;
  port: number;
  dataDir: string;
  token: string;
  /** Calls the API with the daemon token; parses JSON answers. */
  api(method: string, urlPath: string, body?: unknown): Promise<{ status: number; body: any; bytes: number }>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Starts test/support/daemon-main.ts as its own process (spawnDaemon), configured from BERTH_*
 * env, on an ephemeral loopback port. Its memory and CPU are then its own in /proc.
 */
export async function startBenchDaemon(opts: {
  dataDir: string;
  runtime: string;
  portRangeStart: number;
  portRangeEnd: number;
  /** Where to write the daemon's pid (the reaper's `pidFile`). */
  pidFile?: string;
}): Promise<BenchDaemon> {
  const { child, url } = await spawnDaemon({
    BERTH_PORT: '0',
    BERTH_HOST: '127.0.0.1',
    BERTH_RUNTIME: opts.runtime,
    BERTH_DATA_DIR: opts.dataDir,
    BERTH_ADMIN_PASSWORD: TEST_ADMIN_PASSWORD,
    BERTH_PORT_RANGE_START: String(opts.portRangeStart),
    BERTH_PORT_RANGE_END: String(opts.portRangeEnd),
  });
  // For the reaper, should this process die without cleaning up (the daemon's command line does not name the data dir).
  if (opts.pidFile) writeFileSync(opts.pidFile, String(child.pid));
  const token = readFileSync(path.join(opts.dataDir, 'token'), 'utf8').trim();
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  return {
    pid: child.pid!,
    url,
    port: Number(new URL(url).port),
    dataDir: opts.dataDir,
    token,
    async api(method, urlPath, body) {
      const headers: Record<string, string> = { accept: 'application/json', authorization: `Bearer ${token}` };
      if (body !== undefined) headers['content-type'] = 'application/json';
      const res = await fetch(url + urlPath, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch {
        // not JSON: keep the text
      }
      return { status: res.status, body: parsed, bytes: Buffer.byteLength(text) };
    },
    async stop(graceMs = 5000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// /proc readers

/** Fields of /proc/<pid>/smaps_rollup and VmRSS of /proc/<pid>/status, in kB; null if the process is gone. */
export function memoryOf(pid: number): { rss: number; pss: number; anon: number; privateKb: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const field = (text: string, name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
    return {
      rss: field(status, 'VmRSS'),
      pss: field(rollup, 'Pss'),
      anon: field(rollup, 'Anonymous'),
      privateKb: field(rollup, 'Private_Clean') + field(rollup, 'Private_Dirty'),
    };
  } catch {
    return null;
  }
}

let clockTicks: number | null = null;

/** User + system CPU time of a process in ms (from /proc/<pid>/stat). */
export async function cpuMsOf(pid: number): Promise<number> {
  clockTicks ??= Number((await execFileAsync('getconf', ['CLK_TCK'])).stdout.trim()) || 100;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of stat (utime, stime) are 11 and 12 after the command name.
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks;
}

export interface ProcInfo {
  pid: number;
  ppid: number;
  /** Session id: a detached supervisor leads its own session, and its workload stays in it. */
  sid: number;
  cmdline: string;
}

/** Lets timers, I/O and signal handlers run between chunks of synchronous work. */
export const yieldToLoop = () => new Promise<void>((r) => setImmediate(r));

/**
 * One pass over /proc: every live (non-zombie) process with its parent, session and command line
 * (NUL → space). Yields every 100 entries so a signal is handled promptly (see cleanupOnSignals).
 */
export async function processTable(): Promise<ProcInfo[]> {
  const out: ProcInfo[] = [];
  let n = 0;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    if (++n % 100 === 0) await yieldToLoop();
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] === 'Z' || fields[0] === 'X') continue;
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      out.push({ pid: Number(name), ppid: Number(fields[1]), sid: Number(fields[3]), cmdline });
    } catch {
      // exited while we looked
    }
  }
  return out;
}

/** Local TCP ports in [start, end] with a socket in LISTEN state (IPv4 and IPv6). */
export function listeningPortsIn(start: number, end: number): number[] {
  const ports = new Set<number>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 4 || cols[3] !== '0A') continue; // 0A = TCP_LISTEN
      const port = parseInt(cols[1]!.split(':')[1]!, 16);
      if (port >= start && port <= end) ports.add(port);
    }
  }
  return [...ports].sort((a, b) => a - b);
}

/** Tasks (threads) on the machine right now: each takes a pid, so pid_max bounds them. */
export function tasksNow(): number {
  let n = 0;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      n += readdirSync(`/proc/${name}/task`).length;
    } catch {
      // exited
    }
  }
  return n;
}

/** Soft and hard limit of one resource from /proc/self/limits ("Max open files", "Max processes"). */
export function limitOf(name: string): { soft: number; hard: number } {
  const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith(name));
  const cols = line?.slice(name.length).trim().split(/\s+/) ?? [];
  const num = (s: string | undefined) => (s === 'unlimited' ? Infinity : Number(s));
  return { soft: num(cols[0]), hard: num(cols[1]) };
}

/**
 * Raises this process's soft limit of `resource` (prlimit's name: nofile, nproc) to `want`
 * (at most the hard limit) with util-linux `prlimit --pid`, since Node has no setrlimit. Children
 * started afterwards (the daemon, and through it supervisors and workloads) inherit it.
 */
export async function raiseSoftLimit(resource: 'nofile' | 'nproc', label: string, want: number): Promise<string> {
  const { soft, hard } = limitOf(label);
  if (soft >= want) return `${resource}: soft ${soft} ≥ ${want} needed, unchanged`;
  const target = Math.min(want, hard);
  const hardArg = hard === Infinity ? 'unlimited' : String(hard);
  await execFileAsync('prlimit', ['--pid', String(process.pid), `--${resource}=${target}:${hardArg}`]);
  const now = limitOf(label).soft;
  return `${resource}: soft ${soft} → ${now} (hard ${hardArg}, ${want} wanted)`;
}

/** MemAvailable in MiB. */
export function memAvailableMiB(): number {
  const m = /^MemAvailable:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'));
  return Math.floor(Number(m?.[1] ?? 0) / 1024);
}

// ---------------------------------------------------------------------------------------------
// cleanup

const REAPER_MARK = 'berth-bench-reaper';

/**
 * The reaper: a detached node process that outlives a bench killed without a chance to clean up
 * (SIGKILL, the OOM killer, a launcher that gives up on it). Every 500 ms it checks the bench; once
 * the bench is gone and `root` still exists, it kills the daemon whose pid is in `pidFile` (if
 * that pid still runs daemon-main), every process whose command line names `root` (as a group, so
 * a supervisor takes its workload along), force-removes the podman containers listed in
 * `podman.namesFile` (one name a line), and removes `root`. It exits as soon as `root` is gone.
 */
const REAPER_SOURCE = `
const fs = require('node:fs');
const [, benchPid, root, pidFile, namesFile, containersConf] = process.argv.slice(1);
const alive = (pid) => { try { process.kill(pid, 0); return true; } catch { return false; } };
const read = (f) => { try { return fs.readFileSync(f, 'utf8'); } catch { return ''; } };
const kill = (pid) => { for (const t of [-pid, pid]) { try { process.kill(t, 'SIGKILL'); } catch {} } };
function reap() {
  const daemonPid = Number(read(pidFile));
  if (daemonPid && read('/proc/' + daemonPid + '/cmdline').includes('daemon-main')) kill(daemonPid);
  for (let round = 0; round < 3; round++) {
    for (const name of fs.readdirSync('/proc')) {
      if (!/^\\d+$/.test(name) || Number(name) === process.pid) continue;
      if (read('/proc/' + name + '/cmdline').includes(root)) kill(Number(name));
    }
  }
  const names = namesFile ? read(namesFile).split('\\n').filter(Boolean) : [];
  if (names.length) {
    try {
      require('node:child_process').execFileSync('podman', ['rm', '-f', '-t', '0', '--ignore', ...names], { env: { ...process.env, CONTAINERS_CONF: containersConf }, stdio: 'ignore' });
    } catch {}
  }
  fs.rmSync(root, { recursive: true, force: true });
}
const timer = setInterval(() => {
  if (!fs.existsSync(root)) process.exit(0);
  if (alive(Number(benchPid))) return;
  clearInterval(timer);
  setTimeout(() => { reap(); process.exit(0); }, 1000);
}, 500);
`;

/** Starts the reaper for this bench process, `root` and the daemon pid in `pidFile` (see REAPER_SOURCE). */
export function startReaper(root: string, pidFile: string, podman?: { namesFile: string; containersConf: string }): void {
  const argv = ['-e', REAPER_SOURCE, REAPER_MARK, String(process.pid), root, pidFile, ...(podman ? [podman.namesFile, podman.containersConf] : [])];
  const child = spawn(process.execPath, argv, { detached: true, stdio: 'ignore' });
  child.unref();
}

/**
 * Kills everything the bench started and removes its directory: the daemon, then every process
 * whose command line names `root` or that lives in a session of a supervisor seen (supervisors
 * lead their process group, so their group goes too), then podman containers by name if any,
 * then `root`. Safe to call twice.
 */
export function createCleanup(
  root: string,
  opts: {
    daemonPid?: () => number | null;
    /** Sessions led by supervisors seen so far: whatever is still in one of them goes too. */
    sessions?: () => ReadonlySet<number>;
    podmanNames?: () => string[];
    podmanEnv?: NodeJS.ProcessEnv;
  } = {},
) {
  let done: Promise<string[]> | null = null;
  return function cleanup(): Promise<string[]> {
    return (done ??= (async () => {
      const notes: string[] = [];
      const daemonPid = opts.daemonPid?.() ?? null;
      if (daemonPid !== null) {
        try {
          process.kill(daemonPid, 'SIGKILL');
          notes.push(`killed daemon ${daemonPid}`);
        } catch {
          // already gone
        }
      }
      for (let round = 0; round < 3; round++) {
        const sessions = opts.sessions?.() ?? new Set<number>();
        const left = (await processTable())
          .filter((p) => (p.cmdline.includes(root) && !p.cmdline.includes(REAPER_MARK)) || sessions.has(p.sid))
          .map((p) => p.pid);
        if (left.length === 0) break;
        for (const pid of left) {
          for (const target of [-pid, pid]) {
            try {
              process.kill(target, 'SIGKILL');
            } catch {
              // not a group leader, or gone
            }
          }
        }
        notes.push(`killed ${left.length} leftover process(es) under ${root}`);
        await sleep(200);
      }
      const names = opts.podmanNames?.() ?? [];
      if (names.length > 0) {
        await execFileAsync('podman', ['rm', '-f', '-t', '0', '--ignore', ...names], { env: opts.podmanEnv ?? process.env }).catch((err: Error) =>
          notes.push(`podman rm failed: ${err.message}`),
        );
      }
      if (existsSync(root)) rmSync(root, { recursive: true, force: true });
      return notes;
    })());
  };
}

/**
 * Runs `cleanup` on SIGINT/SIGTERM, then exits 130/143. A repeated signal (a launcher such as tsx
 * relays the terminal's SIGINT, so the bench gets it twice) does not cut the cleanup short.
 */
export function cleanupOnSignals(cleanup: () => Promise<string[]>): void {
  let cleaning = false;
  for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    process.on(sig, () => {
      if (cleaning) return;
      cleaning = true;
      console.error(`\n${sig}: cleaning up…`);
      void cleanup().then(
        (notes) => {
          for (const n of notes) console.error(`cleanup: ${n}`);
          process.exit(code);
        },
        (err: unknown) => {
          console.error('cleanup failed:', err);
          process.exit(code);
        },
      );
    });
  }
}
