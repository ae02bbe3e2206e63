/**
 * TLS benchmark: the same ~100-byte upstream behind nginx (Debian's nginx-light) and behind the
 * Berth edge, both terminating TLS with the same ECDSA P-256 certificate, one worker each,
 * measured in one run with wrk in interleaved rounds:
 * - requests/s and p99 over kept-alive TLS connections (the cost of proxying plus record crypto);
 * - handshakes/s: every request on a new connection (`Connection: close`), so each is a full
 *   TLS handshake (no session resumption: wrk opens fresh sessions).
 *
 *   node --import tsx bench/tls/run.ts [--duration 8] [--connections 50] [--rounds 3]
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { freePort, nginxPreamble, startJsonChild, waitForPort } from '../children.js';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createTestCa } from '../../test/support/test-certs.js';

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ''), process.argv[i + 1] ?? '');
const DURATION = Number(args.get('duration') ?? 8);
const CONNECTIONS = Number(args.get('connections') ?? 50);
const ROUNDS = Number(args.get('rounds') ?? 3);
const here = path.dirname(new URL(import.meta.url).pathname);
const root = path.resolve(here, '../..');
const children: ChildProcess[] = [];

function nginxConf(dir: string, listen: number, upstream: number, cert: string, key: string): string {
  return `${nginxPreamble(dir, 1)}
  upstream bench { server 127.0.0.1:${upstream}; keepalive 64; }
  server {
    listen 127.0.0.1:${listen} ssl;
    ssl_certificate ${cert};
    ssl_certificate_key ${key};
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache off;
    ssl_session_tickets off;
    location /hosted/bench/${upstream}/ {
      proxy_pass http://bench/;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Host $http_host;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Prefix /hosted/bench/${upstream};
    }
  }
}
`;
}

async function wrk(url: string, seconds: number, close: boolean): Promise<{ rps: number; p99: number; errors: string }> {
  const argv = ['-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, '--latency', ...(close ? ['-H', 'Connection: close'] : []), url];
  const { stdout } = await promisify(execFile)('/usr/bin/wrk', argv);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1]);
  const m = /^\s+99%\s+([\d.]+)(us|ms|s)/m.exec(stdout);
  const p99 = m ? Number(m[1]) * (m[2] === 'us' ? 0.001 : m[2] === 's' ? 1000 : 1) : NaN;
  const errors = [/Socket errors:.*/.exec(stdout)?.[0], /Non-2xx or 3xx responses: \d+/.exec(stdout)?.[0]].filter(Boolean).join('; ');
  return { rps, p99, errors };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-bench-tls-'));
  mkdirSync(path.join(dir, 'tmp'));
  const ca = createTestCa();
  try {
    const leaf = ca.issue('bench', ['localhost']);
    const up = await startJsonChild(children, process.execPath, [path.join(root, 'bench/proxy/upstream.mjs')], { cwd: root });
    const nginxPort = await freePort();
    writeFileSync(path.join(dir, 'nginx.conf'), nginxConf(dir, nginxPort, up.info.port, leaf.certFile, leaf.keyFile));
    const nginx = spawn('/usr/sbin/nginx', ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', path.join(dir, 'error.log')], { stdio: 'inherit' });
    children.push(nginx);
    await waitForPort(nginxPort);
    const edge = await startJsonChild(children, process.execPath, ['--import', 'tsx', path.join(root, 'bench/proxy/edge-main.ts'), String(up.info.port), '0', '1'], {
      cwd: root,
      env: { ...process.env, BERTH_BENCH_TLS_CERT: leaf.certFile, BERTH_BENCH_TLS_KEY: leaf.keyFile },
    });
    const targets = [
      { name: 'nginx', url: `https://localhost:${nginxPort}/hosted/bench/${up.info.port}/` },
      { name: 'berth', url: `https://localhost:${edge.info.port}/hosted/bench/${up.info.port}/` },
    ];
    console.log(`machine: ${cpus().length} cores, ${process.version}; wrk -t1 -c${CONNECTIONS} -d${DURATION}s; ECDSA P-256, TLS 1.3; one worker each; ${ROUNDS} interleaved rounds`);
    for (const t of targets) await wrk(t.url, 2, false); // warm-up
    const rows: Record<string, { rps: number[]; p99: number[]; hs: number[]; errors: string[] }> = {};
    for (let round = 1; round <= ROUNDS; round++) {
      for (const t of targets) {
        const keep = await wrk(t.url, DURATION, false);
        const fresh = await wrk(t.url, DURATION, true);
        const r = (rows[t.name] ??= { rps: [], p99: [], hs: [], errors: [] });
        r.rps.push(keep.rps);
        r.p99.push(keep.p99);
        r.hs.push(fresh.rps);
        if (keep.errors) r.errors.push(`keep-alive: ${keep.errors}`);
        if (fresh.errors) r.errors.push(`handshakes: ${fresh.errors}`);
        console.log(`  round ${round} ${t.name.padEnd(6)} ${keep.rps.toFixed(0).padStart(7)} req/s  p99 ${keep.p99.toFixed(2)} ms  ${fresh.rps.toFixed(0).padStart(6)} handshakes/s`);
      }
    }
    const n = rows.nginx!;
    const b = rows.berth!;
    console.log(`\nmedians over ${ROUNDS} rounds`);
    for (const [name, r] of Object.entries(rows)) {
      console.log(`${name.padEnd(6)} ${median(r.rps).toFixed(0).padStart(7)} req/s  p99 ${median(r.p99).toFixed(2)} ms  ${median(r.hs).toFixed(0).padStart(6)} handshakes/s  ${r.errors.join('; ') || 'no errors'}`);
    }
    console.log(`\nBerth/nginx over TLS: req/s ${(median(b.rps) / median(n.rps)).toFixed(2)}×  p99 ${(median(b.p99) / median(n.p99)).toFixed(2)}×  handshakes/s ${(median(b.hs) / median(n.hs)).toFixed(2)}×`);
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    ca.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  process.exit(1);
});
