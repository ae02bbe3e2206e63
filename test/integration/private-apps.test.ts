import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import WebSocket from 'ws';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { installApp, writeCatalogApp } from '../support/catalog-app.js';
import { appsSession, login, rawAt, type Raw } from '../support/origins.js';

const root = path.resolve(import.meta.dirname, '../..');
/** HTTP echo of the request headers + a WebSocket echo, on $PORT. */
const APP = [
  process.execPath,
  '-e',
  `const { WebSocketServer } = require(${JSON.stringify(path.join(root, 'node_modules/ws'))});
   const srv = require('http').createServer((q, s) => { s.setHeader('content-type', 'application/json'); s.end(JSON.stringify({ url: q.url, headers: q.headers })); });
   new WebSocketServer({ server: srv }).on('connection', (ws, q) => ws.on('message', (m) => ws.send('echo:' + m + ':' + (q.headers.cookie || ''))));
   srv.listen(Number(process.env.PORT), '127.0.0.1');`,
];

/** A request to the apps origin (where hosted and embedded apps are served). */
const raw = (t: TestDaemon, urlPath: string, headers: Record<string, string> = {}): Promise<Raw> => rawAt(t.daemon.appsUrl, urlPath, headers);

async function until(fn: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await fn().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out: ${what}`);
}

describe('private hosted apps', () => {
  let t: TestDaemon;
  let alice: { cookie: string; csrf: string };
  let bob: { cookie: string; csrf: string };
  let aliceApps: string;
  let ws: any;
  let pathUrl: string;
  let appHost: string;

  before(async () => {
    // Members run workspaces here: on the process runtime that needs the admin's opt-in.
    t = await startTestDaemon({ appsDomain: 'apps.test', processRuntimeMembers: 'allow' });
    for (const u of ['alice', 'bob']) await t.api('POST', '/api/users', { username: u, password: `${u}-password-123`, role: 'member' });
    alice = await login(t, 'alice', 'alice-password-123');
    bob = await login(t, 'bob', 'bob-password-123');
    const res = await t.api('POST', '/api/workspaces', { name: 'secret', command: APP }, { token: null, headers: { cookie: alice.cookie, 'x-csrf-token': alice.csrf } });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    ws = res.body;
    assert.equal(ws.visibility, 'private');
    pathUrl = `/hosted/${ws.id}/${ws.ports[0].hostPort}/`;
    appHost = `${ws.ports[0].hostPort}--${ws.id}.apps.test`;
    await until(async () => (await raw(t, pathUrl, { authorization: `Bearer ${t.daemon.token}` })).status === 200, 'the app to answer');
    aliceApps = await appsSession(t, alice, pathUrl);
  });
  after(async () => {
    await t.stop();
  });

  it('refuses anonymous HTTP (401, or the hand-off for browsers), never dialling', async () => {
    const api = await raw(t, pathUrl, { accept: 'application/json' });
    assert.equal(api.status, 401);
    assert.equal(JSON.parse(api.body).error.code, 'E_UNAUTHORIZED');
    const page = await raw(t, `${pathUrl}x?y=1`, { accept: 'text/html' });
    assert.equal(page.status, 302);
    assert.equal(page.headers.location, `${t.daemon.url}/api/auth/handoff?to=${encodeURIComponent(`${t.daemon.appsUrl}${pathUrl}x?y=1`)}`);
  });

  it("answers the owner's apps session and an admin token, and refuses another member", async () => {
    const own = await raw(t, pathUrl, { cookie: `theme=dark; ${aliceApps}` });
    assert.equal(own.status, 200);
    const seen = JSON.parse(own.body).headers;
    assert.equal(seen.cookie, 'theme=dark', 'the upstream saw Berth’s session cookie');
    // Bob signs in on the apps origin too, but the route is Alice's.
    const bobApps = await rawAt(t.daemon.url, `/api/auth/handoff?to=${encodeURIComponent(t.daemon.appsUrl + pathUrl)}`, { cookie: bob.cookie });
    assert.equal(bobApps.status, 404, 'no ticket for a route Bob may not see');
    const admin = await raw(t, pathUrl, { authorization: `Bearer ${t.daemon.token}` });
    assert.equal(admin.status, 200);
    assert.equal(JSON.parse(admin.body).headers.authorization, undefined, 'the upstream saw Berth’s token');
  });

  it("the dashboard's own session cookie opens nothing on the apps origin (browsers send it to every port)", async () => {
    const res = await raw(t, pathUrl, { cookie: alice.cookie, accept: 'application/json' });
    assert.equal(res.status, 401);
  });

  it('authorizes WebSocket upgrades the same way, and only from the apps origin', async () => {
    const wsUrl = `${t.daemon.appsUrl.replace('http', 'ws')}${pathUrl}`;
    const status = (headers: Record<string, string>) =>
      new Promise<number>((resolve) => {
        const c = new WebSocket(wsUrl, { headers });
        c.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        c.on('open', () => {
          resolve(101);
          c.close();
        });
        c.on('error', () => {});
      });
    assert.equal(await status({}), 401);
    // Cross-origin handshakes carry cookies (no CORS for WebSockets): Origin decides.
    assert.equal(await status({ cookie: aliceApps }), 401, 'no Origin');
    assert.equal(await status({ cookie: aliceApps, origin: 'http://evil.apps.test' }), 401, 'a foreign Origin');
    assert.equal(await status({ cookie: aliceApps, origin: t.daemon.url }), 401, "the dashboard's Origin");
    const reply = await new Promise<string>((resolve, reject) => {
      const c = new WebSocket(wsUrl, { headers: { cookie: `theme=dark; ${aliceApps}`, origin: new URL(t.daemon.appsUrl).origin } });
      c.on('open', () => c.send('ping'));
      c.on('message', (m) => {
        resolve(String(m));
        c.close();
      });
      c.on('error', reject);
    });
    assert.equal(reply, 'echo:ping:theme=dark');
    // Scripts use a token, and need no Origin.
    assert.equal(await status({ authorization: `Bearer ${t.daemon.token}` }), 101);
  });

  it('hands a session to the app subdomain through a one-time ticket, never the dashboard cookie', async () => {
    const { port } = new URL(t.daemon.url);
    // The dashboard cookie is not valid on the app origin: a browser is sent to the hand-off.
    const first = await rawAt(t.daemon.url, '/page?q=1', { host: `${appHost}:${port}`, cookie: alice.cookie, accept: 'text/html' });
    assert.equal(first.status, 302);
    const handoffUrl = new URL(first.headers.location!);
    assert.equal(handoffUrl.pathname, '/api/auth/handoff');
    assert.equal(handoffUrl.searchParams.get('to'), `http://${appHost}:${port}/page?q=1`);
    // Bob may not get a ticket for Alice's app.
    assert.equal((await rawAt(t.daemon.url, handoffUrl.pathname + handoffUrl.search, { cookie: bob.cookie })).status, 404);
    const minted = await rawAt(t.daemon.url, handoffUrl.pathname + handoffUrl.search, { cookie: alice.cookie });
    assert.equal(minted.status, 302);
    const ticketUrl = new URL(minted.headers.location!);
    assert.equal(ticketUrl.host, `${appHost}:${port}`);
    const redeemed = await rawAt(t.daemon.url, ticketUrl.pathname + ticketUrl.search, { host: appHost });
    assert.equal(redeemed.status, 302);
    assert.equal(redeemed.headers.location, '/page?q=1');
    const appCookie = String(redeemed.headers['set-cookie']).split(';')[0]!;
    assert.match(appCookie, /^berth_app_session=/);
    assert.match(String(redeemed.headers['set-cookie']), /HttpOnly/);
    const page = await rawAt(t.daemon.url, '/page?q=1', { host: appHost, cookie: `theme=dark; ${appCookie}` });
    assert.equal(page.status, 200);
    assert.equal(JSON.parse(page.body).headers.cookie, 'theme=dark');
    // The ticket is single-use, and the app cookie is bound to its own host.
    assert.equal((await rawAt(t.daemon.url, ticketUrl.pathname + ticketUrl.search, { host: appHost })).status, 401);
    const otherHost = `${ws.ports[1].hostPort}--${ws.id}.apps.test`;
    assert.equal((await rawAt(t.daemon.url, '/', { host: otherHost, cookie: appCookie, accept: 'application/json' })).status, 401);
    // An apps-origin session is no subdomain session either.
    assert.equal((await rawAt(t.daemon.url, '/', { host: appHost, cookie: aliceApps, accept: 'application/json' })).status, 401);
  });

  it('the hand-off redirect keeps the scheme and port Berth serves, whatever `to` says', async () => {
    const to = `https://${appHost}:1/page`;
    const minted = await rawAt(t.daemon.url, `/api/auth/handoff?to=${encodeURIComponent(to)}`, { cookie: alice.cookie });
    assert.equal(minted.status, 302);
    const target = new URL(minted.headers.location!);
    assert.equal(target.origin, `http://${appHost}:${new URL(t.daemon.url).port}`);
    const odd = await rawAt(t.daemon.url, `/api/auth/handoff?to=${encodeURIComponent('javascript:alert(1)//' + appHost)}`, { cookie: alice.cookie });
    assert.equal(odd.status, 404);
  });

  it('a public workspace needs no session', async () => {
    const res = await t.api('PATCH', `/api/workspaces/${ws.id}`, { visibility: 'public' });
    assert.equal(res.status, 200);
    assert.equal((await raw(t, pathUrl)).status, 200);
  });
});

describe('catalog app routes: any logged-in user', () => {
  let t: TestDaemon;
  let dir: string;
  let carol: { cookie: string; csrf: string };
  let carolApps: string;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'berth-member-apps-'));
    await writeCatalogApp(dir, 'team-wiki');
    t = await startTestDaemon({ catalogDirs: [dir] });
    assert.equal((await t.api('POST', '/api/users', { username: 'carol', password: 'carol-password-123', role: 'member' })).status, 201);
    carol = await login(t, 'carol', 'carol-password-123');
    assert.equal((await installApp(t.daemon.url, t.daemon.token, 'team-wiki')).state, 'running');
    carolApps = await appsSession(t, carol, '/embed/team-wiki/');
  });
  after(async () => {
    await t?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("a member's session opens an /embed app route (members own no app: the route's anyUser rule lets them in)", async () => {
    const res = await raw(t, '/embed/team-wiki/', { cookie: `theme=dark; ${carolApps}` });
    assert.equal(res.status, 200, res.body);
    assert.equal(JSON.parse(res.body).app, 'team-wiki');
  });

  it('anonymous requests are refused: 401 for API clients, the hand-off for browsers', async () => {
    const api = await raw(t, '/embed/team-wiki/', { accept: 'application/json' });
    assert.equal(api.status, 401);
    assert.equal(JSON.parse(api.body).error.code, 'E_UNAUTHORIZED');
    const page = await raw(t, '/embed/team-wiki/x', { accept: 'text/html' });
    assert.equal(page.status, 302);
    assert.equal(page.headers.location, `${t.daemon.url}/api/auth/handoff?to=${encodeURIComponent(`${t.daemon.appsUrl}/embed/team-wiki/x`)}`);
    // A session that ended is anonymous too, and the dashboard's cookie counts for nothing here.
    assert.equal((await raw(t, '/embed/team-wiki/', { cookie: 'berth_app_session=not-a-session', accept: 'application/json' })).status, 401);
    assert.equal((await raw(t, '/embed/team-wiki/', { cookie: carol.cookie, accept: 'application/json' })).status, 401);
  });

  it('a member may open apps but not install or uninstall them', async () => {
    const headers = { cookie: carol.cookie, 'x-csrf-token': carol.csrf };
    const install = await t.api('POST', '/api/apps', { name: 'team-wiki' }, { token: null, headers });
    assert.equal(install.status, 403);
    assert.equal((await t.api('DELETE', '/api/apps/team-wiki', undefined, { token: null, headers })).status, 403);
    assert.equal((await raw(t, '/embed/team-wiki/', { cookie: carolApps })).status, 200);
  });
});
