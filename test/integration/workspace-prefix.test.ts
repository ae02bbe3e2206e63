/**
 * Prefix mode per workspace port against a real daemon: `keep` ports receive the full public path
 * (outer prefix included) at create and after a PATCH, applied by the edge at once; refusals carry
 * codes and hints; path tricks on a keep route never reach another workspace or an unallocated
 * port; the CLI's --keep-prefix and `ws port`; and on podman, a container told its base path by
 * BERTH_BASE_PATH_8001 and `berth-url --base-path`.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { promisify } from 'node:util';
import { startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { ECHO_SERVER } from '../support/workloads.js';
import { ensureTestImage } from '../support/test-image.js';
import { requireOrSkip } from '../support/require.js';

const run = promisify(execFile);
const podmanMissing = await run('podman', ['--version']).then(() => false, () => true);
const ROOT = path.resolve(import.meta.dirname, '../..');

/** GET with the request target exactly as given (fetch would normalize `..` away). */
function rawGet(base: string, target: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path: target, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The echo workload's view of a request (its path, headers, env), once it answers. */
async function echo(base: string, target: string, headers: Record<string, string> = {}): Promise<{ url: string; headers: Record<string, string>; env: Record<string, string> }> {
  for (let i = 0; ; i++) {
    const r = await rawGet(base, target, headers).catch(() => ({ status: 0, body: '' }));
    if (r.status === 200) return JSON.parse(r.body);
    if (i > 100) throw new Error(`${target}: ${r.status} ${r.body}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

function cli(t: TestDaemon, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env = { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BERTH_'))), BERTH_URL: t.daemon.url, BERTH_DATA_DIR: t.dataDir };
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli/index.ts'), ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d));
  child.stderr.on('data', (d: Buffer) => (stderr += d));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

describe('prefix mode per port (process runtime)', () => {
  let t: TestDaemon;
  let a: any; // keep on its first port, public
  let b: any; // strip, private
  before(async () => {
    t = await startTestDaemon();
    a = (await t.api('POST', '/api/workspaces', { name: 'keeper', visibility: 'public', command: ECHO_SERVER, ports: [{ index: 0, prefix: 'keep', label: 'echo' }] })).body;
    b = (await t.api('POST', '/api/workspaces', { name: 'other', command: ECHO_SERVER })).body;
    assert.equal(a.state, 'running', JSON.stringify(a));
    assert.equal(b.state, 'running', JSON.stringify(b));
  });
  after(async () => {
    await t?.stop();
  });

  it('a keep port gets the full path and still X-Forwarded-Prefix; the API shows prefix, label and base path', async () => {
    const [p0, p1] = a.ports;
    const base = `/hosted/${a.id}/${p0.hostPort}/`;
    assert.deepEqual({ prefix: p0.prefix, label: p0.label, basePath: p0.basePath, url: p0.url }, { prefix: 'keep', label: 'echo', basePath: base, url: `${t.daemon.appsUrl}${base}` });
    assert.equal(p1.prefix, 'strip');
    const seen = await echo(t.daemon.appsUrl, `${base}tree/x?q=1`);
    assert.equal(seen.url, `${base}tree/x?q=1`);
    assert.equal(seen.headers['x-forwarded-prefix'], base.slice(0, -1));
    assert.equal(seen.env.BERTH_BASE_PATH, base);
    assert.equal(seen.env[`BERTH_BASE_PATH_${p0.containerPort}`], base);
    assert.equal(seen.env[`BERTH_BASE_PATH_${p1.containerPort}`], `/hosted/${a.id}/${p1.hostPort}/`);
  });

  it('PATCH changes a port’s mode and the edge applies it at once, without touching the workload', async () => {
    const p0 = a.ports[0];
    const base = `/hosted/${a.id}/${p0.hostPort}/`;
    const strip = await t.api('PATCH', `/api/workspaces/${a.name}`, { ports: [{ hostPort: p0.hostPort, prefix: 'strip' }] });
    assert.equal(strip.status, 200, JSON.stringify(strip.body));
    assert.equal(strip.body.ports[0].prefix, 'strip');
    assert.equal((await echo(t.daemon.appsUrl, `${base}tree`)).url, '/tree', 'the very next request is stripped');
    const keep = await t.api('PATCH', `/api/workspaces/${a.id}`, { ports: [{ containerPort: p0.containerPort, prefix: 'keep' }] });
    assert.equal(keep.body.ports[0].prefix, 'keep');
    const seen = await echo(t.daemon.appsUrl, `${base}tree`);
    assert.equal(seen.url, `${base}tree`);
    assert.equal(seen.env.BERTH_BASE_PATH, base, 'env unchanged: the same base path in both modes');
    assert.equal((await t.api('GET', `/api/workspaces/${a.id}`)).body.ports[0].prefix, 'keep', 'stored');
  });

  it('refuses unknown ports and malformed port entries with a code and a hint, changing nothing', async () => {
    const before = (await t.api('GET', '/api/status')).body;
    const creates: [unknown, string, RegExp][] = [
      [[{ containerPort: 8000, prefix: 'keep' }], 'E_UNKNOWN_PORT', /name it by index/],
      [[{ index: 9, prefix: 'keep' }], 'E_UNKNOWN_PORT', /indexes 0 to 4/],
      [[{ hostPort: a.ports[0].hostPort, prefix: 'keep' }], 'E_UNKNOWN_PORT', /allocated by the create/],
      [[{ index: 0, containerPort: 8000, prefix: 'keep' }], 'E_BAD_REQUEST', /exactly one of/],
      [[{ prefix: 'keep' }], 'E_BAD_REQUEST', /exactly one of/],
      [[{ index: 0, prefix: 'sideways' }], 'E_BAD_REQUEST', /./],
      [[{ index: 0, prefix: 'keep' }, { index: 0 }], 'E_BAD_REQUEST', /give each port once/],
      [[{ index: 0, label: 'a\nb' }], 'E_BAD_REQUEST', /./],
      ['keep', 'E_BAD_REQUEST', /./],
    ];
    for (const [ports, code, hint] of creates) {
      const res = await t.api('POST', '/api/workspaces', { name: 'refused', command: ECHO_SERVER, ports });
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.equal(res.body.error.code, code, JSON.stringify(ports));
      assert.match(`${res.body.error.message} ${res.body.error.hint ?? ''}`, hint, JSON.stringify(res.body));
    }
    const patches: [unknown, string][] = [
      [{ ports: [{ hostPort: b.ports[0].hostPort, prefix: 'keep' }] }, 'E_UNKNOWN_PORT'], // another workspace's port
      [{ ports: [{ hostPort: a.ports[4].hostPort + 1, prefix: 'keep' }] }, 'E_UNKNOWN_PORT'],
      [{ ports: [{ index: 5, prefix: 'keep' }] }, 'E_UNKNOWN_PORT'],
      [{ ports: [{ index: 0, prefix: 'keep', label: 'x' }] }, 'E_BAD_REQUEST'],
      [{ ports: [{ index: 0 }] }, 'E_BAD_REQUEST'],
      [{ ports: [] }, 'E_BAD_REQUEST'],
      [{}, 'E_BAD_REQUEST'],
    ];
    for (const [body, code] of patches) {
      const res = await t.api('PATCH', `/api/workspaces/${a.id}`, body);
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.equal(res.body.error.code, code, JSON.stringify(body));
      assert.ok(res.body.error.hint, JSON.stringify(res.body));
    }
    const after = (await t.api('GET', '/api/status')).body;
    assert.deepEqual(after.ports, before.ports, 'no port allocated or released');
    assert.equal((await t.api('GET', '/api/workspaces/refused')).status, 404);
    assert.deepEqual((await t.api('GET', `/api/workspaces/${a.id}`)).body.ports.map((p: any) => p.prefix), ['keep', 'strip', 'strip', 'strip', 'strip']);
  });

  it('a keep route never leads to another workspace, an unallocated port, or out of its base', async () => {
    const hp = a.ports[0].hostPort;
    const base = `/hosted/${a.id}/${hp}/`;
    const other = `${b.id}/${b.ports[0].hostPort}`;
    // Refused outright (404), never dialled.
    for (const target of [
      `${base}%2e%2e/%2e%2e/${other}/`,
      `${base}%2E%2E/${a.ports[1].hostPort}/`,
      `${base}..%2f..%2f${b.id}%2f${b.ports[0].hostPort}/`,
      `${base}%252e%252e/%252e%252e/${other}/`,
      `${base}..;/..;/${other}/`,
      `${base}%5c..%5c..%5c${other}`,
      `${base}/etc/passwd`,
      `/hosted/${a.id}/${hp + 100}/`,
      `/hosted/${a.id}/${b.ports[0].hostPort}/`,
      `/hosted/${b.id}/${hp}/`,
      `/hosted/${a.id}//${hp}/`,
    ]) {
      const r = await rawGet(t.daemon.appsUrl, target);
      assert.equal(r.status, 404, `${target} → ${r.status} ${r.body.slice(0, 200)}`);
      assert.doesNotMatch(r.body, /"env"/, target);
    }
    // `..` that climbs out is resolved first and then authorized as what it names: b is private.
    const climb = await rawGet(t.daemon.appsUrl, `${base}../../${other}/`);
    assert.equal(climb.status, 401, climb.body.slice(0, 200));
    // Inside the base, `//` and `..` stay inside it.
    for (const [target, seen] of [
      [`${base}a//b`, `${base}a//b`],
      [`${base}a/../b`, `${base}b`],
      [`${base}a//../../b`, `${base}b`],
      [`${base}a/./b/.`, `${base}a/b/`],
    ]) {
      assert.equal((await echo(t.daemon.appsUrl, target!)).url, seen, target);
    }
  });

  it('CLI: ws create --keep-prefix @0, ws show, ws port --strip/--keep, and a refused port', async () => {
    const made = await cli(t, ['ws', 'create', 'clikeep', '--public', '--keep-prefix', '@0', '--', ...ECHO_SERVER]);
    assert.equal(made.code, 0, made.stderr);
    assert.match(made.stdout, /→ http:\/\/\S+\/hosted\/\w+\/\d+\/ {2}\(keep prefix: served at \/hosted\/\w+\/\d+\/\)/);
    const ws = (await t.api('GET', '/api/workspaces/clikeep')).body;
    const hp = ws.ports[0].hostPort;
    const strip = await cli(t, ['ws', 'port', 'clikeep', String(hp), '--strip']);
    assert.equal(strip.code, 0, strip.stderr);
    assert.match(strip.stdout, /prefix: strip/);
    assert.equal((await echo(t.daemon.appsUrl, `/hosted/${ws.id}/${hp}/z`)).url, '/z');
    const keep = await cli(t, ['ws', 'port', 'clikeep', '@0', '--keep']);
    assert.match(keep.stdout, /prefix: keep/);
    const bad = await cli(t, ['ws', 'port', 'clikeep', '7', '--keep']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /port 7 is not one of this workspace's ports/);
    const badCreate = await cli(t, ['ws', 'create', 'clibad', '--keep-prefix', '8000', '--', ...ECHO_SERVER]);
    assert.notEqual(badCreate.code, 0);
    assert.match(badCreate.stderr, /container port 8000 is not one of this workspace's ports[\s\S]*name it by index/);
    const badArg = await cli(t, ['ws', 'create', 'clibad', '--keep-prefix', 'x']);
    assert.notEqual(badArg.code, 0);
    assert.match(badArg.stderr, /expected a container port like 8000, or @N/);
  });
});

describe('keep ports behind an outer sub-path: the upstream sees the outer prefix too', () => {
  let t: TestDaemon;
  before(async () => {
    t = await startTestDaemon({ publicUrl: 'http://berth.example.com/berth', appsUrl: 'http://apps.example.com/outer', trustedProxies: ['127.0.0.1/32'] });
  });
  after(async () => {
    await t?.stop();
  });

  it('forwards /outer/hosted/{id}/{port}/…, the path BERTH_BASE_PATH_<port> names', async () => {
    const ws = (await t.api('POST', '/api/workspaces', { name: 'sub', visibility: 'public', command: ECHO_SERVER, ports: [{ index: 0, prefix: 'keep' }] })).body;
    const p = ws.ports[0];
    assert.equal(p.basePath, `/outer/hosted/${ws.id}/${p.hostPort}/`);
    assert.equal(p.url, `http://apps.example.com${p.basePath}`);
    // What the outer proxy sends: its prefix stripped, named in X-Forwarded-Prefix.
    const proxied = { host: 'apps.example.com', 'x-forwarded-host': 'apps.example.com', 'x-forwarded-proto': 'http', 'x-forwarded-prefix': '/outer' };
    const seen = await echo(t.daemon.url, `/hosted/${ws.id}/${p.hostPort}/api/kernels?x=1`, proxied);
    assert.equal(seen.url, `${p.basePath}api/kernels?x=1`);
    assert.equal(seen.env[`BERTH_BASE_PATH_${p.containerPort}`], p.basePath);
    assert.equal(seen.headers['x-forwarded-prefix'], p.basePath.slice(0, -1));
    // Back to strip: the outer prefix and the route prefix are both gone again.
    await t.api('PATCH', `/api/workspaces/${ws.id}`, { ports: [{ index: 0, prefix: 'strip' }] });
    const strip = await echo(t.daemon.url, `/hosted/${ws.id}/${p.hostPort}/a`, proxied);
    assert.equal(strip.url, '/a');
    assert.equal(strip.headers['x-forwarded-prefix'], p.basePath.slice(0, -1));
  });
});

describe('prefix mode on podman', { skip: requireOrSkip('podman', !podmanMissing, 'podman is not installed (scripts/install-deps --test installs it)') }, () => {
  let t: TestDaemon;
  let image: string;
  before(async () => {
    t = await startTestDaemon({ runtime: 'podman' });
    image = await ensureTestImage('podman', { CONTAINERS_CONF: path.join(t.dataDir, 'containers.conf') });
  });
  after(async () => {
    await t?.stop();
  });

  it('a container port is named at create; the workload serves under BERTH_BASE_PATH_8001 as berth-url --base-path prints it', async () => {
    // The workload's own shell: it files its page under its base path, as a base-path-aware tool would.
    const script = 'd="/www$BERTH_BASE_PATH_8001"; mkdir -p "$d" && berth-url --base-path 8001 > "${d}index.html" && exec httpd -f -p 8001 -h /www';
    const res = await t.api('POST', '/api/workspaces', { name: 'boxkeep', visibility: 'public', image, command: ['sh', '-c', script], ports: [{ containerPort: 8001, prefix: 'keep' }] });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const p = res.body.ports.find((x: any) => x.containerPort === 8001);
    assert.equal(p.prefix, 'keep');
    let body = '';
    for (let i = 0; i < 100 && body !== `${p.basePath}\n`; i++) {
      body = await fetch(p.url).then((r) => r.text(), () => '');
      if (body !== `${p.basePath}\n`) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(body, `${p.basePath}\n`);
    const refused = await t.api('POST', '/api/workspaces', { name: 'boxbad', image, ports: [{ containerPort: 8005, prefix: 'keep' }] });
    assert.equal(refused.body.error.code, 'E_UNKNOWN_PORT');
    assert.match(refused.body.error.hint, /8000 to 8004/);
  });
});
