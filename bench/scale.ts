/**
 * Scale: N workspaces on the process runtime, each a real process (busybox httpd under its node
 * supervisor), with figures at checkpoints so growth is visible side by side in one run.
 *
 *   npx tsx bench/scale.ts [--n 1000] [--checkpoints 10,100,250,500,1000] [--concurrency 8]
 *                          [--requests 2000] [--port-start 12000]
 *
 * The daemon runs in its own process (test/support/daemon-process.ts), so /proc/<pid> is its
 * memory alone. At each checkpoint (creation paused):
 *
 * - create throughput of the segment (POSTs `--concurrency` at a time), POST latency, and the
 *   daemon's CPU time per create (utime+stime from /proc/<pid>/stat);
 * - daemon VmRSS (/proc/<pid>/status) and Pss / Anonymous (/proc/<pid>/smaps_rollup);
 * - sum of Pss over every supervisor (a node supervisor's RSS is mostly the shared node binary;
 *   Pss divides shared pages among their users, so the sum is what they really cost) and over
 *   every workload process, with the average private anonymous memory per supervisor;
 * - GET /api/workspaces latency (20 sequential calls) and answer size;
 * - route lookup: (a) in this process, the edge's `matchRequest` over a table built by
 *   `buildRouteTable` from the daemon's own rows (read-only from its SQLite store), ns per lookup,
 *   median of rounds; also the cost of one route refresh (the store read + the build, which the
 *   daemon does on every change); (b) end to end, `--requests` sequential keep-alive GETs through
 *   the edge to one fixed hosted workspace, interleaved in blocks with as many GETs straight to
 *   its port, p50/p99 each.
 *
 * Then every workspace is deleted and the bench fails loudly unless every port is released (store
 * and sockets) and no supervisor or workload process is left. Everything is also killed and
 * removed on failure or Ctrl-C.
 *
 * Workloads: `busybox httpd -f -p 127.0.0.1:$PORT` (Debian busybox-static, /bin/busybox): busybox
 * takes the port as an argument, so a fixed `sh -c` script (nothing from input in it) execs it
 * with $PORT. The fixed target of (b) is workspace 1, a node HTTP server, because busybox httpd
 * closes every connection and the figure should be the edge, not TCP handshakes.
 */
import Database from 'better-sqlite3';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { RoutableWorkload } from '../src/domain/route.js';
import { buildRouteTable } from '../src/edge/route-table.js';
import { lookupRound, shuffled } from './route-match.js';
import { workspaceRoutable } from '../src/services/workspace-routes.js';
import { WorkspacesRepo } from '../src/store/workspaces-repo.js';
import {
  cleanupOnSignals,
  cpuMsOf,
  createCleanup,
  getVia,
  limitOf,
  listeningPortsIn,
  memAvailableMiB,
  median,
  memoryOf,
  parseArgs,
  percentile,
  printTable,
  processTable,
  raiseSoftLimit,
  sleep,
  startBenchDaemon,
  startReaper,
  tasksNow,
  yieldToLoop,
  type BenchDaemon,
} from './support.js';

const args = parseArgs(process.argv.slice(2), ['n', 'checkpoints', 'concurrency', 'requests', 'port-start']);
const N = Number(args.get('n') ?? 1000);
const CHECKPOINTS = [...new Set([...(args.get('checkpoints') ?? '10,100,250,500,1000').split(',').map(Number).filter((c) => c > 0 && c < N), N])].sort((a, b) => a - b);
const CONCURRENCY = Number(args.get('concurrency') ?? 8);
const REQUESTS = Number(args.get('requests') ?? 2000);
/** Daemon default: 5 host ports per workspace. */
const PORTS_PER_WORKSPACE = 5;
/** Below the ephemeral range (32768+) and the test suites' random ranges (20000–40099). */
const PORT_START = Number(args.get('port-start') ?? 12000);
const PORT_END = PORT_START + PORTS_PER_WORKSPACE * N + 99;
if (!Number.isInteger(N) || N < 1) throw new Error('--n must be a positive integer');
if (PORT_END > 19999 && !args.has('port-start')) throw new Error(`--n ${N} needs ports up to ${PORT_END}: pass --port-start to place the range elsewhere`);

const KB = (kb: number) => `${(kb / 1024).toFixed(1)} MiB`;
const ms = (x: number, digits = 1) => x.toFixed(digits);

// ---------------------------------------------------------------------------------------------
// preflight: machine limits this run needs

const tasks = tasksNow();
const pidMax = Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8'));
const threadsMax = Number(readFileSync('/proc/sys/kernel/threads-max', 'utf8'));
// A node supervisor has ~11 threads, busybox 1; each thread takes a pid.
const TASKS_PER_WORKSPACE = 13;
const needTasks = tasks + TASKS_PER_WORKSPACE * N + 500;
if (needTasks > Math.min(pidMax, threadsMax)) {
  throw new Error(`${N} workspaces need ~${needTasks} tasks (pids) with the ${tasks} running now; pid_max is ${pidMax}, threads-max ${threadsMax}`);
}
// Private memory: ~7 MiB per node supervisor, well under 1 MiB per busybox; plus headroom.
const needMiB = 10 * N + 2048;
if (memAvailableMiB() < needMiB) throw new Error(`${N} workspaces need ~${needMiB} MiB available; MemAvailable is ${memAvailableMiB()} MiB`);
const limitNotes = [
  // The daemon's descriptors do not grow with N (supervisors run detached with stdio ignored), but
  // the bench and daemon each hold sockets and the store: 4096 is plenty, the default 1024 tight.
  await raiseSoftLimit('nofile', 'Max open files', 4096),
  // RLIMIT_NPROC counts every thread of this user; root is exempt, others are not.
  process.getuid?.() === 0 ? 'nproc: not enforced for root' : await raiseSoftLimit('nproc', 'Max processes', needTasks),
];

// ---------------------------------------------------------------------------------------------
// setup and cleanup

const root = mkdtempSync(path.join(tmpdir(), 'berth-bench-scale-'));
const dataDir = path.join(root, 'data');
const www = path.join(root, 'www');
mkdirSync(www, { recursive: true });
writeFileSync(path.join(www, 'index.html'), 'ok\n');
const supervisorMarker = path.join(dataDir, 'process', '.supervisor-');
/** Every supervisor pid seen: each leads a session that its workload shares. */
const supervisorSessions = new Set<number>();
let daemon: BenchDaemon | null = null;
const cleanup = createCleanup(root, { daemonPid: () => daemon?.pid ?? null, sessions: () => supervisorSessions });
cleanupOnSignals(cleanup);
const pidFile = path.join(root, 'daemon.pid');
startReaper(root, pidFile);

const BUSYBOX = ['/bin/busybox', 'sh', '-c', 'exec /bin/busybox httpd -f -p "127.0.0.1:$PORT" -h "$1"', 'httpd', www];
const NODE_SERVER = [process.execPath, '-e', `require('http').createServer((q, s) => s.end('ok')).listen(Number(process.env.PORT), '127.0.0.1')`];

interface Segment {
  count: number;
  createdNow: number;
  wallMs: number;
  postMs: number[];
  daemonCpuMs: number;
}
interface Checkpoint extends Segment {
  daemonMem: NonNullable<ReturnType<typeof memoryOf>>;
  supervisors: { count: number; pssKb: number; anonKb: number; rssKb: number };
  workloads: { count: number; pssKb: number };
  listening: number;
  apiList: { p50: number; p90: number; bytes: number };
  refresh: { listMs: number; buildMs: number };
  /** `/hosted/{id}/{port}/api/items?page=2` and `/hosted/{id}/{port}/assets/app.js`. */
  matchNs: { plain: number; dotted: number; hot: number };
  e2e: { edgeP50: number; edgeP99: number; directP50: number; directP99: number };
}

/** Supervisors (found by their script path under our data dir) and the processes in their sessions. */
async function ourProcesses() {
  const table = await processTable();
  const supervisors = table.filter((p) => p.cmdline.includes(supervisorMarker));
  for (const s of supervisors) supervisorSessions.add(s.pid);
  const sessions = new Set(supervisors.map((s) => s.pid));
  const workloads = table.filter((p) => sessions.has(p.sid) && p.pid !== p.sid);
  return { supervisors, workloads };
}

async function sumMemory(pids: number[]) {
  let pssKb = 0;
  let anonKb = 0;
  let rssKb = 0;
  for (const [i, pid] of pids.entries()) {
    if (i % 50 === 49) await yieldToLoop();
    const m = memoryOf(pid);
    if (!m) continue;
    pssKb += m.pss;
    anonKb += m.anon;
    rssKb += m.rss;
  }
  return { pssKb, anonKb, rssKb };
}

/** Runs `count` creates, `CONCURRENCY` at a time. */
async function createMany(d: BenchDaemon, from: number, to: number): Promise<Segment> {
  const postMs: number[] = [];
  const cpu0 = await cpuMsOf(d.pid);
  const t0 = performance.now();
  let next = from;
  const worker = async () => {
    while (next < to) {
      const i = next++;
      const t = performance.now();
      const r = await d.api('POST', '/api/workspaces', { name: `sc-${i + 1}`, visibility: 'public', command: i === 0 ? NODE_SERVER : BUSYBOX });
      if (r.status !== 201) throw new Error(`create ${i + 1} failed (${r.status}): ${JSON.stringify(r.body)}`);
      postMs.push(performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, to - from) }, worker));
  return { count: to, createdNow: to - from, wallMs: performance.now() - t0, postMs, daemonCpuMs: (await cpuMsOf(d.pid)) - cpu0 };
}

/** Rows as the daemon maps them for its route table (src/daemon.ts refreshRoutes). */
const routable = (repo: WorkspacesRepo): RoutableWorkload[] => repo.list().map(workspaceRoutable);

async function timeMedian(runs: number, fn: () => void): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    fn();
    xs.push(performance.now() - t);
    await yieldToLoop();
  }
  return median(xs);
}

/**
 * ns per `matchRequest` over every hosted URL of the table (`suffix` appended), or only `hot` of
 * them, in shuffled order; median of rounds. A dot anywhere in the path sends it through the full
 * normalization. With `hot` the working set stays the same size whatever the table's size, which
 * separates the table's size from cache effects of touching more routes.
 */
async function matchBenchmark(rows: RoutableWorkload[], suffix: string, hot = Infinity): Promise<number> {
  const table = buildRouteTable(rows);
  const urls = shuffled([...table.pathRoutes.keys()].map((k) => k + suffix)).slice(0, hot);
  // Short rounds with a yield between them: signals (Ctrl-C) are handled within milliseconds.
  const xs: number[] = [];
  for (let i = 0; i < 5 + 100; i++) {
    const x = lookupRound(table, urls, 10_000);
    if (i >= 5) xs.push(x); // the first rounds warm the JIT up
    await yieldToLoop();
  }
  return median(xs);
}

/** `REQUESTS` keep-alive GETs through the edge and as many directly, interleaved in blocks of 100; ms. */
async function endToEnd(d: BenchDaemon, hostedPath: string, hostPort: number) {
  const edgeAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const directAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const edge: number[] = [];
  const direct: number[] = [];
  const one = async (agent: http.Agent, port: number, p: string, into: number[] | null) => {
    const t = performance.now();
    const status = await getVia(agent, '127.0.0.1', port, p);
    if (status !== 200) throw new Error(`GET ${port}${p} answered ${status}`);
    into?.push(performance.now() - t);
  };
  try {
    // Warm-up: the first checkpoint is the first time the daemon's proxy path gets JIT-compiled.
    for (let i = 0; i < 500; i++) {
      await one(edgeAgent, d.port, hostedPath, null);
      await one(directAgent, hostPort, '/', null);
    }
    for (let done = 0; done < REQUESTS; done += 100) {
      const block = Math.min(100, REQUESTS - done);
      for (let i = 0; i < block; i++) await one(edgeAgent, d.port, hostedPath, edge);
      for (let i = 0; i < block; i++) await one(directAgent, hostPort, '/', direct);
    }
  } finally {
    edgeAgent.destroy();
    directAgent.destroy();
  }
  return { edgeP50: percentile(edge, 50), edgeP99: percentile(edge, 99), directP50: percentile(direct, 50), directP99: percentile(direct, 99) };
}

async function measure(d: BenchDaemon, db: Database.Database, seg: Segment, target: { path: string; hostPort: number }): Promise<Checkpoint> {
  // Every workload listens before anything is measured (they are real servers, not placeholders).
  let listening = 0;
  for (let t = Date.now(); ; await sleep(200)) {
    listening = listeningPortsIn(PORT_START, PORT_END).length;
    if (listening >= seg.count) break;
    if (Date.now() - t > 30_000) throw new Error(`only ${listening} of ${seg.count} workloads listen after 30 s`);
  }
  const { supervisors, workloads } = await ourProcesses();
  if (supervisors.length !== seg.count) throw new Error(`${supervisors.length} supervisors run for ${seg.count} workspaces`);
  const sup = await sumMemory(supervisors.map((p) => p.pid));
  const wl = await sumMemory(workloads.map((p) => p.pid));
  const daemonMem = memoryOf(d.pid);
  if (!daemonMem) throw new Error('the daemon is gone');

  // Every workspace must still be running: a crashed workload would make the figures meaningless.
  const all = (await d.api('GET', '/api/workspaces')).body.workspaces as { id: string; name: string; state: string; reason: string | null; ports: { hostPort: number }[] }[];
  const notRunning = all.filter((w) => w.state !== 'running');
  if (notRunning.length) {
    const logs = await Promise.all(notRunning.slice(0, 3).map(async (w) => (await d.api('GET', `/api/workspaces/${w.id}/logs?tail=5`)).body));
    throw new Error(
      `${notRunning.length} of ${all.length} workspaces are not running: ` +
        notRunning.slice(0, 3).map((w, i) => `${w.name} (port ${w.ports[0]?.hostPort}) ${w.state}: ${w.reason}; log: ${JSON.stringify(logs[i])}`).join(' | '),
    );
  }
  const listMs: number[] = [];
  let bytes = 0;
  for (let i = 0; i < 22; i++) {
    const t = performance.now();
    const r = await d.api('GET', '/api/workspaces');
    if (r.status !== 200 || r.body.workspaces.length !== seg.count) throw new Error(`GET /api/workspaces: ${r.status}, ${r.body?.workspaces?.length} rows`);
    if (i >= 2) listMs.push(performance.now() - t);
    bytes = r.bytes;
  }

  const repo = new WorkspacesRepo(db);
  let rows: RoutableWorkload[] = [];
  const refreshListMs = await timeMedian(20, () => (rows = routable(repo)));
  const buildMs = await timeMedian(20, () => buildRouteTable(rows));
  const matchNs = {
    plain: await matchBenchmark(rows, 'api/items?page=2'),
    dotted: await matchBenchmark(rows, 'assets/app.js'),
    hot: await matchBenchmark(rows, 'api/items?page=2', 50),
  };
  const e2e = await endToEnd(d, target.path, target.hostPort);
  return {
    ...seg,
    daemonMem,
    supervisors: { count: supervisors.length, pssKb: sup.pssKb, anonKb: sup.anonKb, rssKb: sup.rssKb },
    workloads: { count: workloads.length, pssKb: wl.pssKb },
    listening,
    apiList: { p50: median(listMs), p90: percentile(listMs, 90), bytes },
    refresh: { listMs: refreshListMs, buildMs },
    matchNs,
    e2e,
  };
}

function printProgress(c: Checkpoint): void {
  console.log(
    `[${c.count}] ${(c.createdNow / (c.wallMs / 1000)).toFixed(1)} creates/s, daemon RSS ${KB(c.daemonMem.rss)} PSS ${KB(c.daemonMem.pss)}, ` +
      `supervisors PSS ${KB(c.supervisors.pssKb)}, GET list ${ms(c.apiList.p50)} ms, match ${c.matchNs.plain.toFixed(0)}/${c.matchNs.dotted.toFixed(0)} ns, ` +
      `edge p50 ${ms(c.e2e.edgeP50, 3)} ms p99 ${ms(c.e2e.edgeP99, 3)} ms`,
  );
}

type Mem = NonNullable<ReturnType<typeof memoryOf>>;

function report(base: Mem, cps: Checkpoint[], teardown: { wallMs: number; count: number; daemonMem: Mem }): void {
  const first = cps[0]!;
  const last = cps[cps.length - 1]!;
  console.log(`\n### Creating (${CONCURRENCY} concurrent POSTs; figures for the creates since the previous checkpoint)\n`);
  printTable(
    ['workspaces', 'creates/s', 'POST p50 ms', 'POST p90 ms', 'daemon CPU ms/create', 'GET /api/workspaces p50 ms', 'p90 ms', 'answer KiB'],
    cps.map((c) => [
      String(c.count),
      (c.createdNow / (c.wallMs / 1000)).toFixed(1),
      ms(median(c.postMs), 0),
      ms(percentile(c.postMs, 90), 0),
      ms(c.daemonCpuMs / c.createdNow),
      ms(c.apiList.p50),
      ms(c.apiList.p90),
      (c.apiList.bytes / 1024).toFixed(0),
    ]),
  );
  console.log('\n### Memory (daemon alone; sums over every supervisor / workload process)\n');
  printTable(
    ['workspaces', 'daemon RSS', 'daemon PSS', 'daemon anon', 'supervisors Σ PSS', 'PSS / supervisor', 'anon / supervisor', 'RSS / supervisor', 'workloads Σ PSS'],
    [
      ['0', KB(base.rss), KB(base.pss), KB(base.anon), '—', '—', '—', '—', '—'],
      ...cps.map((c) => [
        String(c.count),
        KB(c.daemonMem.rss),
        KB(c.daemonMem.pss),
        KB(c.daemonMem.anon),
        KB(c.supervisors.pssKb),
        KB(c.supervisors.pssKb / c.supervisors.count),
        KB(c.supervisors.anonKb / c.supervisors.count),
        KB(c.supervisors.rssKb / c.supervisors.count),
        KB(c.workloads.pssKb),
      ]),
      ['0 (after deleting all)', KB(teardown.daemonMem.rss), KB(teardown.daemonMem.pss), KB(teardown.daemonMem.anon), '—', '—', '—', '—', '—'],
    ],
  );
  console.log(`\n### Routing (match: in-process, table of the daemon's rows; edge/direct: ${REQUESTS} sequential keep-alive GETs each, interleaved)\n`);
  printTable(
    ['workspaces', 'routes', 'match ns (…/api/items?page=2)', 'same, 50 hot URLs', 'match ns (…/assets/app.js)', 'refresh: store read ms', 'refresh: build ms', 'edge p50 ms', 'edge p99 ms', 'direct p50 ms', 'direct p99 ms', 'edge − direct p50 ms'],
    cps.map((c) => [
      String(c.count),
      String(c.count * PORTS_PER_WORKSPACE),
      c.matchNs.plain.toFixed(0),
      c.matchNs.hot.toFixed(0),
      c.matchNs.dotted.toFixed(0),
      ms(c.refresh.listMs, 2),
      ms(c.refresh.buildMs, 2),
      ms(c.e2e.edgeP50, 3),
      ms(c.e2e.edgeP99, 3),
      ms(c.e2e.directP50, 3),
      ms(c.e2e.directP99, 3),
      ms(c.e2e.edgeP50 - c.e2e.directP50, 3),
    ]),
  );
  const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
  console.log(`\nratios ${last.count} vs ${first.count} workspaces:`);
  console.log(`  match ns/lookup ${ratio(last.matchNs.plain, first.matchNs.plain)} (50 hot URLs ${ratio(last.matchNs.hot, first.matchNs.hot)}, dotted path ${ratio(last.matchNs.dotted, first.matchNs.dotted)}); edge p50 ${ratio(last.e2e.edgeP50, first.e2e.edgeP50)}, p99 ${ratio(last.e2e.edgeP99, first.e2e.edgeP99)}; ` +
    `edge − direct p50 ${ratio(last.e2e.edgeP50 - last.e2e.directP50, first.e2e.edgeP50 - first.e2e.directP50)}`);
  console.log(`  GET /api/workspaces p50 ${ratio(last.apiList.p50, first.apiList.p50)}; route refresh (store read + build) ${ratio(last.refresh.listMs + last.refresh.buildMs, first.refresh.listMs + first.refresh.buildMs)}; ` +
    `daemon CPU per create ${ratio(last.daemonCpuMs / last.createdNow, first.daemonCpuMs / first.createdNow)}`);
  const perWs = (last.daemonMem.rss - base.rss) / last.count;
  console.log(`  daemon RSS growth: ${(perWs).toFixed(0)} KiB per workspace (0 → ${last.count}); supervisors: ${KB(last.supervisors.pssKb / last.supervisors.count)} PSS each at ${last.count}`);
  console.log(`teardown: ${teardown.count} DELETEs in ${(teardown.wallMs / 1000).toFixed(1)} s (${(teardown.count / (teardown.wallMs / 1000)).toFixed(1)}/s)`);
}

// ---------------------------------------------------------------------------------------------
// run

console.log(`scale: ${N} workspaces, checkpoints ${CHECKPOINTS.join(', ')}, ${CONCURRENCY} concurrent creates, ports ${PORT_START}-${PORT_END} (${PORTS_PER_WORKSPACE} per workspace)`);
console.log(`limits: ${limitNotes.join('; ')}; tasks now ${tasks}, ~${needTasks} needed (pid_max ${pidMax}); MemAvailable ${memAvailableMiB()} MiB; open files soft ${limitOf('Max open files').soft}`);
let db: Database.Database | null = null;
try {
  const busy = listeningPortsIn(PORT_START, PORT_END);
  if (busy.length) throw new Error(`ports ${busy.slice(0, 10).join(', ')}… of the bench range ${PORT_START}-${PORT_END} are already in use`);
  daemon = await startBenchDaemon({ dataDir, runtime: 'process', portRangeStart: PORT_START, portRangeEnd: PORT_END, pidFile });
  const d = daemon;
  console.log(`daemon pid ${d.pid} at ${d.url} (node --import tsx: its RSS includes the TypeScript loader; compare growth, not the base)`);
  await sleep(1000);
  const base = memoryOf(d.pid)!;
  db = new Database(path.join(dataDir, 'berth.db'), { readonly: true, fileMustExist: true });

  const checkpoints: Checkpoint[] = [];
  let count = 0;
  let target: { path: string; hostPort: number } | null = null;
  for (const cp of CHECKPOINTS) {
    const seg = await createMany(d, count, cp);
    count = cp;
    if (!target) {
      const list = await d.api('GET', '/api/workspaces');
      const ws = (list.body.workspaces as { id: string; name: string; ports: { hostPort: number }[] }[]).find((w) => w.name === 'sc-1')!;
      target = { path: `/hosted/${ws.id}/${ws.ports[0]!.hostPort}/`, hostPort: ws.ports[0]!.hostPort };
    }
    const c = await measure(d, db, seg, target);
    checkpoints.push(c);
    printProgress(c);
  }

  // Teardown through the API, then prove nothing is left.
  const list = (await d.api('GET', '/api/workspaces')).body.workspaces as { id: string }[];
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < list.length) {
        const ws = list[next++]!;
        const r = await d.api('DELETE', `/api/workspaces/${ws.id}`);
        if (r.status !== 204) throw new Error(`DELETE ${ws.id}: ${r.status} ${JSON.stringify(r.body)}`);
      }
    }),
  );
  const wallMs = performance.now() - t0;
  const problems: string[] = [];
  const left = (await d.api('GET', '/api/workspaces')).body.workspaces.length as number;
  if (left) problems.push(`${left} workspaces still listed`);
  const allocated = (db.prepare('SELECT COUNT(*) AS n FROM port_allocations').get() as { n: number }).n;
  if (allocated) problems.push(`${allocated} ports still allocated in the store`);
  let listeningLeft: number[] = [];
  for (let i = 0; i < 25; i++) {
    listeningLeft = listeningPortsIn(PORT_START, PORT_END);
    if (listeningLeft.length === 0) break;
    await sleep(200);
  }
  if (listeningLeft.length) problems.push(`${listeningLeft.length} ports still listening: ${listeningLeft.slice(0, 10).join(', ')}`);
  const procs = await processTable();
  const leftSupervisors = procs.filter((p) => p.cmdline.includes(supervisorMarker));
  const leftInSessions = procs.filter((p) => supervisorSessions.has(p.sid));
  if (leftSupervisors.length) problems.push(`${leftSupervisors.length} supervisor processes left: ${leftSupervisors.slice(0, 5).map((p) => p.pid).join(', ')}`);
  if (leftInSessions.length) problems.push(`${leftInSessions.length} processes left in supervisor sessions: ${leftInSessions.slice(0, 5).map((p) => `${p.pid} ${p.cmdline}`).join('; ')}`);
  const dirs = existsSync(path.join(dataDir, 'process')) ? readdirSync(path.join(dataDir, 'process')).filter((n) => /^berth-(?:[0-9a-f]{8}-)?ws-/.test(n)) /* berth-<installation tag>-ws-<id> */ : [];
  if (dirs.length) problems.push(`${dirs.length} workload directories left`);
  if (problems.length) throw new Error(`teardown left things behind:\n  ${problems.join('\n  ')}`);
  await sleep(1000);
  const teardown = { wallMs, count: list.length, daemonMem: memoryOf(d.pid)! };
  console.log(`\nteardown check: 0 workspaces, 0 ports allocated, 0 ports listening in ${PORT_START}-${PORT_END}, 0 supervisors, 0 processes in ${supervisorSessions.size} supervisor sessions, 0 workload dirs`);

  report(base, checkpoints, teardown);
} finally {
  db?.close();
  await daemon?.stop();
  daemon = null;
  for (const note of await cleanup()) console.error(`cleanup: ${note}`);
}
