/**
 * Create-to-running benchmark: for each runtime, N sequential workspace creates through the real
 * API; measures (a) POST /api/workspaces → 201 running and (b) POST → first 200 from the hosted
 * app through the edge. Prints medians side by side. Run: `npx tsx bench/create-to-running.ts [N]`
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { startTestDaemon, type TestDaemon } from '../test/support/daemon.js';
import { ensureTestImage } from '../test/support/test-image.js';

const N = Number(process.argv[2] ?? 10);

const percentile = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

async function measure(t: TestDaemon, body: (i: number) => unknown): Promise<{ created: number[]; serving: number[] }> {
  const created: number[] = [];
  const serving: number[] = [];
  for (let i = 0; i < N; i++) {
    const t0 = performance.now();
    const res = await t.api('POST', '/api/workspaces', body(i));
    if (res.status !== 201) throw new Error(`create failed: ${JSON.stringify(res.body)}`);
    created.push(performance.now() - t0);
    const url = res.body.ports[0].url as string;
    for (;;) {
      const r = await fetch(url).catch(() => null);
      if (r?.status === 200) break;
      if (performance.now() - t0 > 30_000) throw new Error('hosted app never answered');
      await new Promise((r2) => setTimeout(r2, 10));
    }
    serving.push(performance.now() - t0);
    await t.api('DELETE', `/api/workspaces/${res.body.id}`);
  }
  return { created, serving };
}

const rows: [string, { created: number[]; serving: number[] }][] = [];

const proc = await startTestDaemon({ runtime: 'process' });
try {
  const server = `require('http').createServer((q,s)=>s.end('ok')).listen(Number(process.env.PORT),'127.0.0.1')`;
  rows.push(['process', await measure(proc, (i) => ({ name: `bench-p${i}`, visibility: 'public', command: [process.execPath, '-e', server] }))]);
} finally {
  await proc.stop();
}

let podmanOk = true;
try {
  execFileSync('podman', ['--version']);
} catch {
  podmanOk = false;
  console.log('podman not installed: skipping the podman row (scripts/install-deps installs it)');
}
if (podmanOk) {
  const pod = await startTestDaemon({ runtime: 'podman' });
  try {
    const image = await ensureTestImage('podman', { CONTAINERS_CONF: path.join(pod.dataDir, 'containers.conf') });
    rows.push(['podman', await measure(pod, (i) => ({ name: `bench-c${i}`, visibility: 'public', image, command: ['httpd', '-f', '-p', '8000', '-h', '/www'] }))]);
  } finally {
    await pod.stop();
  }
}

console.log(`\ncreate-to-running, ${N} sequential creates per runtime (ms)`);
console.log('runtime  | POST→running p50 | p90    | POST→first 200 p50 | p90');
for (const [name, r] of rows) {
  console.log(
    `${name.padEnd(8)} | ${percentile(r.created, 50).toFixed(0).padStart(16)} | ${percentile(r.created, 90).toFixed(0).padStart(6)} | ${percentile(r.serving, 50).toFixed(0).padStart(18)} | ${percentile(r.serving, 90).toFixed(0).padStart(5)}`,
  );
}
if (rows.length === 2) {
  console.log(`ratio podman/process (POST→first 200, p50): ${(percentile(rows[1]![1].serving, 50) / percentile(rows[0]![1].serving, 50)).toFixed(1)}×`);
}
