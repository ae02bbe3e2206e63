/**
 * `berth doctor` and `berth service` as a user runs them (the CLI as a child process), against
 * real things: a port held by another process, a running Berth, an unresolvable wildcard domain,
 * a certificate about to expire, a real PostgreSQL and Redis (and a closed port for each), and
 * the systemd unit checked by systemd's own `systemd-analyze verify`.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { freeLoopbackPort } from '../support/free-port.js';
import { findPostgresBin, startPostgres, type TestPostgres } from '../support/postgres.js';
import { findRedisServer, startRedis, type TestRedis } from '../support/redis.js';
import { requireOrSkip } from '../support/require.js';
import { createTestCa, type TestCa } from '../support/test-certs.js';

const root = path.resolve(import.meta.dirname, '../..');
const CLI = path.join(root, 'src/cli/index.ts');

function cli(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BERTH_')));
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: root, env: { ...clean, ...env }, timeout: 90_000 }, (err, stdout, stderr) => {
      const code = err ? Number((err as { code?: unknown }).code ?? 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

interface Finding {
  name: string;
  status: string;
  detail: string;
  hint?: string;
}
const find = (results: Finding[], prefix: string): Finding => {
  const f = results.find((r) => r.name.startsWith(prefix));
  assert.ok(f, `a finding named ${prefix}… in ${JSON.stringify(results.map((r) => r.name))}`);
  return f!;
};

describe('berth doctor', { skip: requireOrSkip('postgres', findPostgresBin() !== null, 'PostgreSQL binaries not found') || requireOrSkip('redis', findRedisServer() !== null, 'redis-server not on PATH') }, () => {
  let dir: string;
  let ca: TestCa;
  let pg: TestPostgres;
  let redis: TestRedis;
  let busy: Server;
  let busyPort: number;
  let daemon: TestDaemon;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'berth-doctor-'));
    ca = createTestCa();
    [pg, redis, daemon] = await Promise.all([startPostgres(), startRedis(), startTestDaemon()]);
    busy = createServer(() => {});
    busyPort = await freeLoopbackPort();
    await new Promise<void>((r) => busy.listen(busyPort, '127.0.0.1', r));
  });
  after(async () => {
    busy?.close();
    await Promise.all([pg?.stop(), redis?.stop(), daemon?.stop()]);
    ca?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reports each problem with what to do, and exits 1', async () => {
    const soon = ca.issue('soon', ['other.example'], { days: 1 });
    const closed = await freeLoopbackPort();
    const r = await cli(['doctor', '--json'], {
      BERTH_DATA_DIR: path.join(dir, 'data'),
      BERTH_RUNTIME: 'process',
      BERTH_PORT: String(busyPort),
      BERTH_APPS_PORT: String(daemon.daemon.port),
      BERTH_APPS_DOMAIN: 'apps.invalid',
      BERTH_PUBLIC_URL: 'https://berth.example',
      BERTH_TLS: 'files',
      BERTH_TLS_CERT_FILE: soon.certFile,
      BERTH_TLS_KEY_FILE: soon.keyFile,
      BERTH_HTTP_PORT: '0',
      BERTH_POSTGRES_URL: pg.adminUrl,
      BERTH_REDIS_URL: `redis://127.0.0.1:${closed}`,
    });
    assert.equal(r.code, 1, r.stderr);
    const { results } = JSON.parse(r.stdout) as { results: Finding[] };
    assert.equal(find(results, 'data dir').status, 'ok');
    const runtime = find(results, 'runtime');
    assert.equal(runtime.status, 'warn');
    assert.match(runtime.hint!, /does not isolate/);
    const port = find(results, `port ${busyPort}`);
    assert.deepEqual([port.status, port.detail], ['fail', 'in use by another process on 127.0.0.1']);
    assert.match(port.hint!, /BERTH_PORT/);
    // The daemon under test answers over plain HTTP, this config says TLS: not recognised as Berth.
    assert.equal(find(results, `apps port ${daemon.daemon.port}`).status, 'fail');
    const dns = find(results, 'apps DNS');
    assert.equal(dns.status, 'fail');
    assert.match(dns.hint!, /\*\.apps\.invalid/);
    const cert = find(results, 'certificate');
    assert.equal(cert.status, 'warn');
    assert.match(cert.detail, /other\.example; valid until .* \(0 days\)/);
    assert.match(cert.hint!, /does not cover berth\.example, \*\.apps\.invalid/);
    const postgres = find(results, 'postgres');
    assert.equal(postgres.status, 'ok');
    assert.match(postgres.detail, /reachable, server \d+/);
    const red = find(results, 'redis');
    assert.equal(red.status, 'fail');
    assert.match(red.detail, /cannot connect: .*ECONNREFUSED/);
  });

  it('a healthy host: a running Berth holds its ports, Redis answers, the human output says so', async () => {
    const good = ca.issue('good', ['localhost'], { days: 30 });
    const r = await cli(['doctor'], {
      BERTH_DATA_DIR: path.join(dir, 'data2'),
      BERTH_RUNTIME: 'process',
      BERTH_PORT: String(daemon.daemon.port),
      BERTH_APPS_PORT: String(daemon.daemon.appsPort),
      BERTH_REDIS_URL: redis.url,
      BERTH_TLS: 'off',
      BERTH_TLS_CERT_FILE: good.certFile,
    });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`✓ port ${daemon.daemon.port} +in use by a running Berth`));
    assert.match(r.stdout, /✓ redis +reachable \(PING → PONG\)/);
    assert.match(r.stdout, /- certificate +BERTH_TLS=off/);
    assert.match(r.stdout, /- postgres +BERTH_POSTGRES_URL not set/);
    assert.match(r.stdout, /no problems, 1 warning\(s\)/);
  });
});

describe('berth service', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'berth-service-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('install --no-start writes a unit systemd verifies and a 0600 settings file; uninstall removes the unit', async () => {
    const unitDir = path.join(dir, 'units');
    const envFile = path.join(dir, 'etc', 'berth.env');
    const r = await cli(['service', 'install', '--no-start', '--unit-dir', unitDir, '--settings-file', envFile], {
      BERTH_DATA_DIR: path.join(dir, 'data'),
      BERTH_RUNTIME: 'podman',
      BERTH_ADMIN_PASSWORD: 'a "quoted" pass word',
      BERTH_DRAIN_SECONDS: '20',
    });
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /not verified/, 'systemd-analyze (Debian package systemd, installed by scripts/install-deps --test) verified the unit');
    const unit = readFileSync(path.join(unitDir, 'berth.service'), 'utf8');
    assert.match(unit, new RegExp(`^ExecStart=${process.execPath.replace(/[.]/g, '\\.')} ${root}/dist/cli/index\\.js up$`, 'm'));
    assert.match(unit, /^KillMode=process$/m, 'a restart must not kill the workloads');
    assert.match(unit, /^TimeoutStopSec=35s$/m);
    assert.match(unit, /^Restart=on-failure$/m);
    assert.doesNotMatch(unit, /NoNewPrivileges|ProtectSystem/, 'no sandbox the containers would inherit on podman');
    assert.equal(statSync(envFile).mode & 0o777, 0o600);
    const settings = readFileSync(envFile, 'utf8');
    assert.match(settings, new RegExp(`^BERTH_DATA_DIR="${path.join(dir, 'data')}"$`, 'm'), 'the data dir is absolute');
    assert.match(settings, /^BERTH_ADMIN_PASSWORD="a \\"quoted\\" pass word"$/m);
    const un = await cli(['service', 'uninstall', '--no-start', '--unit-dir', unitDir], {});
    assert.equal(un.code, 0, un.stderr);
    assert.equal(existsSync(path.join(unitDir, 'berth.service')), false);
    assert.equal(existsSync(envFile), true, 'settings are kept');
  });

  it('the process runtime gets the sandbox, and the unit still verifies', async () => {
    const unitDir = path.join(dir, 'units-process');
    const r = await cli(['service', 'install', '--no-start', '--unit-dir', unitDir, '--settings-file', path.join(dir, 'p.env')], { BERTH_DATA_DIR: path.join(dir, 'pdata'), BERTH_RUNTIME: 'process' });
    assert.equal(r.code, 0, r.stderr);
    const unit = readFileSync(path.join(unitDir, 'berth.service'), 'utf8');
    assert.match(unit, /^NoNewPrivileges=yes$/m);
    assert.match(unit, new RegExp(`^ReadWritePaths=${path.join(dir, 'pdata')}$`, 'm'));
  });

  it('refuses a data dir systemd would read as a specifier, and says systemd is absent when it is', async () => {
    const bad = await cli(['service', 'install', '--no-start', '--unit-dir', path.join(dir, 'u2'), '--settings-file', path.join(dir, 'x.env')], { BERTH_DATA_DIR: path.join(dir, 'data %h') });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /contains whitespace, quotes, "%"/);
    if (existsSync('/run/systemd/system')) return; // a real systemd host: never enable a unit from a test
    const r = await cli(['service', 'install', '--unit-dir', path.join(dir, 'u3'), '--settings-file', path.join(dir, 'y.env')], { BERTH_DATA_DIR: path.join(dir, 'd3') });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /systemd is not running on this host \(PID 1 is .+\): the unit is written but cannot be enabled/);
  });
});
