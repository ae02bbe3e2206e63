/**
 * The usage sampler over the real process runtime (host processes, /proc): rates from two samples,
 * the cache, one engine call shared by concurrent askers, stale answers refreshed behind them.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { silentLogger } from '../log.js';
import { createProcessRuntime } from '../runtime/process/process-runtime.js';
import type { Runtime, WorkloadStats } from '../runtime/runtime.js';
import type { Workspace } from '../domain/workspace.js';
import { cpuRate, WorkspaceUsageSampler } from './workspace-usage.js';

const sample = (at: number, cpuSeconds: number | null, cpuPercent: number | null = null): WorkloadStats => ({
  cpuSeconds, cpuPercent, memoryBytes: 0, memoryLimitBytes: null, pids: 1, diskBytes: null, at,
});

describe('cpuRate', () => {
  it('is the CPU seconds used per wall second, in percent', () => {
    assert.equal(cpuRate(sample(0, 10), sample(2000, 11)), 50);
    assert.equal(cpuRate(sample(0, 10), sample(1000, 12)), 200);
  });
  it('takes the engine\'s own percent when it gives one (docker)', () => {
    assert.equal(cpuRate(undefined, sample(0, null, 31.5)), 31.5);
  });
  it('is unknown without an earlier sample, across a restart, or over a too-short gap', () => {
    assert.equal(cpuRate(undefined, sample(0, 5)), null);
    assert.equal(cpuRate(sample(0, 50), sample(1000, 1)), null);
    assert.equal(cpuRate(sample(0, 1), sample(100, 2)), null);
  });
});

describe('usage sampler on the process runtime', () => {
  let dataDir: string;
  let runtime: Runtime;
  let ref: string;
  const ws = (): Workspace => ({ id: 'w1', state: 'running', runtimeRef: ref }) as Workspace;
  before(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'berth-usage-'));
    runtime = createProcessRuntime({ log: silentLogger(), dataDir }, {});
    ref = await runtime.create({ name: 'usage-burner', image: '', command: ['sh', '-c', 'while :; do :; done'], env: {}, ports: [], labels: { 'berth.kind': 'workspace', 'berth.id': 'w1' } });
    await runtime.start(ref);
  });
  after(async () => {
    await runtime.remove(ref);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('measures twice the first time, so the first answer has a CPU rate; concurrent askers share it', async () => {
    const sampler = new WorkspaceUsageSampler(runtime, { firstGapMs: 500 });
    const answers = await Promise.all([sampler.usageOf(ws()), sampler.usageOf(ws()), sampler.usage([ws()])]);
    assert.equal(sampler.calls, 2);
    const u = answers[0]!;
    assert.ok(u.cpuPercent !== null && u.cpuPercent > 10, JSON.stringify(u));
    assert.ok(u.pids >= 1 && u.memoryBytes > 0);
    assert.equal(typeof u.diskBytes, 'number', 'the first sample measures disk');
    assert.deepEqual(answers[1], u);
    assert.deepEqual(answers[2].get('w1'), u);
  });

  it('answers from the cache while fresh, then at once from a stale sample while a new one is taken', async () => {
    const sampler = new WorkspaceUsageSampler(runtime, { firstGapMs: 300, maxAgeMs: 400 });
    const first = await sampler.usageOf(ws());
    assert.equal(sampler.calls, 2);
    assert.deepEqual(await sampler.usageOf(ws()), first);
    assert.equal(sampler.calls, 2, 'fresh: no engine call');
    await new Promise((r) => setTimeout(r, 450));
    const stale = await sampler.usageOf(ws());
    assert.equal(stale?.sampledAt, first?.sampledAt, 'the stale sample is answered at once');
    assert.equal(sampler.calls, 3, 'and a new one is on its way');
    await new Promise((r) => setTimeout(r, 300));
    const next = await sampler.usageOf(ws());
    assert.notEqual(next?.sampledAt, first?.sampledAt);
    assert.ok(next!.cpuPercent! > 10, JSON.stringify(next));
  });

  it('has nothing for workspaces that are not running, or whose workload is gone', async () => {
    const sampler = new WorkspaceUsageSampler(runtime);
    const stopped = { id: 'w2', state: 'stopped', runtimeRef: ref } as Workspace;
    const gone = { id: 'w3', state: 'running', runtimeRef: 'no-such-workload' } as Workspace;
    const usage = await sampler.usage([stopped, gone]);
    assert.deepEqual([...usage.keys()], []);
  });

  it('is unavailable on a runtime without stats', async () => {
    const sampler = new WorkspaceUsageSampler({});
    assert.equal(sampler.available, false);
    assert.equal((await sampler.usage([ws()])).size, 0);
  });
});
