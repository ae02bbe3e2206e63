/**
 * Catalog apps end to end: a real daemon (process runtime) with a catalog directory made here,
 * against a real PostgreSQL and Redis started by the test. The apps are tiny node HTTP servers
 * that report their env (DATABASE_URL, REDIS_URL, a secret) and start time.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import WebSocket from 'ws';
import { connectResp } from '../../src/infra/resp.js';
import { createProcessRuntime } from '../../src/runtime/process/process-runtime.js';
import { silentLogger } from '../../src/log.js';
import { startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { appWorkloadName } from '../../src/services/apps.js';
import { findPostgresBin, startPostgres, type TestPostgres } from '../support/postgres.js';
import { findRedisServer, startRedis, type TestRedis } from '../support/redis.js';
import { requireOrSkip } from '../support/require.js';

const APP_JS = `
const http = require('node:http');
const started = Date.now();
const readyAfter = Number(process.env.READY_AFTER_MS || 0);
http.createServer((req, res) => {
  if (req.url === '/health') {
    const ok = Date.now() - started >= readyAfter;
    res.writeHead(ok ? 200 : 503);
    return res.end(ok ? 'ok' : 'warming up');
  }
  if (req.url === '/never') { res.writeHead(500); return res.end('not today'); }
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({
    app: process.env.BERTH_APP_NAME, path: req.url, prefix: req.headers['x-forwarded-prefix'] || null, started,
    databaseUrl: process.env.DATABASE_URL || null, redisUrl: process.env.REDIS_URL || null, secret: process.env.APP_SECRET || null,
    greeting: process.env.GREETING || null,
  }));
}).on('upgrade', (req, socket) => {
  // Minimal WebSocket: accept, send one text frame naming the path and prefix, keep open.
  const accept = require('node:crypto').createHash('sha1').update(req.headers['sec-websocket-key'] + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
  socket.write('HTTP/1.1 101 Switching Protocols\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\nSec-WebSocket-Accept: ' + accept + '\\r\\n\\r\\n');
  const msg = Buffer.from('ws ' + req.url + ' ' + (req.headers['x-forwarded-prefix'] || ''));
  socket.write(Buffer.concat([Buffer.from([0x81, msg.length]), msg]));
  socket.on('error', () => {});
}).listen(Number(process.env.PORT), '127.0.0.1');
`;

interface AppOpts {
  requires?: string[];
  dependsOn?: string[];
  health?: string;
  retries?: number;
  readyAfterMs?: number;
  embed?: { subpath?: boolean; stripPrefix?: boolean };
}

/** Writes `<dir>/<name>/app.yaml` (JSON is YAML) running the shared app script with node. */
async function writeApp(dir: string, name: string, o: AppOpts = {}): Promise<void> {
  const requires = o.requires ?? [];
  const env: Record<string, string> = { APP_SECRET: '${secret:token}', READY_AFTER_MS: String(o.readyAfterMs ?? 0) };
  if (requires.includes('postgres')) env.DATABASE_URL = '${postgres.url}';
  if (requires.includes('redis')) env.REDIS_URL = '${redis.url}';
  const manifest = {
    name,
    title: `Test ${name}`,
    description: `test app ${name}`,
    image: 'localhost/berth-test:latest',
    command: [process.execPath, path.join(dir, 'app.cjs')],
    ports: { http: 8080 },
    env,
    requires,
    dependsOn: o.dependsOn ?? [],
    healthcheck: { http: o.health ?? '/health', interval: '100ms', timeout: '1s', retries: o.retries ?? 100 },
    ...(o.embed ? { embed: o.embed } : {}),
  };
  await mkdir(path.join(dir, name), { recursive: true });
  await writeFile(path.join(dir, name, 'app.yaml'), JSON.stringify(manifest, null, 2));
}

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  c.on('error', () => {});
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => {});
  }
}

async function pgErrorCode(url: string): Promise<string> {
  try {
    await withClient(url, (c) => c.query('SELECT 1'));
    return '';
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  }
}

/** The URL with another database name. */
const withDatabase = (url: string, db: string): string => {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
};

const skip = requireOrSkip('postgres', !!findPostgresBin(), 'PostgreSQL binaries not installed') || requireOrSkip('redis', !!findRedisServer(), 'redis-server not installed');

describe('catalog apps on shared Postgres and Redis (process runtime)', { skip }, () => {
  let pgs: TestPostgres;
  let redis: TestRedis;
  let t: TestDaemon;
  let dir: string;

  /** POST /api/apps; returns every NDJSON line (the last is the app or an error). */
  async function install(name: string, settings?: Record<string, string>): Promise<{ status: number; lines: any[]; last: any }> {
    const res = await fetch(`${t.daemon.url}/api/apps`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.daemon.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name, ...(settings ? { settings } : {}) }),
    });
    const text = await res.text();
    const lines = text.split('\n').filter(Boolean).map((l) => JSON.parse(l));
    return { status: res.status, lines, last: lines[lines.length - 1] };
  }

  /** What the app answers at `/embed/{name}/`. */
  async function appInfo(name: string): Promise<any> {
    const res = await fetch(`${t.daemon.appsUrl}/embed/${name}/`, { headers: { authorization: `Bearer ${t.daemon.token}` } });
    assert.equal(res.status, 200, `GET /embed/${name}/`);
    return res.json();
  }

  before(async () => {
    [pgs, redis] = await Promise.all([startPostgres(), startRedis()]);
    dir = await mkdtemp(path.join(tmpdir(), 'berth-catalog-'));
    await writeFile(path.join(dir, 'app.cjs'), APP_JS);
    await writeApp(dir, 'pa', { requires: ['postgres', 'redis'] });
    await writeApp(dir, 'pb', { requires: ['postgres'] });
    await writeApp(dir, 'ca', { readyAfterMs: 500 });
    await writeApp(dir, 'cb', { dependsOn: ['ca'] });
    await writeApp(dir, 'cc', { dependsOn: ['cb'] });
    await writeApp(dir, 'fa');
    await writeApp(dir, 'fb', { dependsOn: ['fa'], health: '/never', retries: 3 });
    await writeApp(dir, 'fc', { dependsOn: ['fb'] });
    await writeApp(dir, 'md', { dependsOn: ['nope'] });
    await writeApp(dir, 'sd', { embed: { subpath: false } });
    await writeApp(dir, 'cli-app', { requires: ['postgres'] });
    t = await startTestDaemon({ catalogDirs: [dir], postgresUrl: pgs.adminUrl, redisUrl: redis.url });
  });

  after(async () => {
    await t?.stop();
    await Promise.all([pgs?.stop(), redis?.stop()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('the catalog lists the starter apps and the test apps, with icons', async () => {
    const { status, body } = await t.api('GET', '/api/catalog');
    assert.equal(status, 200);
    const names = body.apps.map((a: any) => a.name);
    for (const n of ['gitea', 'miniflux', 'pa', 'cc']) assert.ok(names.includes(n), `${n} in ${names}`);
    const gitea = body.apps.find((a: any) => a.name === 'gitea');
    assert.equal(gitea.iconUrl, '/api/catalog/gitea/icon');
    assert.deepEqual(gitea.requires, ['postgres']);
    // md names a missing dependency: reported, still listed.
    assert.ok(body.errors.some((e: any) => /no app named "nope"/.test(e.text)), JSON.stringify(body.errors));
    const icon = await fetch(`${t.daemon.url}/api/catalog/gitea/icon`, { headers: { authorization: `Bearer ${t.daemon.token}` } });
    assert.equal(icon.status, 200);
    assert.equal(icon.headers.get('content-type'), 'image/svg+xml');
    assert.equal((await fetch(`${t.daemon.url}/api/catalog/gitea/icon`)).status, 401);
  });

  test('refusals happen before anything starts: missing dependency, no apps domain, unknown app', async () => {
    assert.equal((await install('md')).last.error.code, 'E_DEPENDENCY');
    const sd = await install('sd');
    assert.equal(sd.status, 409);
    assert.equal(sd.last.error.code, 'E_APP_NEEDS_DOMAIN');
    assert.equal((await install('nosuchapp')).last.error.code, 'E_APP_NOT_FOUND');
    assert.deepEqual((await t.api('GET', '/api/apps')).body.apps, []);
  });

  test('two apps requiring postgres get two databases and roles, each refused on the other', async () => {
    const a = await install('pa', { GREETING: 'hi' });
    assert.equal(a.status, 200);
    assert.deepEqual(
      a.lines.slice(0, -1).map((l) => l.step).filter((s, i, all) => all.indexOf(s) === i),
      ['provisioning', 'pulling', 'starting', 'health', 'healthy'],
    );
    assert.equal(a.last.state, 'running', JSON.stringify(a.last));
    assert.match(a.last.url, /\/embed\/pa\/$/);
    const b = await install('pb');
    assert.equal(b.last.state, 'running', JSON.stringify(b.last));

    const pa = await appInfo('pa');
    const pb = await appInfo('pb');
    assert.equal(pa.greeting, 'hi');
    assert.match(pa.redisUrl, /\/1$/);
    const dbs = await withClient(pgs.superuserUrl, async (c) => (await c.query(`SELECT datname FROM pg_database WHERE datname LIKE 'app_p_'`)).rows.map((r) => r.datname));
    assert.deepEqual(dbs.sort(), ['app_pa', 'app_pb']);
    assert.equal(await pgErrorCode(pa.databaseUrl), '');
    assert.equal(await pgErrorCode(pb.databaseUrl), '');
    // 42501 insufficient_privilege: CONNECT is revoked from everyone but the owner.
    assert.equal(await pgErrorCode(withDatabase(pa.databaseUrl, 'app_pb')), '42501');
    assert.equal(await pgErrorCode(withDatabase(pb.databaseUrl, 'app_pa')), '42501');
    const list = (await t.api('GET', '/api/apps')).body.apps.map((x: any) => `${x.name}:${x.state}`);
    assert.deepEqual(list, ['pa:running', 'pb:running']);
  });

  test('served only under /embed/{app}/ with X-Forwarded-Prefix and frame-ancestors CSP', async () => {
    const auth = { authorization: `Bearer ${t.daemon.token}` };
    const res = await fetch(`${t.daemon.appsUrl}/embed/pa/hello?x=1`, { headers: auth });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-security-policy'), `frame-ancestors 'self' http://127.0.0.1:*`, 'only the dashboard may frame it');
    const body = (await res.json()) as any;
    assert.equal(body.path, '/hello?x=1');
    assert.equal(body.prefix, '/embed/pa');
    const bare = await fetch(`${t.daemon.appsUrl}/embed/pa?y=2`, { headers: auth, redirect: 'manual' });
    assert.equal(bare.status, 308);
    assert.equal(bare.headers.get('location'), 'pa/?y=2');
    // Nothing of the app at the root.
    for (const p of ['/hello', '/pa/', '/health']) {
      const root = await fetch(`${t.daemon.url}${p}`, { headers: auth });
      assert.doesNotMatch(await root.text(), /"app":"pa"|^ok$/, p);
    }
    // Anonymous callers are refused; a browser is sent to log in.
    assert.equal((await fetch(`${t.daemon.appsUrl}/embed/pa/`)).status, 401);
    const page = await fetch(`${t.daemon.appsUrl}/embed/pa/`, { headers: { accept: 'text/html' }, redirect: 'manual' });
    assert.equal(page.status, 302);
    assert.equal((await fetch(`${t.daemon.appsUrl}/embed/nobody/`, { headers: auth })).status, 404);
    // WebSockets go through the same route, prefix stripped.
    const ws = new WebSocket(`${t.daemon.appsUrl.replace("http", "ws")}/embed/pa/socket`, { headers: auth });
    const first = await new Promise<string>((resolve, reject) => {
      ws.once('message', (d) => resolve(String(d)));
      ws.once('error', reject);
    });
    ws.terminate();
    assert.equal(first, 'ws /socket /embed/pa');
  });

  test('uninstall keeps the database, reinstall finds it; --purge drops database, role and Redis keys', async () => {
    const before = await appInfo('pa');
    await withClient(before.databaseUrl, async (c) => {
      await c.query('CREATE TABLE notes (body text)');
      await c.query(`INSERT INTO notes VALUES ('kept')`);
    });
    const conn = await connectResp(before.redisUrl);
    await conn.command(['SET', 'pa-key', 'v']);
    await conn.close();

    const kept = await t.api('DELETE', '/api/apps/pa');
    assert.equal(kept.status, 200);
    assert.deepEqual(kept.body.kept, ['database app_pa', 'redis db 1', 'secrets']);
    assert.equal((await fetch(`${t.daemon.appsUrl}/embed/pa/`, { headers: { authorization: `Bearer ${t.daemon.token}` } })).status, 404);
    assert.equal((await t.api('GET', '/api/apps/pa')).status, 404);

    assert.equal((await install('pa')).last.state, 'running');
    const again = await appInfo('pa');
    assert.equal(again.databaseUrl, before.databaseUrl, 'same credentials');
    assert.equal(again.secret, before.secret, 'secrets are stable');
    const rows = await withClient(again.databaseUrl, async (c) => (await c.query('SELECT body FROM notes')).rows);
    assert.deepEqual(rows, [{ body: 'kept' }]);

    const purged = await t.api('DELETE', '/api/apps/pa?purge=1');
    assert.equal(purged.status, 200);
    assert.deepEqual(purged.body.removed, [`workload ${appWorkloadName('pa', t.daemon.installation)}`, 'database app_pa', 'redis db 1', 'secrets']);
    const left = await withClient(pgs.superuserUrl, async (c) => ({
      db: (await c.query(`SELECT 1 FROM pg_database WHERE datname = 'app_pa'`)).rowCount,
      role: (await c.query(`SELECT 1 FROM pg_roles WHERE rolname = 'app_pa'`)).rowCount,
    }));
    assert.deepEqual(left, { db: 0, role: 0 });
    const check = await connectResp(withDatabase(redis.url, String(new URL(before.redisUrl).pathname.slice(1))));
    assert.equal(await check.command(['EXISTS', 'pa-key']), 0);
    await check.close();
    // After a purge, a reinstall starts from scratch with new credentials.
    assert.equal((await install('pa')).last.state, 'running');
    assert.notEqual((await appInfo('pa')).secret, before.secret);
  });

  test('a chain of three apps starts in dependency order, each after the previous is healthy', async () => {
    const r = await install('cc');
    assert.equal(r.last.state, 'running', JSON.stringify(r.last));
    assert.deepEqual(r.lines.filter((l) => l.step === 'healthy').map((l) => l.app), ['ca', 'cb', 'cc']);
    const [a, b, c] = [await appInfo('ca'), await appInfo('cb'), await appInfo('cc')];
    // ca answers its health check only 500 ms after it started; cb may not start before.
    assert.ok(b.started >= a.started + 500, `cb started ${b.started - a.started} ms after ca`);
    assert.ok(c.started > b.started);
    const refused = await t.api('DELETE', '/api/apps/ca');
    assert.equal(refused.status, 409);
    assert.equal(refused.body.error.code, 'E_DEPENDENCY');
  });

  test('a failing health check stops the chain and leaves nothing of the failed app', async () => {
    const r = await install('fc');
    assert.equal(r.status, 200);
    assert.equal(r.last.error.code, 'E_APP_UNHEALTHY');
    assert.match(r.last.error.message, /health check failed 3 times; last: GET \/never → 500: not today/);
    const failed = r.lines.find((l) => l.step === 'failed');
    assert.equal(failed.app, 'fb');
    assert.equal((await t.api('GET', '/api/apps/fa')).body.state, 'running');
    const fb = (await t.api('GET', '/api/apps/fb')).body;
    assert.equal(fb.state, 'failed');
    assert.match(fb.reason, /not today/);
    assert.deepEqual(fb.ports, []);
    assert.equal((await t.api('GET', '/api/apps/fc')).status, 404);
    assert.equal((await fetch(`${t.daemon.appsUrl}/embed/fb/`, { headers: { authorization: `Bearer ${t.daemon.token}` } })).status, 404);
    const runtime = createProcessRuntime({ log: silentLogger(), dataDir: t.dataDir }, {});
    assert.deepEqual(await runtime.list({ 'berth.kind': 'app', 'berth.id': 'fb' }), []);
    assert.equal((await runtime.list({ 'berth.kind': 'app', 'berth.id': 'fa' })).length, 1, 'the listing sees running apps');
    // A failed app can be removed (and reinstalled later).
    assert.equal((await t.api('DELETE', '/api/apps/fb')).status, 200);
  });

  test('installs and uninstalls are admin-only and audited', async () => {
    const anon = await fetch(`${t.daemon.url}/api/apps`, { method: 'POST', body: '{"name":"fa"}', headers: { 'content-type': 'application/json' } });
    assert.equal(anon.status, 401);
    const audit = await t.api('GET', '/api/audit?limit=1000');
    assert.equal(audit.status, 200);
    const actions = audit.body.entries.map((e: any) => e.action);
    for (const a of ['app.install', 'app.uninstall', 'app.install.failed']) assert.ok(actions.includes(a), `${a} in ${actions}`);
  });

  test('CLI: app catalog, install with progress lines, ls --json, logs, uninstall --purge', async () => {
    const root = path.resolve(import.meta.dirname, '../..');
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BERTH_')));
    const cli = async (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
      try {
        const r = await promisify(execFile)(process.execPath, ['--import', 'tsx', path.join(root, 'src/cli/index.ts'), ...args], {
          cwd: root,
          env: { ...env, BERTH_URL: t.daemon.url, BERTH_DATA_DIR: t.dataDir },
        });
        return { code: 0, stdout: r.stdout, stderr: r.stderr };
      } catch (err) {
        const e = err as { code: number; stdout: string; stderr: string };
        return { code: e.code, stdout: e.stdout, stderr: e.stderr };
      }
    };
    const catalog = await cli('app', 'catalog');
    assert.equal(catalog.code, 0, catalog.stderr);
    assert.match(catalog.stdout, /^cli-app\s+Test cli-app\s+postgres/m);
    const inst = await cli('app', 'install', 'cli-app', '--set', 'GREETING=yo');
    assert.equal(inst.code, 0, inst.stderr);
    assert.match(inst.stderr, /cli-app: provisioning/);
    assert.match(inst.stderr, /cli-app: healthy/);
    assert.match(inst.stdout, /app cli-app installed: http:\/\/127\.0\.0\.1:\d+\/embed\/cli-app\//);
    assert.equal((await appInfo('cli-app')).greeting, 'yo');
    const ls = JSON.parse((await cli('app', 'ls', '--json')).stdout);
    assert.ok(ls.apps.some((a: any) => a.name === 'cli-app' && a.state === 'running'));
    assert.equal((await cli('app', 'logs', 'cli-app')).code, 0);
    const failed = await cli('app', 'install', 'sd');
    assert.equal(failed.code, 1);
    assert.match(failed.stderr, /cannot be served under a sub-path/);
    const rm = await cli('app', 'uninstall', 'cli-app', '--purge');
    assert.equal(rm.code, 0, rm.stderr);
    assert.match(rm.stdout, /uninstalled and purged/);
    assert.match(rm.stderr, /cli-app: removed database app_cli_app/);
  });
});
