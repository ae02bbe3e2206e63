import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../config/load.js';
import { JobQueue } from '../jobs/queue.js';
import { silentLogger } from '../log.js';
import type { PreviewJobs } from '../previews/webhook.js';
import type { Runtime, WorkloadSummary } from '../runtime/runtime.js';
import { openDb } from '../store/db.js';
import { PreviewsRepo } from '../store/previews-repo.js';
import { PreviewService } from './previews.js';

/** A runtime that only lists and removes (what the reaper uses). */
function stubRuntime(workloads: WorkloadSummary[]): Runtime & { removed: string[] } {
  const removed: string[] = [];
  return {
    removed,
    name: 'process',
    capabilities: { isolation: false, images: false, build: false, volumes: false, resources: false, portMapping: false },
    probe: async () => {},
    create: async () => '',
    start: async () => {},
    stop: async () => {},
    remove: async (ref) => void removed.push(ref),
    inspect: async () => ({ state: 'missing', exitCode: null, upstreamHost: '127.0.0.1', startedAt: null, finishedAt: null }),
    logs: async () => {
      throw new Error('unused');
    },
    exec: async () => {
      throw new Error('unused');
    },
    list: async (labels) => workloads.filter((w) => Object.entries(labels).every(([k, v]) => w.labels[k] === v)),
  };
}

describe('preview reaper', () => {
  it('queues teardown of previews past their ttl and removes labelled workloads no record knows', async () => {
    const db = openDb(':memory:');
    const repo = new PreviewsRepo(db);
    const queue = new JobQueue<PreviewJobs>(db, { log: silentLogger() });
    const fresh = repo.insert({ id: 'freshaaaaaaa', repo: 'o/r', pr: 1, sha: 'a'.repeat(40), ref: 'x', cloneUrl: 'https://example.com/o/r.git', private: false });
    repo.update(fresh.id, { state: 'running', generation: 1, ttlMs: 3_600_000 });
    const stale = repo.insert({ id: 'staleaaaaaaa', repo: 'o/r', pr: 2, sha: 'b'.repeat(40), ref: 'y', cloneUrl: 'https://example.com/o/r.git', private: false });
    repo.update(stale.id, { state: 'running', generation: 1, ttlMs: 1000 });
    const runtime = stubRuntime([
      { ref: 'r1', name: 'berth-pv-freshaaaaaaa-g1-web', labels: { 'berth.kind': 'preview', 'berth.id': 'freshaaaaaaa' }, state: 'running' },
      { ref: 'r2', name: 'berth-pv-goneaaaaaaaa-g3-web', labels: { 'berth.kind': 'preview', 'berth.id': 'goneaaaaaaaa' }, state: 'running' },
      { ref: 'r3', name: 'berth-ws-x', labels: { 'berth.kind': 'workspace', 'berth.id': 'goneaaaaaaaa' }, state: 'running' },
    ]);
    const config = loadConfig({}, { dataDir: '/tmp/berth-reap-test', previewDomain: 'preview.test' });
    const service = new PreviewService({ config, log: silentLogger(), repo, runtime, queue, postgres: null, github: null });

    const report = await service.reap(Date.now() + 10_000);
    assert.deepEqual(report, { expired: ['staleaaaaaaa'], orphans: ['berth-pv-goneaaaaaaaa-g3-web'] });
    assert.deepEqual(runtime.removed, ['r2']);
    const jobs = queue.list();
    assert.equal(jobs.length, 1);
    assert.equal(jobs[0]!.type, 'preview-down');
    assert.equal(jobs[0]!.key, 'o/r#2');
    db.close();
  });
});
