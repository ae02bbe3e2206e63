/**
 * Route-update latency: how long after a workload is actually reachable does the edge route to
 * it, and how long after DELETE does the edge stop routing to it.
 *
 *   npx tsx bench/route-update.ts [--n 20] [--runtime process|podman|both]
 *
 * The daemon runs in its own process (test/support/daemon-process.ts), so the bench's pollers do
 * not share its event loop. For each of N sequential runs per runtime:
 *
 * - POST /api/workspaces (a busybox httpd); while it is in flight, GET /api/workspaces finds the
 *   new row (inserted with its ports before the workload is made) for its id and host port;
 * - then two pollers, each starting an attempt (a GET on a fresh connection) every ~1 ms with at
 *   most 256 in flight (so an attempt that hangs does not hold up later ones): the workload's
 *   published port directly (127.0.0.1:hostPort) and its hosted URL through the edge
 *   (/hosted/{id}/{port}/). Times are when the earliest attempt that got a 200 was sent, counted
 *   from the POST; route-update latency = edge − direct;
 * - DELETE, with the same two pollers: until the direct port no longer answers and until the
 *   edge answers 404/503 for the URL (502s in between mean the edge still routed to a workload
 *   that was already gone; "slowest" is the longest single edge attempt in that phase).
 *
 * Results: one row per run, then median / p90 / max per column.
 */
import { appendFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { podmanConfPath } from '../src/runtime/oci/engines.js';
import { workloadName } from '../src/services/workspaces.js';
import { openDb } from '../src/store/db.js';
import { instanceId } from '../src/store/instance-id.js';
import { ensureTestImage } from '../test/support/test-image.js';
import {
  cleanupOnSignals,
  createCleanup,
  listeningPortsIn,
  median,
  parseArgs,
  percentile,
  printTable,
  probe,
  sleep,
  startBenchDaemon,
  startReaper,
  type BenchDaemon,
} from './support.js';

const args = parseArgs(process.argv.slice(2), ['n', 'runtime']);
const N = Number(args.get('n') ?? 20);
const RUNTIMES = (args.get('runtime') ?? 'process') === 'both' ? ['process', 'podman'] : [args.get('runtime') ?? 'process'];
for (const r of RUNTIMES) if (r !== 'process' && r !== 'podman') throw new Error(`--runtime must be process, podman or both, not ${r}`);
if (!Number.isInteger(N) || N < 1) throw new Error('--n must be a positive integer');

/** Below the ephemeral range (32768+) and the test suites' random ranges (20000+), above Berth's default 9000-9999. */
const PORT_RANGE = { start: 11000, end: 11999 };
const POLL_GAP_MS = 1;
const MAX_IN_FLIGHT = 256;
/** Longer than a SYN retransmission or two, so an attempt that hangs shows how long it hangs. */
const PROBE_TIMEOUT_MS = 5000;
const GIVE_UP_MS = 30_000;

interface Run {
  postMs: number; // POST sent → 201 (running)
  foundMs: number; // POST sent → row seen in GET /api/workspaces
  directMs: number; // POST sent → first 200 directly
  edgeMs: number; // POST sent → first 200 through the edge
  edgeStatuses: Map<number, number>; // what the edge answered before its first 200
  directUpAtFirstPoll: boolean; // the direct port already answered on the first attempt (its time is then an upper bound)
  deleteMs: number; // DELETE sent → 204
  directGoneMs: number; // DELETE sent → first refused connection on the port
  edgeGoneMs: number; // DELETE sent → first 404/503 from the edge
  edgeGoneStatus: number;
  edge502sAfterDelete: number;
  slowestEdgeAfterDelete: PollResult['slowest'];
}

interface PollResult {
  /** ms since t0 when the earliest attempt that satisfied `done` was sent. */
  at: number;
  status: number;
  /** The very first attempt already satisfied `done`. */
  first: boolean;
  /** Answers (status, 0 = no answer) that did not satisfy `done`, with counts. */
  seen: Map<number, number>;
  /** Longest single attempt (ms) and what it got; `hung`: attempts that took ≥ 500 ms. */
  slowest: { ms: number; status: number; error: string | null; hung: number };
}

/**
 * Starts an attempt every ~POLL_GAP_MS, at most MAX_IN_FLIGHT at once, so one slow attempt (a
 * connect that hangs) does not hide the moment the answer changed. Once an attempt satisfies
 * `done`, stops launching, lets the ones in flight finish and reports the earliest-sent success.
 */
function pollUntil(t0: number, host: string, port: number, urlPath: string, done: (status: number, error: string | null) => boolean): Promise<PollResult> {
  return new Promise((resolve, reject) => {
    const seen = new Map<number, number>();
    const slowest = { ms: 0, status: 0, error: null as string | null, hung: 0 };
    let inFlight = 0;
    let launched = 0;
    let stopped = false;
    let best: { at: number; status: number; index: number } | null = null;
    const finishIfIdle = () => {
      if (stopped && inFlight === 0 && best) resolve({ at: best.at, status: best.status, first: best.index === 0, seen, slowest });
    };
    const launch = () => {
      const index = launched++;
      const sent = performance.now();
      inFlight++;
      void probe(host, port, urlPath, PROBE_TIMEOUT_MS).then((r) => {
        inFlight--;
        const ms = performance.now() - sent;
        if (ms > slowest.ms) Object.assign(slowest, { ms, status: r.status, error: r.error });
        if (ms >= 500) slowest.hung++;
        if (done(r.status, r.error)) {
          stopped = true;
          if (!best || sent - t0 < best.at) best = { at: sent - t0, status: r.status, index };
        } else seen.set(r.status, (seen.get(r.status) ?? 0) + 1);
        finishIfIdle();
      });
    };
    const tick = () => {
      if (stopped) return;
      if (performance.now() - t0 > GIVE_UP_MS) {
        stopped = true;
        reject(new Error(`${host}:${port}${urlPath} did not reach the expected state in ${GIVE_UP_MS} ms (seen ${JSON.stringify([...seen])})`));
        return;
      }
      if (inFlight < MAX_IN_FLIGHT) launch();
      setTimeout(tick, POLL_GAP_MS);
    };
    tick();
  });
}

/** `created` holds the ids of workspaces not deleted yet; `onCreated` records each new one (for the reaper). */
async function oneRun(d: BenchDaemon, runtime: string, i: number, body: Record<string, unknown>, created: string[], onCreated: (id: string) => void): Promise<Run> {
  const name = `ru-${runtime.slice(0, 4)}-${i}`;
  const t0 = performance.now();
  let postMs = NaN;
  const post = d.api('POST', '/api/workspaces', { name, visibility: 'public', ...body }).then((r) => {
    postMs = performance.now() - t0;
    return r;
  });
  // The row (with its ports) exists from the start of the create: find it while the POST runs.
  let ws: { id: string; ports: { hostPort: number }[] } | undefined;
  let foundMs = NaN;
  while (!ws) {
    const list = await d.api('GET', '/api/workspaces');
    ws = (list.body.workspaces as { id: string; name: string; ports: { hostPort: number }[] }[]).find((w) => w.name === name);
    if (ws) foundMs = performance.now() - t0;
    else if (Number.isFinite(postMs)) throw new Error(`create of ${name} ended without the row being seen: ${JSON.stringify((await post).body)}`);
    else await sleep(POLL_GAP_MS);
  }
  created.push(ws.id);
  onCreated(ws.id);
  const hostPort = ws.ports[0]!.hostPort;
  const hosted = `/hosted/${ws.id}/${hostPort}/`;
  const [direct, edge, postRes] = await Promise.all([
    pollUntil(t0, '127.0.0.1', hostPort, '/', (s) => s === 200),
    pollUntil(t0, '127.0.0.1', d.port, hosted, (s) => s === 200),
    post,
  ]);
  if (postRes.status !== 201) throw new Error(`create failed: ${JSON.stringify(postRes.body)}`);

  const t1 = performance.now();
  let deleteMs = NaN;
  const del = d.api('DELETE', `/api/workspaces/${ws.id}`).then((r) => {
    deleteMs = performance.now() - t1;
    return r;
  });
  const [directGone, edgeGone, delRes] = await Promise.all([
    pollUntil(t1, '127.0.0.1', hostPort, '/', (s) => s === 0),
    pollUntil(t1, '127.0.0.1', d.port, hosted, (s) => s === 404 || s === 503),
    del,
  ]);
  if (delRes.status !== 204) throw new Error(`delete failed: ${JSON.stringify(delRes.body)}`);
  created.splice(created.indexOf(ws.id), 1);
  return {
    postMs,
    foundMs,
    directMs: direct.at,
    edgeMs: edge.at,
    edgeStatuses: edge.seen,
    directUpAtFirstPoll: direct.first,
    slowestEdgeAfterDelete: edgeGone.slowest,
    deleteMs,
    directGoneMs: directGone.at,
    edgeGoneMs: edgeGone.at,
    edgeGoneStatus: edgeGone.status,
    edge502sAfterDelete: edgeGone.seen.get(502) ?? 0,
  };
}

const f = (ms: number) => (Number.isFinite(ms) ? ms.toFixed(1) : '—');

function report(runtime: string, runs: Run[]): void {
  console.log(`\n### ${runtime}: ${runs.length} sequential create → delete runs (ms; create times from POST sent, delete times from DELETE sent)\n`);
  const header = ['run', 'row seen', 'direct 200', 'edge 200', 'route update (edge−direct)', 'POST→201', 'edge before 200', 'DELETE→204', 'port closed', 'edge 404/503', '502s after DELETE', 'slowest edge answer', 'edge answers ≥ 0.5 s'];
  const rows = runs.map((r, i) => [
    String(i + 1),
    f(r.foundMs),
    f(r.directMs) + (r.directUpAtFirstPoll ? '*' : ''),
    f(r.edgeMs),
    f(r.edgeMs - r.directMs),
    f(r.postMs),
    [...r.edgeStatuses].map(([s, n]) => `${n}×${s || 'err'}`).join(' ') || '—',
    f(r.deleteMs),
    f(r.directGoneMs),
    `${f(r.edgeGoneMs)} (${r.edgeGoneStatus})`,
    String(r.edge502sAfterDelete),
    `${f(r.slowestEdgeAfterDelete.ms)} (${r.slowestEdgeAfterDelete.status || r.slowestEdgeAfterDelete.error})`,
    String(r.slowestEdgeAfterDelete.hung),
  ]);
  const stat = (pick: (r: Run) => number) => {
    const xs = runs.map(pick);
    return [median(xs), percentile(xs, 90), Math.max(...xs)];
  };
  const cols: ((r: Run) => number)[] = [(r) => r.foundMs, (r) => r.directMs, (r) => r.edgeMs, (r) => r.edgeMs - r.directMs, (r) => r.postMs];
  const delCols: ((r: Run) => number)[] = [(r) => r.deleteMs, (r) => r.directGoneMs, (r) => r.edgeGoneMs, (r) => r.edge502sAfterDelete, (r) => r.slowestEdgeAfterDelete.ms, (r) => r.slowestEdgeAfterDelete.hung];
  ['median', 'p90', 'max'].forEach((label, k) => {
    rows.push([
      `**${label}**`,
      ...cols.map((c) => f(stat(c)[k]!)),
      '',
      ...delCols.slice(0, 3).map((c) => f(stat(c)[k]!)),
      String(stat(delCols[3]!)[k]),
      f(stat(delCols[4]!)[k]!),
      String(stat(delCols[5]!)[k]),
    ]);
  });
  printTable(header, rows);
  const flagged = runs.filter((r) => r.directUpAtFirstPoll).length;
  if (flagged) console.log(`* ${flagged} run(s): the port already answered on the first direct attempt, so "direct 200" is an upper bound there`);
}

const results: [string, Run[]][] = [];
let activeCleanup: (() => Promise<string[]>) | null = null;
cleanupOnSignals(() => activeCleanup?.() ?? Promise.resolve([]));
for (const runtime of RUNTIMES) {
  const root = mkdtempSync(path.join(tmpdir(), `berth-bench-route-${runtime}-`));
  const dataDir = path.join(root, 'data');
  const www = path.join(root, 'www');
  mkdirSync(www, { recursive: true });
  writeFileSync(path.join(www, 'index.html'), 'ok\n');
  const created: string[] = [];
  let daemon: BenchDaemon | null = null;
  let installation: string | undefined;
  const cleanup = createCleanup(root, {
    daemonPid: () => daemon?.pid ?? null,
    podmanNames: () => (runtime === 'podman' ? created.map((id) => workloadName(id, installation)) : []),
    podmanEnv: { ...process.env, CONTAINERS_CONF: podmanConfPath(dataDir) },
  });
  activeCleanup = cleanup;
  const pidFile = path.join(root, 'daemon.pid');
  const namesFile = path.join(root, 'containers');
  startReaper(root, pidFile, runtime === 'podman' ? { namesFile, containersConf: podmanConfPath(dataDir) } : undefined);
  try {
    const busy = listeningPortsIn(PORT_RANGE.start, PORT_RANGE.end);
    if (busy.length) throw new Error(`ports ${busy.join(', ')} of the bench range ${PORT_RANGE.start}-${PORT_RANGE.end} are already in use`);
    daemon = await startBenchDaemon({ dataDir, runtime, portRangeStart: PORT_RANGE.start, portRangeEnd: PORT_RANGE.end, pidFile });
    // Container names carry the daemon's installation id (runtime/installation.ts), kept in its store.
    const store = openDb(path.join(dataDir, 'berth.db'));
    installation = instanceId(store);
    store.close();
    let body: Record<string, unknown>;
    if (runtime === 'podman') {
      const image = await ensureTestImage('podman', { CONTAINERS_CONF: podmanConfPath(dataDir) });
      body = { image, command: ['httpd', '-f', '-p', '8000', '-h', '/www'] };
    } else {
      // busybox httpd takes its port as an argument, so a fixed sh script (no input in it) execs it with $PORT.
      body = { command: ['/bin/busybox', 'sh', '-c', 'exec /bin/busybox httpd -f -p "127.0.0.1:$PORT" -h "$1"', 'httpd', www] };
    }
    // One unmeasured run warms up the daemon (JIT, first supervisor file write, image cache).
    const onCreated = (id: string) => appendFileSync(namesFile, `${workloadName(id, installation)}\n`);
    await oneRun(daemon, runtime, 0, body, created, onCreated);
    const runs: Run[] = [];
    for (let i = 1; i <= N; i++) runs.push(await oneRun(daemon, runtime, i, body, created, onCreated));
    results.push([runtime, runs]);
  } finally {
    // Normal path: every workspace was deleted through the API; anything left is removed by force.
    for (const id of [...created]) await daemon?.api('DELETE', `/api/workspaces/${id}`).catch(() => undefined);
    await daemon?.stop();
    daemon = null;
    for (const note of await cleanup()) console.error(`cleanup: ${note}`);
  }
}

for (const [runtime, runs] of results) report(runtime, runs);

// One summary table, runtimes side by side.
const figures: [string, (r: Run) => number, boolean][] = [
  ['POST → row seen in GET /api/workspaces', (r) => r.foundMs, true],
  ['POST → first 200 directly (127.0.0.1:hostPort)', (r) => r.directMs, true],
  ['POST → first 200 through the edge', (r) => r.edgeMs, true],
  ['**route-update latency (edge − direct)**', (r) => r.edgeMs - r.directMs, true],
  ['POST → 201 (running)', (r) => r.postMs, true],
  ['DELETE → 204', (r) => r.deleteMs, true],
  ['DELETE → port stops answering', (r) => r.directGoneMs, true],
  ['**DELETE → edge 404/503**', (r) => r.edgeGoneMs, true],
  ['edge 502s between the two (count)', (r) => r.edge502sAfterDelete, false],
  ['slowest edge answer after DELETE', (r) => r.slowestEdgeAfterDelete.ms, true],
];
console.log(`\n### Summary (ms unless noted; ${N} runs per runtime)\n`);
printTable(
  ['figure', ...results.flatMap(([rt]) => [`${rt} median`, 'p90', 'max'])],
  figures.map(([label, pick, isMs]) => [
    label,
    ...results.flatMap(([, runs]) => {
      const xs = runs.map(pick);
      return [median(xs), percentile(xs, 90), Math.max(...xs)].map((x) => (isMs ? f(x) : String(x)));
    }),
  ]),
);
