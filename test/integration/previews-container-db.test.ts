import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import pg from 'pg';
import { silentLogger } from '../../src/log.js';
import { createProcessRuntime } from '../../src/runtime/process/process-runtime.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { startPostgres, type TestPostgres } from '../support/postgres.js';
import { isLoopback, listeningAddresses } from '../support/listeners.js';
import { commitVersion, createPreviewRepo, getVia, waitForPreview } from '../support/preview-fixture.js';

/**
 * `database: container` end to end on the process runtime: the preview gets a PostgreSQL of its
 * own (Debian's binaries, initdb into the preview's directory, a Berth-allocated port on
 * 127.0.0.1), the app queries and writes it through DATABASE_URL, an update keeps its data, a
 * change of `database:` removes the database of the old mode, and destroy removes the server and
 * its data. Real git, real PostgreSQL (a shared one too, for the mode switch), real edge.
 */

const REPO = 'octo-org/dbapp';

let tmp: string;
let t: TestDaemon;
let shared: TestPostgres;
let runtime: Runtime;

const waitFor = <T>(what: string, fn: () => Promise<T | undefined | null | false>, ms = 90_000): Promise<T> => waitForPreview(what, fn, ms);

const previewOf = async (pr: number): Promise<any> => ((await t.api('GET', '/api/previews')).body.previews as any[]).find((p) => p.pr === pr);

/** Queues a build of `main` (create or update) and waits until generation `generation` serves. */
async function buildMain(repoDir: string, pr: number, generation: number): Promise<any> {
  const res = await t.api('POST', '/api/previews', { repo: REPO, cloneUrl: pathToFileURL(repoDir).href, number: pr, ref: 'main' });
  assert.equal(res.status, 202, JSON.stringify(res.body));
  return waitFor(`PR ${pr} generation ${generation} live`, async () => {
    const p = await previewOf(pr);
    if (p?.state === 'failed') throw new Error(`preview failed: ${p.reason}\n${(await t.api('GET', `/api/previews/${p.id}`)).body.buildLog}`);
    if (p?.reason?.includes('failed')) throw new Error(`preview failed: ${p.reason}`);
    // The job is done once the old generation and the database of an old mode are removed.
    const idle = t.daemon.previews.queue.list({ state: 'running' }).length === 0 && t.daemon.previews.queue.list({ state: 'pending' }).length === 0;
    return p?.state === 'running' && p.generation === generation && idle ? p : null;
  });
}

const dbWorkloads = (id: string) => runtime.list({ 'berth.kind': 'preview', 'berth.id': id, 'berth.database': 'postgres' });

/** Host ports the store holds for previews. */
function previewPorts(): { host_port: number; workload_id: string }[] {
  const db = new Database(path.join(t.dataDir, 'berth.db'), { readonly: true, fileMustExist: true });
  try {
    return db.prepare("SELECT host_port, workload_id FROM port_allocations WHERE workload_kind = 'preview' ORDER BY host_port").all() as { host_port: number; workload_id: string }[];
  } finally {
    db.close();
  }
}

/** Whether something accepts TCP connections at host:port. */
function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    s.setTimeout(2000, () => {
      s.destroy();
      resolve(false);
    });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function sharedDatabaseExists(name: string): Promise<boolean> {
  const c = new pg.Client({ connectionString: shared.superuserUrl });
  await c.connect();
  try {
    return (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1;
  } finally {
    await c.end();
  }
}

describe('previews with database: container (process runtime)', () => {
  before(async () => {
    tmp = mkdtempSync(path.join(tmpdir(), 'berth-preview-cdb-'));
    shared = await startPostgres();
    t = await startTestDaemon({ allowFileRepos: true, previewDomain: 'preview.test', drainSeconds: 0, postgresUrl: shared.adminUrl });
    runtime = createProcessRuntime({ log: silentLogger(), dataDir: t.dataDir }, {});
  });

  after(async () => {
    for (const p of t?.daemon.previews.service.list() ?? []) t.daemon.previews.service.requestDown(p.id);
    await waitFor('cleanup', async () => t.daemon.previews.service.list().length === 0, 60_000).catch(() => {});
    await t?.stop();
    await shared?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('the app gets a DATABASE_URL of its own server, keeps its data across an update, and destroy removes server and data', async () => {
    const repoDir = path.join(tmp, 'repo1');
    createPreviewRepo(repoDir, { database: 'container' });
    const live = await buildMain(repoDir, 11, 1);
    assert.equal(live.database, null, 'nothing on the shared Postgres');

    const first = JSON.parse((await getVia(t.daemon.url, '11.preview.test', '/visit')).body);
    assert.equal(first.db, 'preview');
    assert.equal(first.user, 'preview', 'the app is not the superuser');
    assert.equal(first.answer, 42);
    assert.equal(first.visits, 1);
    const api = JSON.parse((await getVia(t.daemon.url, '11.preview.test', '/api/x')).body);
    assert.equal(api.service, 'api');
    assert.equal(api.db, 'preview', 'every service gets the same database');

    const [server] = await dbWorkloads(live.id);
    assert.ok(server, 'a database workload labelled for the preview');
    assert.equal(server.state, 'running');
    const port = Number(server.labels['berth.port']);
    assert.ok(previewPorts().some((r) => r.host_port === port && r.workload_id === `${live.id}.0`), 'its port is allocated by Berth');
    assert.ok(await accepts('127.0.0.1', port));
    // Bound to loopback only, read from the kernel's socket table: holds on a machine with no
    // other address to try a connection on (where the check used to be skipped).
    const bound = listeningAddresses(port);
    assert.ok(bound.length > 0, `something listens on ${port}`);
    assert.deepEqual(bound.filter((a) => !isLoopback(a)), [], `bound to 127.0.0.1 only, not ${bound.join(', ')}`);
    const external = Object.values(networkInterfaces()).flat().find((i) => i && i.family === 'IPv4' && !i.internal);
    if (external) assert.equal(await accepts(external.address, port), false, `not reachable at ${external.address}`);
    const dataDir = path.join(t.dataDir, 'previews', live.id, 'postgres', 'data');
    assert.ok(existsSync(path.join(dataDir, 'PG_VERSION')), 'the cluster lives in the preview directory');
    const postmaster = Number(readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    assert.ok(alive(postmaster));
    assert.equal(await sharedDatabaseExists(`preview_${live.id}`), false);
    assert.equal(statSync(path.join(t.dataDir, 'previews', '.postgres.key')).mode & 0o777, 0o600, "the key of the servers' superuser passwords is private");

    commitVersion(repoDir, 'v2', { database: 'container' });
    await buildMain(repoDir, 11, 2);
    const second = JSON.parse((await getVia(t.daemon.url, '11.preview.test', '/visit')).body);
    assert.equal(second.version, 'v2');
    assert.equal(second.visits, 2, 'the data survived the update');
    assert.deepEqual((await dbWorkloads(live.id)).map((w) => w.ref), [server.ref], 'the same server, not a second one');

    assert.equal((await t.api('DELETE', `/api/previews/${live.id}`)).status, 202);
    await waitFor('preview gone', async () => (await previewOf(11)) === undefined);
    assert.deepEqual(await dbWorkloads(live.id), []);
    assert.equal(existsSync(path.join(t.dataDir, 'previews', live.id)), false, 'data deleted');
    await waitFor('postmaster gone', async () => !alive(postmaster), 15_000);
    assert.equal(await accepts('127.0.0.1', port), false);
    assert.deepEqual(previewPorts(), []);
    assert.equal((await getVia(t.daemon.url, '11.preview.test', '/')).status, 404);
  });

  it('changing database: removes the database of the old mode once the new generation serves', async () => {
    const repoDir = path.join(tmp, 'repo2');
    createPreviewRepo(repoDir, { database: 'host' });
    const live = await buildMain(repoDir, 12, 1);
    assert.equal(live.database, `preview_${live.id}`);
    assert.ok(await sharedDatabaseExists(live.database));

    commitVersion(repoDir, 'v2', { database: 'container' });
    const switched = await buildMain(repoDir, 12, 2);
    assert.equal(JSON.parse((await getVia(t.daemon.url, '12.preview.test', '/')).body).db, 'preview');
    assert.equal(switched.database, null);
    assert.equal(await sharedDatabaseExists(`preview_${live.id}`), false, 'the shared database was dropped');
    assert.equal((await dbWorkloads(live.id)).length, 1);

    commitVersion(repoDir, 'v3', { database: 'none' });
    await buildMain(repoDir, 12, 3);
    const plain = JSON.parse((await getVia(t.daemon.url, '12.preview.test', '/')).body);
    assert.equal(plain.version, 'v3');
    assert.equal(plain.db, null, 'no DATABASE_URL any more');
    assert.deepEqual(await dbWorkloads(live.id), [], 'the server was removed');
    assert.equal(existsSync(path.join(t.dataDir, 'previews', live.id, 'postgres')), false, 'with its data');
    assert.ok(!previewPorts().some((r) => r.workload_id === `${live.id}.0`), 'and its port');
  });

  it('a database of the preview\'s name that Berth did not make is refused every time, never taken over', async () => {
    const repoDir = path.join(tmp, 'repo3');
    createPreviewRepo(repoDir, { database: 'none' });
    const live = await buildMain(repoDir, 13, 1);
    const name = `preview_${live.id}`;
    const c = new pg.Client({ connectionString: shared.superuserUrl });
    await c.connect();
    await c.query(`CREATE ROLE ${name}`);
    const comment = async (): Promise<string | null> =>
      (await c.query<{ d: string | null }>("SELECT shobj_description(oid, 'pg_authid') AS d FROM pg_roles WHERE rolname = $1", [name])).rows[0]!.d;
    try {
      commitVersion(repoDir, 'v2', { database: 'host' });
      for (let attempt = 1; attempt <= 2; attempt++) {
        const res = await t.api('POST', '/api/previews', { repo: REPO, cloneUrl: pathToFileURL(repoDir).href, number: 13, ref: 'main' });
        assert.equal(res.status, 202);
        const sha = (res.body.sha as string).slice(0, 7);
        const p = await waitFor(`update ${attempt} refused`, async () => {
          const p = await previewOf(13);
          const idle = t.daemon.previews.queue.depth().running + t.daemon.previews.queue.depth().pending === 0;
          return idle && p?.reason?.includes(`update to ${sha} failed`) && p.reason.includes('was not created by this Berth') ? p : null;
        });
        assert.equal(p.generation, 1, 'still serving the old generation');
        assert.equal(p.database, null, 'the record does not claim it');
        assert.equal(await comment(), null, `attempt ${attempt} left the foreign role alone`);
        // A new commit, so the second attempt's outcome is told apart from the first's.
        if (attempt === 1) commitVersion(repoDir, 'v3', { database: 'host' });
      }
      assert.equal(JSON.parse((await getVia(t.daemon.url, '13.preview.test', '/')).body).version, 'v1');
    } finally {
      await c.query(`DROP ROLE IF EXISTS ${name}`);
      await c.end();
    }
  });
});
