import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { runSql, startPostgres, type TestPostgres } from '../../test/support/postgres.js';
import { loadConfig } from '../config/load.js';
import { createPostgresInfra, MANAGED_MARKER } from '../infra/postgres.js';
import { JobQueue } from '../jobs/queue.js';
import { silentLogger } from '../log.js';
import { createPreviewDatabases } from '../previews/preview-databases.js';
import type { PreviewJobs } from '../previews/webhook.js';
import { BerthError } from '../errors.js';
import type { NetworkSummary, Runtime, WorkloadSummary } from '../runtime/runtime.js';
import { openDb } from '../store/db.js';
import { PreviewsRepo } from '../store/previews-repo.js';
import { PreviewService } from './previews.js';
import { ORPHAN_GRACE_MS } from './previews-reaper.js';

/** A runtime that only lists and removes (what the reaper uses). */
function stubRuntime(workloads: WorkloadSummary[]): Runtime & { removed: string[] } {
  const removed: string[] = [];
  return {
    removed,
    name: 'process',
    capabilities: { isolation: false, images: false, build: false, volumes: false, resources: false, portMapping: false, networks: false },
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
    assert.deepEqual(report, { expired: ['staleaaaaaaa'], orphans: ['berth-pv-goneaaaaaaaa-g3-web'], databases: [], directories: [], networks: [] });
    assert.deepEqual(runtime.removed, ['r2']);
    const jobs = queue.list();
    assert.equal(jobs.length, 1);
    assert.equal(jobs[0]!.type, 'preview-down');
    assert.equal(jobs[0]!.key, 'o/r#2');
    db.close();
  });
});

/**
 * `stubRuntime` with networks: `listNetworks` runs `onList` first (to act between the reaper's
 * listing and its reading of the records); `removeNetwork` refuses networks in `inUse`. `calls`
 * records every remove in order.
 */
function networkedRuntime(workloads: WorkloadSummary[], networks: NetworkSummary[], opts: { inUse?: string[]; onList?: () => void } = {}) {
  const base = stubRuntime(workloads);
  const calls: string[] = [];
  const rt: Runtime & { calls: string[] } = {
    ...base,
    calls,
    name: 'podman',
    capabilities: { ...base.capabilities, isolation: true, images: true, portMapping: true, networks: true },
    remove: async (ref) => void calls.push(`workload ${ref}`),
    createNetwork: async () => true,
    connectNetwork: async () => {},
    disconnectNetwork: async () => {},
    listNetworks: async (labels) => {
      const found = networks.filter((n) => Object.entries(labels).every(([k, v]) => n.labels[k] === v));
      opts.onList?.();
      return found;
    },
    removeNetwork: async (name) => {
      if (opts.inUse?.includes(name)) throw new BerthError('E_INVALID_STATE', `network ${name} is being used`);
      calls.push(`network ${name}`);
    },
  };
  return rt;
}

describe('preview reaper and networks', () => {
  it('removes labelled preview networks no record knows, after their workloads; keeps owned, racing and busy ones', async () => {
    const db = openDb(':memory:');
    const repo = new PreviewsRepo(db);
    const queue = new JobQueue<PreviewJobs>(db, { log: silentLogger() });
    const insert = (id: string, pr: number) => repo.insert({ id, repo: 'o/r', pr, sha: 'a'.repeat(40), ref: 'main', cloneUrl: 'https://example.com/o/r.git', private: false });
    insert('liveaaaaaaaa', 1);
    const net = (id: string, kind = 'preview'): NetworkSummary => ({ name: `berth-pv-${id}`, labels: { 'berth.kind': kind, 'berth.id': id } });
    const runtime = networkedRuntime(
      [{ ref: 'w1', name: 'berth-pv-goneaaaaaaaa-g1-web', labels: { 'berth.kind': 'preview', 'berth.id': 'goneaaaaaaaa' }, state: 'running' }],
      [net('liveaaaaaaaa'), net('goneaaaaaaaa'), net('racyaaaaaaaa'), net('busyaaaaaaaa'), net('wsaaaaaaaaaa', 'workspace')],
      // A preview whose record is written after the reaper listed the networks (a build starting):
      // the records are read after the listing, so its network has an owner by then.
      { inUse: ['berth-pv-busyaaaaaaaa'], onList: () => void insert('racyaaaaaaaa', 2) },
    );
    const config = loadConfig({}, { dataDir: '/tmp/berth-reap-net-test', previewDomain: 'preview.test' });
    const service = new PreviewService({ config, log: silentLogger(), repo, runtime, queue, postgres: null, github: null });

    const report = await service.reap();
    assert.deepEqual(report.orphans, ['berth-pv-goneaaaaaaaa-g1-web']);
    assert.deepEqual(report.networks, ['berth-pv-goneaaaaaaaa'], 'busy one kept for a later pass; live, racing and non-preview ones untouched');
    assert.deepEqual(runtime.calls, ['workload w1', 'network berth-pv-goneaaaaaaaa'], 'the workloads on it go first');
    db.close();
  });
});

describe('preview reaper on the shared PostgreSQL (real server)', () => {
  let postgres: TestPostgres;
  let dataDir: string;
  before(async () => {
    postgres = await startPostgres();
    dataDir = mkdtempSync(path.join(tmpdir(), 'berth-reap-pg-'));
  });
  after(async () => {
    await postgres?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const sql = runSql;

  /** Databases and roles named preview_* / app_* on the server, as the superuser sees them. */
  async function names(): Promise<{ databases: string[]; roles: string[] }> {
    const c = new pg.Client({ connectionString: postgres.superuserUrl });
    await c.connect();
    try {
      const databases = (await c.query<{ n: string }>("SELECT datname AS n FROM pg_database WHERE datname ~ '^(preview|app)_' ORDER BY 1")).rows.map((r) => r.n);
      const roles = (await c.query<{ n: string }>("SELECT rolname AS n FROM pg_roles WHERE rolname ~ '^(preview|app)_' ORDER BY 1")).rows.map((r) => r.n);
      return { databases, roles };
    } finally {
      await c.end();
    }
  }

  it('drops preview databases and roles no record owns after the grace period, and nothing else', async () => {
    const db = openDb(':memory:');
    const repo = new PreviewsRepo(db);
    const queue = new JobQueue<PreviewJobs>(db, { log: silentLogger() });
    const infra = createPostgresInfra({ adminUrl: postgres.adminUrl });
    const config = loadConfig({}, { dataDir, previewDomain: 'preview.test', postgresUrl: postgres.adminUrl });
    const service = new PreviewService({
      config,
      log: silentLogger(),
      repo,
      runtime: stubRuntime([]),
      queue,
      postgres: infra,
      databases: createPreviewDatabases({ adminUrl: postgres.adminUrl }),
      github: null,
    });
    const insert = (id: string, pr: number) => repo.insert({ id, repo: 'o/r', pr, sha: 'a'.repeat(40), ref: 'main', cloneUrl: 'https://example.com/o/r.git', private: false });

    // A live preview, provisioned the way a build does it: record first, then the database.
    const live = insert('liveaaaaaaaa', 1);
    repo.update(live.id, { databaseName: 'preview_liveaaaaaaaa', databasePassword: 'x'.repeat(24), state: 'running', generation: 1 });
    await infra.provisionDatabase('preview_liveaaaaaaaa', { password: 'x'.repeat(24) });
    mkdirSync(path.join(dataDir, 'previews', live.id), { recursive: true });
    // A preview being built right now: its row exists, the database too, the row does not name it yet.
    insert('buildaaaaaaa', 2);
    await infra.provisionDatabase('preview_buildaaaaaaa');
    // Orphans by hand, as a crashed or wiped Berth leaves them: database + role, and a role alone.
    const marker = pg.escapeLiteral(MANAGED_MARKER);
    await sql(
      postgres.adminUrl,
      "CREATE ROLE preview_orphanaaaaaa LOGIN PASSWORD 'orphan-password-123'",
      `COMMENT ON ROLE preview_orphanaaaaaa IS ${marker}`,
      'GRANT preview_orphanaaaaaa TO berth_admin',
      'CREATE DATABASE preview_orphanaaaaaa OWNER preview_orphanaaaaaa',
      `COMMENT ON DATABASE preview_orphanaaaaaa IS ${marker}`,
      'CREATE ROLE preview_rolelessaaaa',
      `COMMENT ON ROLE preview_rolelessaaaa IS ${marker}`,
      'GRANT preview_rolelessaaaa TO berth_admin',
    );
    // Never candidates: a preview-looking database Berth did not make, a name that is no preview id, an app's database.
    await sql(postgres.superuserUrl, 'CREATE DATABASE preview_foreignaaaaa', 'CREATE DATABASE preview_notanid', `COMMENT ON DATABASE preview_notanid IS ${marker}`);
    await infra.provisionDatabase('app_wiki');
    mkdirSync(path.join(dataDir, 'previews', 'orphanaaaaaa'), { recursive: true });

    const before = await names();
    assert.deepEqual(before.databases, ['app_wiki', 'preview_buildaaaaaaa', 'preview_foreignaaaaa', 'preview_liveaaaaaaaa', 'preview_notanid', 'preview_orphanaaaaaa']);

    const now = Date.now();
    const first = await service.reap(now);
    assert.deepEqual(first.databases, [], 'nothing is dropped when first seen (grace period)');
    assert.deepEqual(first.directories, []);
    assert.deepEqual(await names(), before);

    const second = await service.reap(now + ORPHAN_GRACE_MS);
    assert.deepEqual(second.databases, ['preview_orphanaaaaaa', 'preview_rolelessaaaa']);
    assert.deepEqual(second.directories, ['orphanaaaaaa']);
    const after = await names();
    assert.deepEqual(after.databases, ['app_wiki', 'preview_buildaaaaaaa', 'preview_foreignaaaaa', 'preview_liveaaaaaaaa', 'preview_notanid']);
    assert.deepEqual(after.roles, ['app_wiki', 'preview_buildaaaaaaa', 'preview_liveaaaaaaaa']);
    assert.ok(existsSync(path.join(dataDir, 'previews', live.id)), "the live preview's directory is kept");
    assert.equal(existsSync(path.join(dataDir, 'previews', 'orphanaaaaaa')), false);

    // The live preview's database still works for its owner.
    const c = new pg.Client({ host: postgres.host, port: postgres.port, user: 'preview_liveaaaaaaaa', password: 'x'.repeat(24), database: 'preview_liveaaaaaaaa' });
    await c.connect();
    assert.equal((await c.query('SELECT 1 AS one')).rows[0].one, 1);
    await c.end();

    // A candidate that finds its owner again starts over: a record for it now means it is kept.
    await sql(postgres.adminUrl, "CREATE ROLE preview_lateaaaaaaaa", `COMMENT ON ROLE preview_lateaaaaaaaa IS ${marker}`, 'GRANT preview_lateaaaaaaaa TO berth_admin');
    await service.reap(now + 2 * ORPHAN_GRACE_MS);
    insert('lateaaaaaaaa', 3);
    const third = await service.reap(now + 4 * ORPHAN_GRACE_MS);
    assert.deepEqual(third.databases, []);
    assert.ok((await names()).roles.includes('preview_lateaaaaaaaa'));
    db.close();
  });
});
