/**
 * Create-to-running benchmark: for each runtime, N sequential workspace creates through the real
 * API, with a data volume (the default) and without one (`dataPath: null`), alternating in one run
 * so both see the same machine load; measures (a) POST /api/workspaces → 201 running and (b) POST
 * → first 200 from the hosted app through the edge. Delete (with the volume) is not timed.
 * Prints medians side by side. Run: `npx tsx bench/create-to-running.ts [N]`
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

type Timings = { created: number[]; serving: number[] };

/** One create → running → first 200 → delete; returns the two timings. */
async function once(t: TestDaemon, body: unknown): Promise<[number, number]> {
  const t0 = performance.now();
  const res = await t.api('POST', '/api/workspaces', body);
  if (res.status !== 201) throw new Error(`create failed: ${JSON.stringify(res.body)}`);
  const created = performance.now() - t0;
  const url = res.body.ports[0].url as string;
  for (;;) {
    const r = await fetch(url).catch(() => null);
    if (r?.status === 200) break;
    if (performance.now() - t0 > 30_000) throw new Error('hosted app never answered');
    await new Promise((r2) => setTimeout(r2, 10));
  }
  const serving = performance.now() - t0;
  const del = await t.api('DELETE', `/api/workspaces/${res.body.id}`);
  if (del.status !== 204) throw new Error(`delete failed: ${JSON.stringify(del.body)}`);
  return [created, serving];
}

/** N rounds; each round creates one workspace with a data volume and one without, in alternating order. */
async function measure(t: TestDaemon, body: (i: number, volume: boolean) => Record<string, unknown>): Promise<{ volume: Timings; none: Timings }> {
  const out = { volume: { created: [] as number[], serving: [] as number[] }, none: { created: [] as number[], serving: [] as number[] } };
  for (let i = 0; i < N; i++) {
    for (const volume of i % 2 === 0 ? [true, false] : [false, true]) {
      const [created, serving] = await once(t, { ...body(i, volume), ...(volume ? {} : { dataPath: null }) });
      const row = volume ? out.volume : out.none;
      row.created.push(created);
      row.serving.push(serving);
    }
  }
  return out;
}

const rows: [string, Timings][] = [];

const proc = await startTestDaemon({ runtime: 'process' });
try {
  const server = `require('http').createServer((q,s)=>s.end('ok')).listen(Number(process.env.PORT),'127.0.0.1')`;
  const r = await measure(proc, (i, v) => ({ name: `bench-p${i}${v ? 'v' : ''}`, visibility: 'public', command: [process.execPath, '-e', server] }));
  rows.push(['process', r.none], ['process+volume', r.volume]);
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
    const r = await measure(pod, (i, v) => ({ name: `bench-c${i}${v ? 'v' : ''}`, visibility: 'public', image, command: ['httpd', '-f', '-p', '8000', '-h', '/www'] }));
    rows.push(['podman', r.none], ['podman+volume', r.volume]);
  } finally {
    await pod.stop();
  }
}

console.log(`\ncreate-to-running, ${N} sequential creates per row, with and without a data volume alternating (ms)`);
console.log('runtime         | POST→running p50 | p90    | POST→first 200 p50 | p90');
for (const [name, r] of rows) {
  console.log(
    `${name.padEnd(15)} | ${percentile(r.created, 50).toFixed(0).padStart(16)} | ${percentile(r.created, 90).toFixed(0).padStart(6)} | ${percentile(r.serving, 50).toFixed(0).padStart(18)} | ${percentile(r.serving, 90).toFixed(0).padStart(5)}`,
  );
}
const row = (name: string): Timings | undefined => rows.find(([n]) => n === name)?.[1];
const podVol = row('podman+volume');
const pod = row('podman');
if (podVol && pod) {
  const p50 = percentile(podVol.created, 50);
  console.log(`podman: the data volume adds ${(p50 - percentile(pod.created, 50)).toFixed(0)} ms to POST→running p50 (${p50.toFixed(0)} ms; budget 1000 ms: ${p50 <= 1000 ? 'within' : 'OVER'})`);
  console.log(`ratio podman/process (POST→first 200, p50, no volume): ${(percentile(pod.serving, 50) / percentile(row('process')!.serving, 50)).toFixed(1)}×`);
}
