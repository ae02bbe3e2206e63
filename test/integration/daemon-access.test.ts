// The edge's access decisions through the daemon's real wiring: the hosted-access hook, the
// one-time hand-off, the two origins and the own-host rule, as `startDaemon` builds them (no
// stand-in hooks). Each workspace runs a command that does not listen; the test binds a recording
// upstream on its host port, so "never dialled" is a count of accepted TCP connections.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestDaemon, TEST_ADMIN_PASSWORD, type TestDaemon } from '../support/daemon.js';
import { get, rawRequest, startUpstream, type TestUpstream } from '../support/edge-harness.js';

/** A workload that only sleeps: its route exists, the test's upstream answers on its port. */
const SLEEP = [process.execPath, '-e', 'setInterval(() => {}, 1 << 30)'];

interface Served {
  id: string;
  hostPort: number;
  pathUrl: string;
  up: TestUpstream;
}

/** A private workspace of the admin whose port is answered by a recording upstream. */
async function servedWorkspace(t: TestDaemon, name: string): Promise<Served> {
  const res = await t.api('POST', '/api/workspaces', { name, command: SLEEP });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  assert.equal(res.body.visibility, 'private');
  const hostPort = res.body.ports[0].hostPort as number;
  return { id: res.body.id, hostPort, pathUrl: `/hosted/${res.body.id}/${hostPort}/`, up: await startUpstream(undefined, hostPort) };
}

/** An admin dashboard session made the way /api/auth/login makes it (no Origin games). */
async function adminCookie(t: TestDaemon): Promise<string> {
  const { sessionId } = await t.daemon.auth.login('admin', TEST_ADMIN_PASSWORD, '127.0.0.1');
  return `berth_session=${sessionId}`;
}

const upgradeHeaders = 'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';

describe('private routes through the daemon’s access hook', () => {
  let t: TestDaemon;
  let w: Served;

  before(async () => {
    t = await startTestDaemon({ appsDomain: 'apps.test' });
    w = await servedWorkspace(t, 'vault');
  });
  after(async () => {
    await w.up.close();
    await t.stop();
  });

  it('the recording upstream is the route’s upstream: the admin token reaches it, without Berth’s credentials', async () => {
    const res = await get(t.daemon.appsPort, `${w.pathUrl}probe`, { Authorization: `Bearer ${t.daemon.token}` });
    assert.equal(res.status, 200, res.body);
    const seen = JSON.parse(res.body) as { url: string; headers: Record<string, string> };
    assert.equal(seen.url, '/probe');
    assert.equal(seen.headers.authorization, undefined);
    assert.equal(w.up.connections, 1);
  });

  it('refuses without a credential whatever the request looks like (no Accept, POST, HEAD, upgrade), never dialling', async () => {
    const before = w.up.connections;
    const bare = await get(t.daemon.appsPort, w.pathUrl);
    assert.equal(bare.status, 401);
    assert.match(bare.headers['content-type'] ?? '', /text\/html/);
    assert.match(bare.body, /is private: log in to Berth first/);
    // Only a GET for a page is sent to sign in: the others cannot follow a redirect into a login.
    for (const method of ['POST', 'HEAD', 'DELETE']) {
      const res = await get(t.daemon.appsPort, w.pathUrl, { Accept: 'text/html', 'Content-Length': '0' }, { method });
      assert.equal(res.status, 401, method);
      assert.equal(res.headers.location, undefined, method);
    }
    const up = await rawRequest(t.daemon.appsPort, `GET ${w.pathUrl} HTTP/1.1\r\nHost: x\r\n${upgradeHeaders}\r\n`);
    assert.equal(up.status, 401);
    assert.match(up.body, /is private/);
    // A Berth session cookie from the dashboard origin is no credential on the apps origin.
    const dash = await get(t.daemon.appsPort, w.pathUrl, { Cookie: await adminCookie(t), Accept: 'application/json' });
    assert.equal(dash.status, 401);
    assert.equal(w.up.connections, before, 'a refused request reached the upstream');
  });

  it('the apps-origin hand-off: no ticket or a spent one is 401; a good ticket without next lands on /', async () => {
    const none = await get(t.daemon.appsPort, '/__berth/handoff?next=/x', { Accept: 'application/json' });
    assert.equal(none.status, 401);
    assert.equal(JSON.parse(none.body).error.code, 'E_UNAUTHORIZED');
    assert.equal(none.headers['set-cookie'], undefined);

    const to = `${t.daemon.appsUrl}${w.pathUrl}`;
    const minted = await get(t.daemon.port, `/api/auth/handoff?to=${encodeURIComponent(to)}`, { Cookie: await adminCookie(t) });
    assert.equal(minted.status, 302, minted.body);
    const ticket = new URL(minted.headers.location!).searchParams.get('ticket')!;
    const redeemed = await get(t.daemon.appsPort, `/__berth/handoff?ticket=${ticket}`);
    assert.equal(redeemed.status, 302);
    assert.equal(redeemed.headers.location, '/');
    const cookie = redeemed.headers['set-cookie']!;
    assert.match(cookie, /^berth_app_session=[\w-]+; Path=\/; HttpOnly; SameSite=Lax$/, 'plain http: no Secure');
    const again = await get(t.daemon.appsPort, `/__berth/handoff?ticket=${ticket}&next=/`);
    assert.equal(again.status, 401, 'a ticket works once');

    // The session it set opens the route (and only on the apps origin).
    const session = cookie.split(';')[0]!;
    assert.equal((await get(t.daemon.appsPort, w.pathUrl, { Cookie: session })).status, 200);
  });
});

describe('sign-in and hand-off on https public origins (BERTH_PUBLIC_URL, BERTH_APPS_URL)', () => {
  let t: TestDaemon;
  let w: Served;
  let appHost: string;

  before(async () => {
    t = await startTestDaemon({ appsDomain: 'apps.example', publicUrl: 'https://berth.example', appsUrl: 'https://apps.example' });
    w = await servedWorkspace(t, 'tls');
    appHost = `${w.hostPort}--${w.id}.apps.example`;
  });
  after(async () => {
    await w.up.close();
    await t.stop();
  });

  it('a browser on a private app host is sent to the https dashboard’s hand-off with an https return URL', async () => {
    const res = await get(t.daemon.port, '/deep/page?q=1', { Host: appHost, Accept: 'text/html' });
    assert.equal(res.status, 302);
    assert.equal(res.headers.location, `https://berth.example/api/auth/handoff?to=${encodeURIComponent(`https://${appHost}/deep/page?q=1`)}`);
    assert.equal(w.up.connections, 0);
  });

  it('the app-host hand-off sets a Secure session cookie bound to that host', async () => {
    const to = `https://${appHost}/deep/page`;
    const minted = await get(t.daemon.port, `/api/auth/handoff?to=${encodeURIComponent(to)}`, { Cookie: await adminCookie(t) });
    assert.equal(minted.status, 302, minted.body);
    const target = new URL(minted.headers.location!);
    assert.equal(target.origin, `https://${appHost}`);
    const res = await get(t.daemon.port, `${target.pathname}${target.search}`, { Host: appHost });
    assert.equal(res.status, 302, res.body);
    assert.equal(res.headers.location, '/deep/page');
    assert.match(res.headers['set-cookie'] ?? '', /^berth_app_session=[\w-]+; Path=\/; HttpOnly; SameSite=Lax; Secure$/);
    const session = res.headers['set-cookie']!.split(';')[0]!;
    const opened = await get(t.daemon.port, '/deep/page', { Host: appHost, Cookie: session });
    assert.equal(opened.status, 200, opened.body);
    assert.equal(JSON.parse(opened.body).headers.cookie, undefined, 'the upstream saw Berth’s app session');
  });

  it('the apps-origin hand-off sets a Secure cookie when the apps URL is https', async () => {
    const to = `https://apps.example${w.pathUrl}`;
    const minted = await get(t.daemon.port, `/api/auth/handoff?to=${encodeURIComponent(to)}`, { Cookie: await adminCookie(t) });
    assert.equal(minted.status, 302, minted.body);
    const target = new URL(minted.headers.location!);
    assert.equal(target.origin, 'https://apps.example');
    const res = await get(t.daemon.appsPort, `${target.pathname}${target.search}`, { Host: 'apps.example' });
    assert.equal(res.status, 302, res.body);
    assert.equal(res.headers.location, w.pathUrl);
    assert.match(res.headers['set-cookie'] ?? '', /; Secure$/);
  });
});

describe('a foreign Host never makes it into a redirect (own-host rule)', () => {
  let t: TestDaemon;
  let w: Served;

  before(async () => {
    t = await startTestDaemon({ host: '::1' });
    w = await servedWorkspace(t, 'six');
  });
  after(async () => {
    await w.up.close();
    await t.stop();
  });

  it('IPv6 listener: a path route on the dashboard origin is sent to [::1] on the apps port, not to the Host sent', async () => {
    const res = await get(t.daemon.port, `${w.pathUrl}a?b=1`, { Host: 'evil.example' }, { host: '::1' });
    assert.equal(res.status, 308);
    assert.equal(res.headers.location, `http://[::1]:${t.daemon.appsPort}${w.pathUrl}a?b=1`);
    const own = await get(t.daemon.port, w.pathUrl, { Host: `[::1]:${t.daemon.port}` }, { host: '::1' });
    assert.equal(own.headers.location, `http://[::1]:${t.daemon.appsPort}${w.pathUrl}`);
    assert.equal(w.up.connections, 0);
  });
});

describe('a trusted proxy names the host (BERTH_TRUSTED_PROXIES)', () => {
  let t: TestDaemon;
  let w: Served;

  before(async () => {
    t = await startTestDaemon({ trustedProxies: '127.0.0.1' });
    w = await servedWorkspace(t, 'behind');
  });
  after(async () => {
    await w.up.close();
    await t.stop();
  });

  it('its X-Forwarded-Host/-Proto build the apps-origin redirect; a Host alone from it still counts', async () => {
    const res = await get(t.daemon.port, w.pathUrl, { Host: 'internal:1', 'X-Forwarded-Host': 'proxy.example', 'X-Forwarded-Proto': 'https' });
    assert.equal(res.status, 308);
    assert.equal(res.headers.location, `https://proxy.example:${t.daemon.appsPort}${w.pathUrl}`);
    const plain = await get(t.daemon.port, w.pathUrl, { Host: 'proxy.example' });
    assert.equal(plain.headers.location, `http://proxy.example:${t.daemon.appsPort}${w.pathUrl}`);
  });
});
