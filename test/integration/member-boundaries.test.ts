/**
 * Issue 11 (8), what a member can see and do (real daemon, process runtime, real sockets):
 * - app settings (an admin-entered API key) reach members as keys only, in `GET /api/apps`,
 *   `GET /api/apps/:name` and `/api/events`; an app's logs (which may print them) are admins' only;
 * - a forged `Host` on `POST /api/workspaces` does not end up in the URLs Berth stores and shows
 *   to others (links in the dashboard, the private route's sign-in redirect);
 * - the process runtime (no isolation: workloads run as Berth's own user) is refused to members
 *   unless the admin opts in with BERTH_PROCESS_RUNTIME_MEMBERS=allow.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { writeCatalogApp } from '../support/catalog-app.js';
import { startTestDaemon, type TestDaemon } from '../support/daemon.js';

const SECRET = 'sk-live-0123456789abcdef';
const IDLE = [process.execPath, '-e', 'setInterval(() => {}, 1e6)'];

interface Session {
  cookie: string;
  csrf: string;
}

async function addMember(t: TestDaemon, username: string): Promise<Session> {
  assert.equal((await t.api('POST', '/api/users', { username, password: `${username}-password-123`, role: 'member' })).status, 201);
  const res = await fetch(`${t.daemon.url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password: `${username}-password-123` }),
  });
  assert.equal(res.status, 200);
  return { cookie: (res.headers.get('set-cookie') ?? '').split(';')[0]!, csrf: ((await res.json()) as { csrfToken: string }).csrfToken };
}

const as = (s: Session) => ({ token: null, headers: { cookie: s.cookie, 'x-csrf-token': s.csrf } });

/** A raw HTTP request (fetch may not set Host), answering status, headers and body. */
function raw(port: number, method: string, urlPath: string, headers: Record<string, string>, body?: string) {
  return new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: urlPath, headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    // An accepted WebSocket upgrade (101) answers here, not as a response.
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 0, headers: res.headers, body: '' });
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error(`${method} ${urlPath}: no answer in 10 s`)));
    req.end(body);
  });
}

/** The first `app` event of /api/events for `name`, read as `headers` would. */
async function appEventFor(t: TestDaemon, name: string, headers: Record<string, string>): Promise<{ text: string; app: any }> {
  const ac = new AbortController();
  const res = await fetch(`${t.daemon.url}/api/events`, { headers, signal: ac.signal });
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const deadline = Date.now() + 10_000;
  try {
    while (Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      for (const block of buffer.split('\n\n')) {
        const data = /^event: app\ndata: (.*)$/m.exec(block)?.[1];
        if (data && JSON.parse(data).app.name === name) return { text: buffer, app: JSON.parse(data).app };
      }
    }
  } finally {
    ac.abort();
  }
  throw new Error(`no app event for ${name}: ${buffer}`);
}

describe('what members see and run', () => {
  let dir: string;
  let t: TestDaemon;
  let mia: Session;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'berth-members-'));
    // Like many apps, it prints its configuration when it starts.
    await writeCatalogApp(dir, 'keyed', {
      command: [process.execPath, '-e', "console.log('starting with key', process.env.API_KEY); require(process.argv[1])", path.join(dir, 'app.cjs')],
    });
    t = await startTestDaemon({ catalogDirs: [dir], reconcileInterval: 3600 });
    mia = await addMember(t, 'mia');
    const res = await fetch(`${t.daemon.url}/api/apps`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.daemon.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'keyed', settings: { API_KEY: SECRET, MODE: 'fast' } }),
    });
    const lines = (await res.text()).trim().split('\n');
    assert.equal(JSON.parse(lines[lines.length - 1]!).state, 'running', lines.join('\n'));
  });
  after(async () => {
    await t?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('shows app settings to admins and only their names to members (GET /api/apps, /api/apps/:name, /api/events)', async () => {
    const admin = await t.api('GET', '/api/apps');
    assert.deepEqual(admin.body.apps[0].settings, { API_KEY: SECRET, MODE: 'fast' });
    assert.equal(admin.body.apps[0].settingsRedacted, false);

    const list = await t.api('GET', '/api/apps', undefined, as(mia));
    assert.equal(list.status, 200);
    assert.deepEqual(list.body.apps[0].settings, { API_KEY: null, MODE: null });
    assert.equal(list.body.apps[0].settingsRedacted, true);
    const one = await t.api('GET', '/api/apps/keyed', undefined, as(mia));
    assert.deepEqual(one.body.settings, { API_KEY: null, MODE: null });
    assert.ok(!JSON.stringify(list.body).includes(SECRET) && !JSON.stringify(one.body).includes(SECRET));

    const event = await appEventFor(t, 'keyed', { cookie: mia.cookie });
    assert.deepEqual(event.app.settings, { API_KEY: null, MODE: null });
    assert.ok(!event.text.includes(SECRET), 'the secret went out on the event stream');
    const adminEvent = await appEventFor(t, 'keyed', { authorization: `Bearer ${t.daemon.token}` });
    assert.equal(adminEvent.app.settings.API_KEY, SECRET);

    // An admin's token without the admin scope reads like a member.
    const narrow = await t.api('POST', '/api/tokens', { name: 'ro', scopes: ['read'] });
    const viaNarrow = await t.api('GET', '/api/apps', undefined, { token: narrow.body.token });
    assert.deepEqual(viaNarrow.body.apps[0].settings, { API_KEY: null, MODE: null });
  });

  it("keeps an app's logs (which may print its settings) to admins", async () => {
    const admin = await t.api('GET', '/api/apps/keyed/logs');
    assert.equal(admin.status, 200);
    assert.match(admin.body, new RegExp(`starting with key ${SECRET}`));
    const member = await t.api('GET', '/api/apps/keyed/logs', undefined, as(mia));
    assert.equal(member.status, 403, typeof member.body === 'string' ? member.body : JSON.stringify(member.body));
    assert.equal(member.body.error.code, 'E_FORBIDDEN');
  });

  it('refuses the process runtime to members (403 E_FORBIDDEN with a hint); admins keep it', async () => {
    const res = await t.api('POST', '/api/workspaces', { name: 'mia-ws', command: IDLE }, as(mia));
    assert.equal(res.status, 403, JSON.stringify(res.body));
    assert.equal(res.body.error.code, 'E_FORBIDDEN');
    assert.match(res.body.error.hint, /BERTH_PROCESS_RUNTIME_MEMBERS=allow/);
    assert.equal((await t.api('GET', '/api/workspaces')).body.workspaces.filter((w: any) => w.name === 'mia-ws').length, 0, 'nothing was created');

    const admin = await t.api('POST', '/api/workspaces', { name: 'admin-ws', command: IDLE });
    assert.equal(admin.status, 201, JSON.stringify(admin.body));
    assert.equal((await t.api('DELETE', `/api/workspaces/${admin.body.id}`)).status, 204);
  });

  it("refuses a member's start and shell on the process runtime, even on a workspace of their own", async () => {
    // Made for mia by Berth itself (as if created while members were allowed).
    const miaId = (await t.api('GET', '/api/users')).body.users.find((u: any) => u.username === 'mia').id;
    const own = await t.daemon.workspaces.create({ name: 'mia-old', command: IDLE }, { proto: 'http', host: `127.0.0.1:${t.daemon.port}`, basePath: '' }, miaId);
    assert.equal((await t.api('GET', `/api/workspaces/${own.id}`, undefined, as(mia))).status, 200, 'mia sees her workspace');

    const shell = await raw(t.daemon.port, 'GET', `/api/workspaces/${own.id}/exec?cmd=id`, {
      cookie: mia.cookie,
      origin: t.daemon.url,
      connection: 'Upgrade',
      upgrade: 'websocket',
      'sec-websocket-version': '13',
      'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
    });
    assert.equal(shell.status, 403, shell.body);
    assert.match(shell.body, /only admins may open a shell/);

    assert.equal((await t.api('POST', `/api/workspaces/${own.id}/stop`, undefined, as(mia))).status, 200);
    const start = await t.api('POST', `/api/workspaces/${own.id}/start`, undefined, as(mia));
    assert.equal(start.status, 403, JSON.stringify(start.body));
    assert.equal(start.body.error.code, 'E_FORBIDDEN');
    assert.equal((await t.api('DELETE', `/api/workspaces/${own.id}`, undefined, as(mia))).status, 204, 'stopping and deleting stay allowed');
  });

  it('keeps a forged Host out of stored workspace URLs and the private sign-in redirect', async () => {
    const port = t.daemon.port;
    const forged = `evil.example:${port}`;
    const created = await raw(port, 'POST', '/api/workspaces', { host: forged, authorization: `Bearer ${t.daemon.token}`, 'content-type': 'application/json' }, JSON.stringify({ name: 'forged', command: IDLE }));
    assert.equal(created.status, 201, created.body);
    const ws = JSON.parse(created.body);
    assert.ok(!created.body.includes('evil.example'), created.body);
    const apps = t.daemon.appsPort;
    assert.equal(ws.ports[0].url, `http://127.0.0.1:${apps}/hosted/${ws.id}/${ws.ports[0].hostPort}/`);
    // As an admin reads it later, from another address.
    const listed = await t.api('GET', `/api/workspaces/${ws.id}`);
    assert.ok(!JSON.stringify(listed.body).includes('evil.example'), JSON.stringify(listed.body));
    // The private route's sign-in redirect points at Berth, not at the creator's host.
    const page = await raw(apps, 'GET', `/hosted/${ws.id}/${ws.ports[0].hostPort}/`, { host: `127.0.0.1:${apps}`, accept: 'text/html' });
    assert.equal(page.status, 302);
    assert.ok(!(page.headers.location ?? '').includes('evil.example'), page.headers.location);
    assert.ok((page.headers.location ?? '').startsWith(`http://127.0.0.1:${port}/`), page.headers.location);

    // Only links are built from trusted addresses: a browser that reached the dashboard by a name
    // Berth cannot vouch for still logs in there (its Origin matches the Host it sent).
    const byName = await raw(port, 'POST', '/api/auth/login', { host: `berth.lan:${port}`, origin: `http://berth.lan:${port}`, 'content-type': 'application/json' }, JSON.stringify({ username: 'mia', password: 'mia-password-123' }));
    assert.equal(byName.status, 200, byName.body);

    // A Host naming an address Berth answers on is kept: localhost on this port.
    const local = await raw(port, 'POST', '/api/workspaces', { host: `localhost:${port}`, authorization: `Bearer ${t.daemon.token}`, 'content-type': 'application/json' }, JSON.stringify({ name: 'local', command: IDLE }));
    assert.equal(local.status, 201, local.body);
    assert.match(JSON.parse(local.body).ports[0].url, new RegExp(`^http://localhost:${apps}/hosted/`));
    // The right name on the wrong port is not Berth either.
    const otherPort = await raw(port, 'POST', '/api/workspaces', { host: 'localhost:1', authorization: `Bearer ${t.daemon.token}`, 'content-type': 'application/json' }, JSON.stringify({ name: 'other-port', command: IDLE }));
    assert.match(JSON.parse(otherPort.body).ports[0].url, new RegExp(`^http://127\\.0\\.0\\.1:${apps}/hosted/`));
  });
});

describe('BERTH_PROCESS_RUNTIME_MEMBERS=allow', () => {
  let t: TestDaemon;
  before(async () => {
    t = await startTestDaemon({ processRuntimeMembers: 'allow' });
  });
  after(async () => {
    await t?.stop();
  });

  it('lets members run workloads on the process runtime', async () => {
    const kim = await addMember(t, 'kim');
    const res = await t.api('POST', '/api/workspaces', { name: 'kim-ws', command: IDLE }, as(kim));
    assert.equal(res.status, 201, JSON.stringify(res.body));
  });
});
