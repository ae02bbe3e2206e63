// The two origins of a real daemon: workload content only on the apps origin, the API only on the
// dashboard origin, and cookie-authenticated API calls only from the dashboard's own pages.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { loadConfig } from '../../src/config/load.js';
import { isBerthError } from '../../src/errors.js';
import { startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { ECHO_SERVER } from '../support/workloads.js';
import { login, rawAt, type Session } from '../support/origins.js';

/** Waits (up to 30 s: the machine may be loaded) until the workload answers 200 on the apps origin. */
async function untilServed(t: TestDaemon, path: string): Promise<void> {
  let last = 0;
  for (let i = 0; i < 300; i++) {
    last = (await rawAt(t.daemon.appsUrl, path)).status;
    if (last === 200) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the workload never answered at ${path} (last status ${last})`);
}

/** Status of a WebSocket handshake (101 when it opened). */
function upgradeStatus(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const c = new WebSocket(url, { headers });
    c.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    c.on('open', () => {
      resolve({ status: 101, body: '' });
      c.close();
    });
    c.on('error', () => {});
  });
}

describe('two origins', () => {
  let t: TestDaemon;
  let ws: any;
  let pathUrl: string;
  let admin: Session;

  before(async () => {
    t = await startTestDaemon();
    const res = await t.api('POST', '/api/workspaces', { name: 'pub', visibility: 'public', command: ECHO_SERVER });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    ws = res.body;
    pathUrl = `/hosted/${ws.id}/${ws.ports[0].hostPort}/`;
    await untilServed(t, pathUrl);
    admin = await login(t, 'admin', 'test-admin-password');
  });
  after(async () => {
    await t?.stop();
  });

  it('the dashboard origin sends every hosted and embedded target to the apps origin (308, query kept)', async () => {
    for (const target of [`${pathUrl}a/b?x=1&y=%2F`, `/hosted/${ws.id}/${ws.ports[0].hostPort}`, '/hosted/nobody/1/', '//hosted/x', '/embed/nothing/?q', '/embed']) {
      const res = await rawAt(t.daemon.url, target);
      assert.equal(res.status, 308, `${target} → ${res.status}`);
      assert.equal(res.headers.location, t.daemon.appsUrl + target);
    }
    // The API and the dashboard stay where they are.
    assert.equal((await rawAt(t.daemon.url, '/api/health')).status, 200);
    assert.equal((await rawAt(t.daemon.url, '/hostedx')).status, 200, 'a dashboard path that only starts like /hosted');
  });

  it('a WebSocket to a hosted route on the dashboard origin is refused and told where to go', async () => {
    const res = await upgradeStatus(`${t.daemon.url.replace('http', 'ws')}${pathUrl}`, { accept: 'application/json' });
    assert.equal(res.status, 404);
    assert.match(res.body, /E_WRONG_ORIGIN/);
    assert.ok(res.body.includes(t.daemon.appsUrl), res.body);
  });

  it('the apps origin answers nothing but workloads: no API, dashboard, metrics, LLM, webhooks or exec', async () => {
    for (const target of ['/', '/index.html', '/api/health', '/api/auth/me', '/metrics', '/llm/v1/models', '/webhooks/github', '/assets/x.js']) {
      const res = await rawAt(t.daemon.appsUrl, target, { authorization: `Bearer ${t.daemon.token}`, cookie: admin.cookie });
      assert.equal(res.status, 404, `${target} → ${res.status} ${res.body.slice(0, 80)}`);
      assert.doesNotMatch(res.body, /csrfToken|<script/);
    }
    const post = await rawAt(t.daemon.appsUrl, '/api/users', { authorization: `Bearer ${t.daemon.token}`, 'content-type': 'application/json' }, 'POST');
    assert.equal(post.status, 404);
    const exec = await upgradeStatus(`${t.daemon.appsUrl.replace('http', 'ws')}/api/workspaces/${ws.id}/exec`, { authorization: `Bearer ${t.daemon.token}` });
    assert.equal(exec.status, 404, 'the exec shell is not on the apps origin');
    assert.equal((await rawAt(t.daemon.appsUrl, pathUrl)).status, 200, 'while the workload is');
  });

  it('cookie-authenticated API calls are refused from any origin but the dashboard’s', async () => {
    const me = (headers: Record<string, string>) => rawAt(t.daemon.url, '/api/auth/me', { cookie: admin.cookie, ...headers });
    assert.equal((await me({})).status, 200, 'no browser headers: a script with the cookie');
    assert.equal((await me({ 'sec-fetch-site': 'same-origin', origin: t.daemon.url })).status, 200);
    assert.equal((await me({ 'sec-fetch-site': 'none' })).status, 200, 'typed into the address bar');
    for (const headers of [{ 'sec-fetch-site': 'same-site' } as Record<string, string>, { 'sec-fetch-site': 'cross-site' }, { origin: t.daemon.appsUrl }, { origin: 'null' }]) {
      const res = await me(headers);
      assert.equal(res.status, 403, JSON.stringify(headers));
      assert.equal(JSON.parse(res.body).error.code, 'E_CROSS_ORIGIN');
    }
    // A state change from the apps origin fails even with the CSRF token.
    const made = await rawAt(t.daemon.url, '/api/tokens', { cookie: admin.cookie, 'x-csrf-token': admin.csrf, 'sec-fetch-site': 'same-site', origin: t.daemon.appsUrl, 'content-type': 'application/json' }, 'POST');
    assert.equal(made.status, 403);
    // Logging in from another origin is refused too (no login CSRF); tokens are not browser credentials.
    const loginFromApps = await fetch(`${t.daemon.url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: t.daemon.appsUrl, 'sec-fetch-site': 'same-site' },
      body: JSON.stringify({ username: 'admin', password: 'test-admin-password' }),
    });
    assert.equal(loginFromApps.status, 403);
    assert.equal((await rawAt(t.daemon.url, '/api/auth/me', { authorization: `Bearer ${t.daemon.token}`, 'sec-fetch-site': 'cross-site' })).status, 200);
  });

  it('workloads are told the apps origin (BERTH_HOSTING_*), and berth-url prints it', async () => {
    const page = JSON.parse((await rawAt(t.daemon.appsUrl, pathUrl)).body);
    assert.equal(`http://${page.env.BERTH_HOSTING_HOSTNAME}`, t.daemon.appsUrl);
    assert.equal(ws.ports[0].url, `${t.daemon.appsUrl}${pathUrl}`);
  });
});

describe('two origins behind an outer proxy: BERTH_PUBLIC_URL and BERTH_APPS_URL', () => {
  let t: TestDaemon;
  let pathUrl: string;

  before(async () => {
    t = await startTestDaemon({ publicUrl: 'https://berth.example.com', appsUrl: 'https://apps.example.com/x', trustedProxies: ['127.0.0.1/32'] });
    const res = await t.api('POST', '/api/workspaces', { name: 'pub', visibility: 'public', command: ECHO_SERVER });
    pathUrl = `/hosted/${res.body.id}/${res.body.ports[0].hostPort}/`;
    assert.equal(res.body.ports[0].url, `https://apps.example.com/x${pathUrl}`);
    await untilServed(t, pathUrl);
  });
  after(async () => {
    await t?.stop();
  });

  it('one upstream is enough: the main listener serves the apps host as the apps origin', async () => {
    const viaMain = await rawAt(t.daemon.url, pathUrl, { host: 'apps.example.com', 'x-forwarded-host': 'apps.example.com', 'x-forwarded-proto': 'https', 'x-forwarded-prefix': '/x' });
    assert.equal(viaMain.status, 200, viaMain.body);
    assert.equal(JSON.parse(viaMain.body).headers['x-forwarded-prefix'], `/x${pathUrl.slice(0, -1)}`);
    assert.equal((await rawAt(t.daemon.url, '/api/health', { host: 'apps.example.com' })).status, 404, 'no API on the apps host');
    const dashboard = await rawAt(t.daemon.url, pathUrl, { host: 'berth.example.com' });
    assert.equal(dashboard.status, 308);
    assert.equal(dashboard.headers.location, `https://apps.example.com/x${pathUrl}`);
  });

  it('refuses configurations that would put apps on the dashboard origin', () => {
    const refused = (overrides: Record<string, unknown>): string => {
      try {
        loadConfig({}, overrides);
      } catch (err) {
        assert.ok(isBerthError(err));
        return err.code;
      }
      return 'accepted';
    };
    assert.equal(refused({ port: 9100, appsPort: 9100 }), 'E_CONFIG');
    assert.equal(refused({ publicUrl: 'https://b.example.com', appsUrl: 'https://b.example.com/apps' }), 'E_CONFIG');
    assert.equal(loadConfig({}, { port: 9100 }).appsPort, 9101);
    assert.equal(loadConfig({}, { port: 0 }).appsPort, 0);
  });
});
