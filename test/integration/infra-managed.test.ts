/**
 * `berth infra up|status|down`: Berth's own PostgreSQL (Debian's binaries, initdb on first run)
 * and Redis (redis-server) as workloads of the process runtime, used by apps without any
 * BERTH_POSTGRES_URL / BERTH_REDIS_URL; restarted by the reconciler when they die; `down` keeps
 * their data, `--purge` deletes it. On podman, a missing image is a clear error, nothing left behind.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import pg from 'pg';
import { findPostgresBin, findRedisServer } from '../../src/infra/host-binaries.js';
import { connectResp } from '../../src/infra/resp.js';
import { installApp, writeCatalogApp } from '../support/catalog-app.js';
import { startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { infraWorkloadName } from '../../src/infra/managed-blueprints.js';
import { requireOrSkip } from '../support/require.js';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../..');

/** Runs the CLI against `t` (exit code, stdout, stderr). */
async function cli(t: TestDaemon, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BERTH_')));
  try {
    const r = await run(process.execPath, ['--import', 'tsx', path.join(root, 'src/cli/index.ts'), ...args], {
      cwd: root,
      env: { ...env, BERTH_URL: t.daemon.url, BERTH_DATA_DIR: t.dataDir },
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

async function query<T>(url: string, sql: string): Promise<T[]> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  c.on('error', () => {});
  await c.connect();
  try {
    return (await c.query(sql)).rows as T[];
  } finally {
    await c.end().catch(() => {});
  }
}

const service = (status: any, kind: string): any => status.services.find((s: any) => s.kind === kind);

const skip = requireOrSkip('postgres', !!findPostgresBin(), 'PostgreSQL binaries not installed') || requireOrSkip('redis', !!findRedisServer(), 'redis-server not installed');

describe("berth infra: Berth's own PostgreSQL and Redis on the process runtime", { skip }, () => {
  let t: TestDaemon;
  let dir: string;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'berth-infra-catalog-'));
    await writeCatalogApp(dir, 'dbapp', {
      requires: ['postgres', 'redis'],
      env: { DATABASE_URL: '${postgres.url}', REDIS_URL: '${redis.url}' },
    });
    t = await startTestDaemon({ catalogDirs: [dir], reconcileInterval: 3600 });
  });
  after(async () => {
    // Whatever a failed run left: apps, then the servers and their data (outside the data dir when root).
    if (t) {
      for (const a of t.daemon.apps.list()) await t.daemon.apps.uninstall(a.name, { purge: false }).catch(() => {});
      await cli(t, 'infra', 'down', '--purge', '--force');
      await t.stop();
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('without BERTH_POSTGRES_URL an app needing postgres is refused, pointing at `berth infra up`', async () => {
    const status = (await t.api('GET', '/api/infra')).body;
    assert.equal(service(status, 'postgres').source, 'none');
    const refused = await installApp(t.daemon.url, t.daemon.token, 'dbapp');
    assert.equal(refused.error.code, 'E_INFRA_UNAVAILABLE');
    assert.match(refused.error.hint, /berth infra up/);
  });

  it('infra up starts both (initdb the first time), status shows them answering', async () => {
    const up = await cli(t, 'infra', 'up');
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stderr, /postgres: preparing .*\n/);
    assert.match(up.stderr, /postgres: PostgreSQL \d+\.\d+.* is up; apps reach it at 127\.0\.0\.1:\d+/);
    assert.match(up.stderr, /redis: Redis \d+\.\d+\.\d+ is up/);
    assert.match(up.stdout, /^postgres\s+berth\s+running\s+127\.0\.0\.1:\d+/m);
    assert.match(up.stdout, /^redis\s+berth\s+running\s+127\.0\.0\.1:\d+/m);

    const status = JSON.parse((await cli(t, 'infra', 'status', '--json')).stdout);
    for (const kind of ['postgres', 'redis']) {
      assert.equal(service(status, kind).state, 'running', JSON.stringify(status));
      assert.match(service(status, kind).version, /^\d+\.\d+/);
    }
    // The password is in a 0600 file only, never in the status.
    const file = path.join(t.dataDir, 'infra', 'infra.json');
    assert.equal(readFileSync(file, 'utf8').length > 0 && (await import('node:fs')).statSync(file).mode & 0o777, 0o600);
    assert.doesNotMatch(JSON.stringify(status), new RegExp(JSON.parse(readFileSync(file, 'utf8')).postgres.password));
    // A second up finds them running.
    assert.equal((await cli(t, 'infra', 'up')).code, 0);
  });

  it('apps get a database and a Redis index on them; a dead server is started again by the reconciler', async () => {
    const installed = await installApp(t.daemon.url, t.daemon.token, 'dbapp');
    assert.equal(installed.state, 'running', JSON.stringify(installed));
    const info = (await (await fetch(`${t.daemon.appsUrl}/embed/dbapp/`, { headers: { authorization: `Bearer ${t.daemon.token}` } })).json()) as any;
    assert.deepEqual(await query(info.databaseUrl, 'SELECT current_user AS u'), [{ u: 'app_dbapp' }]);
    await query(info.databaseUrl, "CREATE TABLE notes (body text); INSERT INTO notes VALUES ('survives down and up')");
    const conn = await connectResp(info.redisUrl);
    assert.equal(await conn.command(['PING']), 'PONG');
    await conn.close();

    // Kill Redis under the daemon's feet: the next pass starts it again.
    const state = JSON.parse(readFileSync(path.join(t.dataDir, 'process', infraWorkloadName('redis', t.daemon.installation), 'state.json'), 'utf8')) as { pid: number };
    process.kill(state.pid, 'SIGKILL');
    for (let i = 0; i < 50 && service((await t.api('GET', '/api/infra')).body, 'redis').state === 'running'; i++) await new Promise((r) => setTimeout(r, 100));
    const report = await t.daemon.reconcile();
    assert.deepEqual(report.infraStarted, ['redis']);
    const again = await connectResp(info.redisUrl);
    assert.equal(await again.command(['PING']), 'PONG');
    await again.close();
  });

  it('infra down refuses while apps use it; after uninstall it stops them and keeps the data', async () => {
    const refused = await cli(t, 'infra', 'down');
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /error E_INVALID_STATE: installed apps use Berth's shared services: dbapp/);
    assert.equal((await t.api('DELETE', '/api/apps/dbapp')).status, 200);

    const down = await cli(t, 'infra', 'down');
    assert.equal(down.code, 0, down.stderr);
    assert.match(down.stderr, /postgres: data kept in \S+/);
    assert.match(down.stdout, /^postgres\s+berth\s+down/m);
    const gone = await installApp(t.daemon.url, t.daemon.token, 'dbapp');
    assert.equal(gone.error.code, 'E_INFRA_UNAVAILABLE', 'installed on a server that is down');

    assert.equal((await cli(t, 'infra', 'up')).code, 0);
    const back = await installApp(t.daemon.url, t.daemon.token, 'dbapp');
    assert.equal(back.state, 'running', JSON.stringify(back));
    const info = (await (await fetch(`${t.daemon.appsUrl}/embed/dbapp/`, { headers: { authorization: `Bearer ${t.daemon.token}` } })).json()) as any;
    assert.deepEqual(await query(info.databaseUrl, 'SELECT body FROM notes'), [{ body: 'survives down and up' }]);
    assert.equal((await t.api('DELETE', '/api/apps/dbapp?purge=1')).status, 200);
  });

  it('infra down --purge deletes their data', async () => {
    const before = (await t.api('GET', '/api/infra')).body;
    const data = service(before, 'postgres').data as string;
    assert.ok(existsSync(data), data);
    const purged = await cli(t, 'infra', 'down', '--purge');
    assert.equal(purged.code, 0, purged.stderr);
    assert.match(purged.stderr, /postgres: deleting its data/);
    assert.ok(!existsSync(data), `${data} is still there`);
    const after = (await t.api('GET', '/api/infra')).body;
    assert.deepEqual(after.services.map((s: any) => `${s.kind}:${s.source}`), ['postgres:none', 'redis:none']);
  });
});

// An image name no registry and no local store can have: the case runs on every machine, also
// on one that has docker.io/library/postgres:16 (it used to skip there).
const MISSING_IMAGE = `localhost/berth-test-no-such-image-${process.pid}:never-built`;
const podmanMissing = await run('podman', ['--version']).then(() => false, () => true);

describe('berth infra on podman without the images (no registry reachable)', {
  skip: requireOrSkip('podman', !podmanMissing, 'podman is not installed (scripts/install-deps --test installs it)'),
}, () => {
  it('infra up fails with a clear error naming the image and what to do, and leaves nothing behind', async () => {
    const t = await startTestDaemon({ runtime: 'podman', infraPostgresImage: MISSING_IMAGE });
    try {
      const res = await fetch(`${t.daemon.url}/api/infra/up`, { method: 'POST', headers: { authorization: `Bearer ${t.daemon.token}` } });
      const lines = (await res.text()).split('\n').filter(Boolean).map((l) => JSON.parse(l));
      const last = lines[lines.length - 1];
      assert.equal(last.error?.code, 'E_INFRA_UNAVAILABLE', JSON.stringify(lines));
      assert.ok(
        last.error.message.startsWith(`cannot create Berth's postgres from ${MISSING_IMAGE}: the image is not available locally and could not be pulled`),
        last.error.message,
      );
      assert.match(last.error.hint, /BERTH_INFRA_POSTGRES_IMAGE/);
      const { stdout } = await run('podman', ['ps', '-a', '--filter', 'label=berth.kind=infra', '--format', '{{.Names}}'], {
        env: { ...process.env, CONTAINERS_CONF: path.join(t.dataDir, 'containers.conf') },
      });
      assert.equal(stdout.trim(), '');
      const engine = async (...args: string[]): Promise<string[]> =>
        (await run('podman', args, { env: { ...process.env, CONTAINERS_CONF: path.join(t.dataDir, 'containers.conf') } })).stdout.split('\n').filter(Boolean);
      const tag = `berth-${t.daemon.installation.slice(0, 8)}-`;
      assert.deepEqual((await engine('volume', 'ls', '--format', '{{.Name}}')).filter((n) => n.startsWith(tag)), [], 'a volume was left behind');
      assert.deepEqual((await engine('network', 'ls', '--format', '{{.Name}}')).filter((n) => n.startsWith(tag)), [], 'a network was left behind');
      const status = (await t.api('GET', '/api/infra')).body;
      assert.equal(service(status, 'postgres').source, 'none', 'a failed first start is not recorded (no retries every pass)');
    } finally {
      await t.stop();
    }
  });
});
