/**
 * Usage and limits against a real daemon on a real engine (podman or docker): a workspace created
 * with `cpus: 0.5, memory: "64m"` runs a CPU burner; the limits are read back from the cgroup
 * inside the container, the burner shows in `GET /api/workspaces/:id` (and is held near half a
 * CPU: the cap is real), in `?usage=1`, in `/metrics` and in `berth ws top --once`.
 */
import { it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { availableParallelism } from 'node:os';
import { startTestDaemon, type TestDaemon } from './daemon.js';
import { ensureTestImage } from './test-image.js';
import type { ExecResult } from '../../src/runtime/runtime.js';

const root = path.resolve(import.meta.dirname, '../..');
const BURNER = ['sh', '-c', 'while :; do :; done'];

/** `berth <args>` as a child process against the daemon, as a user runs it. */
export function runCli(t: TestDaemon, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BERTH_')));
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'src/cli/index.ts'), ...args], {
    cwd: root,
    env: { ...env, BERTH_URL: t.daemon.url, BERTH_DATA_DIR: t.dataDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d));
  child.stderr.on('data', (d: Buffer) => (stderr += d));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

/** Reads the memory limit (bytes) and CPU quota (CPUs) from the cgroup files inside the workload (v2, else v1). */
async function cgroupLimits(t: TestDaemon, id: string): Promise<{ memory: string; cpus: number }> {
  const sh = async (script: string): Promise<string> => {
    const r = (await t.daemon.workspaces.exec(id, ['sh', '-c', script], {})) as ExecResult;
    assert.equal(r.exitCode, 0, `${script}: ${r.stderr}`);
    return r.stdout.trim();
  };
  const v2 = await sh('test -f /sys/fs/cgroup/memory.max && echo yes || echo no');
  if (v2 === 'yes') {
    const [quota, period] = (await sh('cat /sys/fs/cgroup/cpu.max')).split(/\s+/);
    return { memory: await sh('cat /sys/fs/cgroup/memory.max'), cpus: Number(quota) / Number(period) };
  }
  const quota = Number(await sh('cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us'));
  const period = Number(await sh('cat /sys/fs/cgroup/cpu/cpu.cfs_period_us'));
  return { memory: await sh('cat /sys/fs/cgroup/memory/memory.limit_in_bytes'), cpus: quota / period };
}

/** Polls `GET /api/workspaces/:id` until `pred(usage)` or `ms` pass; returns the last usage. */
async function usageUntil(t: TestDaemon, id: string, pred: (u: any) => boolean, ms = 20_000): Promise<any> {
  const deadline = Date.now() + ms;
  let last: any = null;
  while (Date.now() < deadline) {
    const res = await t.api('GET', `/api/workspaces/${id}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    last = res.body.usage;
    if (last && pred(last)) return last;
    await new Promise((r) => setTimeout(r, 1000));
  }
  return last;
}

/** Registers the suite's tests for `runtime` (inside a describe). */
export function usageSuite(runtime: 'podman' | 'docker'): void {
  let t: TestDaemon;
  let image: string;
  let burnerId: string;
  before(async () => {
    t = await startTestDaemon({ runtime });
    image = await ensureTestImage(runtime, runtime === 'podman' ? { CONTAINERS_CONF: path.join(t.dataDir, 'containers.conf') } : {});
  });
  after(async () => {
    await t?.stop();
  });

  it('creates a workspace with cpus 0.5 and memory "64m"; the container\'s cgroup carries both', { timeout: 120_000 }, async () => {
    const res = await t.api('POST', '/api/workspaces', { name: 'burner', image, command: BURNER, cpus: 0.5, memory: '64m' });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.cpus, 0.5);
    assert.equal(res.body.memoryMb, 64);
    burnerId = res.body.id;
    const limits = await cgroupLimits(t, burnerId);
    assert.equal(limits.memory, String(64 * 1024 * 1024));
    assert.equal(limits.cpus, 0.5);
  });

  it('shows the burner busy but held near half a CPU, with memory and its limit, in GET /api/workspaces/:id', { timeout: 60_000 }, async () => {
    const u = await usageUntil(t, burnerId, (x) => x.cpuPercent !== null && x.cpuPercent > 10);
    assert.ok(u, 'usage is present for a running workspace');
    assert.ok(u.cpuPercent > 10, `CPU of a busy loop should show: ${JSON.stringify(u)}`);
    // The cap is real: a busy loop on an idle core would show ~100 %.
    assert.ok(u.cpuPercent <= 65, `CPU should be capped near 50 %: ${JSON.stringify(u)}`);
    assert.ok(u.memoryBytes > 0, JSON.stringify(u));
    assert.equal(u.memoryLimitBytes, 64 * 1024 * 1024);
    assert.ok(u.pids >= 1);
    assert.equal(typeof u.diskBytes, 'number');
    assert.ok(!Number.isNaN(Date.parse(u.sampledAt)));
  });

  it('answers concurrent polls from one engine call (the cache shields the engine)', { timeout: 30_000 }, async () => {
    await new Promise((r) => setTimeout(r, 3100)); // let the cached sample go stale
    const before = t.daemon.workspaces.usage.calls;
    const answers = await Promise.all(Array.from({ length: 8 }, () => t.api('GET', `/api/workspaces/${burnerId}`)));
    for (const a of answers) assert.ok(a.body.usage, JSON.stringify(a.body));
    assert.equal(t.daemon.workspaces.usage.calls - before, 1, 'eight polls, one stats call');
    // Polls answered before the new sample landed get the stale one, later ones the new one: at
    // most two samples among eight answers. (Each GET first asks the engine for the workload's
    // state, which on a loaded host spreads the eight over a second or two.)
    const samples = new Set(answers.map((a) => a.body.usage.sampledAt));
    assert.ok(samples.size <= 2, `at most the stale and the new sample: ${[...samples].join(', ')}`);
  });

  it('lists usage for every running workspace with ?usage=1, null for a stopped one', { timeout: 60_000 }, async () => {
    const idle = await t.api('POST', '/api/workspaces', { name: 'idle', image, command: ['sleep', '3600'] });
    assert.equal(idle.status, 201, JSON.stringify(idle.body));
    assert.equal(idle.body.cpus, null);
    assert.equal((await t.api('POST', `/api/workspaces/${idle.body.id}/stop`)).status, 200);
    const res = await t.api('GET', '/api/workspaces?usage=1');
    const byName = new Map(res.body.workspaces.map((w: any) => [w.name, w]));
    assert.ok((byName.get('burner') as any).usage.memoryBytes > 0);
    assert.equal((byName.get('idle') as any).usage, null);
    assert.equal((await t.api('GET', `/api/workspaces/${idle.body.id}`)).body.usage, null);
    // Without ?usage=1 the list does not measure.
    assert.equal('usage' in (await t.api('GET', '/api/workspaces')).body.workspaces[0], false);
  });

  it('exports per-workspace gauges on /metrics, labelled by id and name only', { timeout: 30_000 }, async () => {
    const res = await t.api('GET', '/metrics');
    assert.equal(res.status, 200);
    const text = String(res.body);
    const labels = `{name="burner",workspace="${burnerId}"}`;
    const cpu = new RegExp(`^berth_workspace_cpu_percent${labels.replace(/[{}]/g, '\\$&')} ([\\d.]+)$`, 'm').exec(text);
    assert.ok(cpu, text.split('\n').filter((l) => l.startsWith('berth_workspace')).join('\n'));
    assert.match(text, new RegExp(`^berth_workspace_memory_limit_bytes\\{name="burner",workspace="${burnerId}"\\} ${64 * 1024 * 1024}$`, 'm'));
    assert.match(text, /^berth_workspace_usage_omitted 0$/m);
    // The stopped workspace has no series.
    assert.doesNotMatch(text, /name="idle"/);
  });

  it('`berth ws top --once` prints the running workspace with its CPU and memory', { timeout: 60_000 }, async () => {
    const r = await runCli(t, ['ws', 'top', '--once']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^NAME\s+ID\s+CPU\s+CPUS\s+MEM\s+LIMIT\s+MEM%\s+PIDS\s+DISK/m);
    const line = r.stdout.split('\n').find((l) => l.startsWith('burner '));
    assert.ok(line, r.stdout);
    assert.match(line, /\s\d+\.\d%\s+0\.5\s+[\d.]+ (B|KiB|MiB)\s+64 MiB\s/);
    assert.doesNotMatch(r.stdout, /^idle /m);
    const json = await runCli(t, ['ws', 'top', '--json']);
    assert.equal(JSON.parse(json.stdout).workspaces[0].name, 'burner');
  });

  it('refuses limits that make no sense or exceed the host, with a code and a hint', { timeout: 30_000 }, async () => {
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ cpus: 0 }, 'E_BAD_REQUEST', /at least 0\.01/],
      [{ cpus: -1 }, 'E_BAD_REQUEST', /at least 0\.01/],
      [{ cpus: '1' }, 'E_BAD_REQUEST', /number/],
      [{ memory: '0' }, 'E_BAD_REQUEST', /at least 6m/],
      [{ memory: '-5m' }, 'E_BAD_REQUEST', /not a size/],
      // An option smuggled into the value never reaches the engine's argv.
      [{ memory: '512m --privileged' }, 'E_BAD_REQUEST', /not a size/],
      [{ memory: '512m', memoryMb: 512 }, 'E_BAD_REQUEST', /not both/],
      [{ memoryMb: 1.5 }, 'E_BAD_REQUEST', /whole number/],
      [{ cpus: availableParallelism() + 1 }, 'E_LIMITS_EXCEED_HOST', /more than the \d+ CPUs/],
      [{ memory: '64t' }, 'E_LIMITS_EXCEED_HOST', /more than the/],
    ];
    for (const [limits, code, message] of cases) {
      const res = await t.api('POST', '/api/workspaces', { name: 'nope', image, command: ['true'], ...limits });
      assert.equal(res.status, 400, JSON.stringify(limits));
      assert.equal(res.body.error.code, code, JSON.stringify([limits, res.body]));
      assert.match(res.body.error.message, message, JSON.stringify([limits, res.body]));
      assert.ok(res.body.error.hint, `a hint for ${JSON.stringify(limits)}`);
    }
    assert.equal((await t.api('GET', '/api/workspaces/nope')).status, 404, 'nothing was created');
  });
}
