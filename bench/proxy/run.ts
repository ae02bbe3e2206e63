/**
 * Proxy benchmark: the same ~100-byte upstream reached directly, through nginx (Debian's
 * nginx-light, upstream keepalive) and through the Berth edge, each in its own process, measured
 * in one run with wrk (requests/s, p50, p99) plus a WebSocket echo round trip (median of N
 * sequential echoes). Loopback only.
 *
 *   npx tsx bench/proxy/run.ts [--duration 10] [--connections 50] [--echoes 2000] [--rounds 3] [--workers N]
 *
 * Targets are measured in interleaved rounds (direct, nginx, Berth, direct, …) and each figure is
 * the median over rounds, so a burst of unrelated load on a shared machine hits all three alike.
 * `--workers N` runs the Berth edge with node:cluster (N processes sharing one listener).
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { freePort, nginxPreamble, startJsonChild as startChild, waitForPort } from '../children.js';
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { once } from 'node:events';
import WebSocket from 'ws';

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ''), process.argv[i + 1] ?? '');
const DURATION = Number(args.get('duration') ?? 10);
const CONNECTIONS = Number(args.get('connections') ?? 50);
const ECHOES = Number(args.get('echoes') ?? 2000);
const WORKERS = Number(args.get('workers') ?? 1);
const ROUNDS = Number(args.get('rounds') ?? 3);
const NGINX = '/usr/sbin/nginx';
const WRK = '/usr/bin/wrk';

const here = path.dirname(new URL(import.meta.url).pathname);
const root = path.resolve(here, '../..');
const children: ChildProcess[] = [];
const startJsonChild = (cmd: string, argv: string[]) => startChild(children, cmd, argv, { cwd: root });

function nginxConf(dir: string, listen: number, upstream: number): string {
  return `${nginxPreamble(dir, 'auto')}
  map $http_upgrade $connection_upgrade { default upgrade; '' ''; }
  upstream bench { server 127.0.0.1:${upstream}; keepalive 64; }
  server {
    listen 127.0.0.1:${listen};
    location /hosted/x/${upstream}/ {
      proxy_pass http://bench/;
      proxy_http_version 1.1;
      # "" for plain requests keeps upstream connections alive; "upgrade" for WebSockets.
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header Upgrade $http_upgrade;
      # The same forwarding headers the Berth edge adds, so both do the same work.
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Host $http_host;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Prefix /hosted/x/${upstream};
    }
  }
}
`;
}

interface WrkResult {
  requests: number;
  rps: number;
  p50: number;
  p99: number;
  errors: string;
}

/** Latency in ms from wrk's `1.23ms` / `456.00us` / `1.02s`. */
function toMs(v: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(v.trim());
  if (!m) return NaN;
  const n = Number(m[1]);
  return m[2] === 'us' ? n / 1000 : m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : n * 60_000;
}

async function wrk(url: string, seconds: number): Promise<WrkResult> {
  const { stdout } = await promisify(execFile)(WRK, ['-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, '--latency', url]);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1]);
  const requests = Number(/(\d+) requests in/.exec(stdout)?.[1]);
  const p50 = toMs(/^\s+50%\s+(\S+)/m.exec(stdout)?.[1] ?? '');
  const p99 = toMs(/^\s+99%\s+(\S+)/m.exec(stdout)?.[1] ?? '');
  const errors = [/Socket errors:.*/.exec(stdout)?.[0], /Non-2xx or 3xx responses: \d+/.exec(stdout)?.[0]].filter(Boolean).join('; ');
  return { requests, rps, p50, p99, errors };
}

/** Median and p99 round trip (µs) of `n` sequential echoes after a warm-up. */
async function wsRtt(url: string, n: number): Promise<{ median: number; p99: number }> {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  await once(ws, 'open');
  const payload = Buffer.alloc(32, 1);
  const times: number[] = [];
  for (let i = 0; i < n + 200; i++) {
    const t0 = process.hrtime.bigint();
    ws.send(payload);
    await once(ws, 'message');
    if (i >= 200) times.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  ws.close();
  times.sort((a, b) => a - b);
  return { median: times[Math.floor(times.length / 2)]!, p99: times[Math.floor(times.length * 0.99)]! };
}

/** A process and its descendants (nginx workers, cluster workers). */
function processTree(pid: number): number[] {
  const out = [pid];
  for (const tid of (() => {
    try {
      return readdirSync(`/proc/${pid}/task`);
    } catch {
      return [];
    }
  })()) {
    let kids = '';
    try {
      kids = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8');
    } catch {}
    for (const k of kids.trim().split(/\s+/).filter(Boolean)) out.push(...processTree(Number(k)));
  }
  return out;
}

/** User and system CPU time (ms) consumed so far by `pid` and its descendants. */
function cpuMs(pid: number): { user: number; sys: number } {
  let user = 0;
  let sys = 0;
  for (const p of processTree(pid)) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      user += Number(fields[11]); // utime (field 14)
      sys += Number(fields[12]); // stime (field 15)
    } catch {}
  }
  return { user: user * 10, sys: sys * 10 }; // USER_HZ is 100 on Linux: 10 ms per tick
}

async function check(url: string): Promise<void> {
  const res = await fetch(url);
  const body = await res.text();
  if (res.status !== 200 || !body.includes('bench-upstream')) throw new Error(`${url} → ${res.status} ${body.slice(0, 80)}`);
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-bench-'));
  mkdirSync(path.join(dir, 'tmp'));
  try {
    const up = await startJsonChild(process.execPath, [path.join(here, 'upstream.mjs')]);
    const U = up.info.port;
    const nginxPort = await freePort();
    writeFileSync(path.join(dir, 'nginx.conf'), nginxConf(dir, nginxPort, U));
    const nginx = spawn(NGINX, ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', path.join(dir, 'error.log')], { stdio: 'inherit' });
    children.push(nginx);
    await waitForPort(nginxPort);
    const edgeArgv = ['--import', 'tsx', path.join(here, 'edge-main.ts'), String(U), '0', String(WORKERS)];
    const edge = await startJsonChild(process.execPath, edgeArgv);

    const targets = [
      // `pid`: whose CPU time is charged to the hop (the upstream itself for direct).
      { name: 'direct', pid: up.child.pid!, http: `http://127.0.0.1:${U}/`, ws: `ws://127.0.0.1:${U}/` },
      { name: 'nginx', pid: nginx.pid!, http: `http://127.0.0.1:${nginxPort}/hosted/x/${U}/`, ws: `ws://127.0.0.1:${nginxPort}/hosted/x/${U}/` },
      { name: 'berth', pid: edge.child.pid!, http: `http://127.0.0.1:${edge.info.port}/hosted/bench/${U}/`, ws: `ws://127.0.0.1:${edge.info.port}/hosted/bench/${U}/` },
    ];
    for (const t of targets) await check(t.http);

    console.log(`machine: ${cpus().length} cores, ${process.version}; wrk -t1 -c${CONNECTIONS} -d${DURATION}s --latency; ${ECHOES} sequential WS echoes; ${ROUNDS} interleaved rounds; berth workers: ${WORKERS}`);
    type Row = WrkResult & { wsMedian: number; wsP99: number; cpuUs: number; sysUs: number };
    const rounds: Record<string, Row[]> = {};
    for (const t of targets) await wrk(t.http, 2); // warm-up: JIT, keep-alive pools
    for (let round = 1; round <= ROUNDS; round++) {
      for (const t of targets) {
        const cpu0 = cpuMs(t.pid);
        const r = await wrk(t.http, DURATION);
        const cpu1 = cpuMs(t.pid);
        const cpuUs = ((cpu1.user + cpu1.sys - cpu0.user - cpu0.sys) * 1000) / r.requests;
        const sysUs = ((cpu1.sys - cpu0.sys) * 1000) / r.requests;
        const ws = await wsRtt(t.ws, ECHOES);
        (rounds[t.name] ??= []).push({ ...r, wsMedian: ws.median, wsP99: ws.p99, cpuUs, sysUs });
        console.log(
          `  round ${round} ${t.name.padEnd(6)} ${r.rps.toFixed(0).padStart(7)} req/s  p50 ${r.p50.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms  ${cpuUs.toFixed(1)} µs CPU/req (${sysUs.toFixed(1)} kernel)  WS ${ws.median.toFixed(0)} µs`,
        );
      }
    }
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const results: Record<string, Row> = {};
    for (const [name, rs] of Object.entries(rounds)) {
      results[name] = {
        requests: median(rs.map((r) => r.requests)),
        cpuUs: median(rs.map((r) => r.cpuUs)),
        sysUs: median(rs.map((r) => r.sysUs)),
        rps: median(rs.map((r) => r.rps)),
        p50: median(rs.map((r) => r.p50)),
        p99: median(rs.map((r) => r.p99)),
        wsMedian: median(rs.map((r) => r.wsMedian)),
        wsP99: median(rs.map((r) => r.wsP99)),
        errors: rs.map((r) => r.errors).filter(Boolean).join('; '),
      };
    }

    const pad = (s: string, n: number) => s.padStart(n);
    console.log(`\nmedians over ${ROUNDS} rounds`);
    console.log(`${'target'.padEnd(8)}${pad('req/s', 11)}${pad('p50 ms', 9)}${pad('p99 ms', 9)}${pad('CPU µs/req', 12)}${pad('WS RTT µs', 11)}${pad('WS p99 µs', 11)}  errors`);
    for (const t of targets) {
      const r = results[t.name]!;
      console.log(`${t.name.padEnd(8)}${pad(r.rps.toFixed(0), 11)}${pad(r.p50.toFixed(2), 9)}${pad(r.p99.toFixed(2), 9)}${pad(r.cpuUs.toFixed(1), 12)}${pad(r.wsMedian.toFixed(0), 11)}${pad(r.wsP99.toFixed(0), 11)}  ${r.errors || '-'}`);
    }
    const b = results.berth!;
    const n = results.nginx!;
    const d = results.direct!;
    console.log(`\nBerth/nginx  req/s ${(b.rps / n.rps).toFixed(2)}×   p99 ${(b.p99 / n.p99).toFixed(2)}×   WS RTT ${(b.wsMedian / n.wsMedian).toFixed(2)}×`);
    console.log(
      `CPU per request of the hop: Berth ${b.cpuUs.toFixed(1)} µs (kernel ${b.sysUs.toFixed(1)}) vs nginx ${n.cpuUs.toFixed(1)} µs (kernel ${n.sysUs.toFixed(1)}); direct = the upstream's own ${d.cpuUs.toFixed(1)} µs`,
    );
    console.log(`Berth/direct req/s ${(b.rps / d.rps).toFixed(2)}×   p99 ${(b.p99 / d.p99).toFixed(2)}×   WS RTT ${(b.wsMedian / d.wsMedian).toFixed(2)}×`);
    console.log(`target Berth ≥ 0.6× nginx req/s: ${b.rps / n.rps >= 0.6 ? 'met' : 'NOT met'}`);
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  process.exit(1);
});
