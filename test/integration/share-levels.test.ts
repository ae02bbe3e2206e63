/**
 * Share levels of a workspace over real sockets: `authenticated` lets any signed-in Berth user in
 * (HTTP and WebSocket), never an anonymous client; `private` still refuses a second member; each
 * change is audited.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import WebSocket from 'ws';
import { startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { appsSession, login, rawAt, type Raw, type Session } from '../support/origins.js';

const root = path.resolve(import.meta.dirname, '../..');
/** HTTP echo of the request URL + a WebSocket echo, on $PORT. */
const APP = [
  process.execPath,
  '-e',
  `const { WebSocketServer } = require(${JSON.stringify(path.join(root, 'node_modules/ws'))});
   const srv = require('http').createServer((q, s) => { s.setHeader('content-type', 'application/json'); s.end(JSON.stringify({ url: q.url })); });
   new WebSocketServer({ server: srv }).on('connection', (ws) => ws.on('message', (m) => ws.send('echo:' + m)));
   srv.listen(Number(process.env.PORT), '127.0.0.1');`,
];

const raw = (t: TestDaemon, urlPath: string, headers: Record<string, string> = {}): Promise<Raw> => rawAt(t.daemon.appsUrl, urlPath, headers);

/** Status of a WebSocket handshake to `url` (101 when it opened), and the echo of one message. */
function wsTry(url: string, headers: Record<string, string>): Promise<{ status: number; echo?: string }> {
  return new Promise((resolve) => {
    const c = new WebSocket(url, { headers });
    c.on('unexpected-response', (_req, res) => resolve({ status: res.statusCode ?? 0 }));
    c.on('open', () => c.send('hi'));
    c.on('message', (m) => {
      resolve({ status: 101, echo: String(m) });
      c.close();
    });
    c.on('error', () => resolve({ status: 0 }));
  });
}

describe('share levels: authenticated', () => {
  let t: TestDaemon;
  let alice: Session;
  let bob: Session;
  let ws: any;
  let pathUrl: string;
  let wsUrl: string;
  let appsOrigin: string;
  const asAlice = () => ({ token: null, headers: { cookie: alice.cookie, 'x-csrf-token': alice.csrf } });

  before(async () => {
    t = await startTestDaemon({ processRuntimeMembers: 'allow' });
    for (const u of ['alice', 'bob']) assert.equal((await t.api('POST', '/api/users', { username: u, password: `${u}-password-123`, role: 'member' })).status, 201);
    alice = await login(t, 'alice', 'alice-password-123');
    bob = await login(t, 'bob', 'bob-password-123');
    const res = await t.api('POST', '/api/workspaces', { name: 'team', command: APP, visibility: 'authenticated' }, asAlice());
    assert.equal(res.status, 201, JSON.stringify(res.body));
    ws = res.body;
    assert.equal(ws.visibility, 'authenticated');
    pathUrl = `/hosted/${ws.id}/${ws.ports[0].hostPort}/`;
    wsUrl = `${t.daemon.appsUrl.replace('http', 'ws')}${pathUrl}`;
    appsOrigin = new URL(t.daemon.appsUrl).origin;
    for (let i = 0; i < 100 && (await raw(t, pathUrl, { authorization: `Bearer ${t.daemon.token}` })).status !== 200; i++) await new Promise((r) => setTimeout(r, 100));
  });
  after(async () => {
    await t?.stop();
  });

  it('lets a second, non-admin member in over HTTP and WebSocket', async () => {
    const bobApps = await appsSession(t, bob, pathUrl);
    const page = await raw(t, `${pathUrl}x`, { cookie: bobApps });
    assert.equal(page.status, 200, page.body);
    assert.equal(JSON.parse(page.body).url, '/x');
    const sock = await wsTry(wsUrl, { cookie: bobApps, origin: appsOrigin });
    assert.deepEqual(sock, { status: 101, echo: 'echo:hi' });
  });

  it('refuses an anonymous client over HTTP (401, or the sign-in for browsers) and WebSocket', async () => {
    assert.equal((await raw(t, pathUrl, { accept: 'application/json' })).status, 401);
    const browser = await raw(t, pathUrl, { accept: 'text/html' });
    assert.equal(browser.status, 302);
    assert.match(browser.headers.location!, /\/api\/auth\/handoff\?to=/);
    assert.equal((await wsTry(wsUrl, { origin: appsOrigin })).status, 401);
    // The dashboard's own cookie is no apps-origin session, whoever holds it.
    assert.equal((await raw(t, pathUrl, { cookie: bob.cookie, accept: 'application/json' })).status, 401);
  });

  it('back to private: the second member is refused again, the owner is not; both changes are audited', async () => {
    const bobApps = await appsSession(t, bob, pathUrl);
    const res = await t.api('PATCH', `/api/workspaces/${ws.id}`, { visibility: 'private' }, asAlice());
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.visibility, 'private');
    assert.equal((await raw(t, pathUrl, { cookie: bobApps, accept: 'application/json' })).status, 401, "bob's session no longer opens it");
    assert.equal((await wsTry(wsUrl, { cookie: bobApps, origin: appsOrigin })).status, 401);
    const handoff = await rawAt(t.daemon.url, `/api/auth/handoff?to=${encodeURIComponent(t.daemon.appsUrl + pathUrl)}`, { cookie: bob.cookie });
    assert.equal(handoff.status, 404, 'no ticket for a private workspace of another member');
    const aliceApps = await appsSession(t, alice, pathUrl);
    assert.equal((await raw(t, pathUrl, { cookie: aliceApps })).status, 200);

    assert.equal((await t.api('PATCH', `/api/workspaces/${ws.id}`, { visibility: 'authenticated' }, asAlice())).status, 200);
    assert.equal((await raw(t, pathUrl, { cookie: bobApps })).status, 200, 'authenticated again: bob is back in');
    const audit = await t.api('GET', '/api/audit?limit=50');
    const changes = audit.body.entries.filter((e: any) => e.action === 'workspace.visibility' && e.target === 'team');
    assert.equal(changes.length, 2, JSON.stringify(audit.body.entries.slice(0, 5)));
    assert.match(JSON.stringify(changes), /"authenticated"/);
  });

  it('refuses an unknown share level with a code and a hint', async () => {
    const res = await t.api('PATCH', `/api/workspaces/${ws.id}`, { visibility: 'friends' }, asAlice());
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'E_BAD_REQUEST');
    const empty = await t.api('PATCH', `/api/workspaces/${ws.id}`, {}, asAlice());
    assert.equal(empty.status, 400, 'a PATCH that changes nothing is refused');
  });
});
