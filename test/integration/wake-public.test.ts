/**
 * Waking a public workspace (process runtime): anyone sees its stopped page, without a Start
 * button; its owner — a member, with no apps-origin session — starts it through the dashboard's
 * confirm page and lands back on the URL directly (a public route needs no hand-off). Others may
 * not start it.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { login, rawAt, type Session } from '../support/origins.js';

const APP = [process.execPath, '-e', `require('http').createServer((q, s) => s.end('public-ok:' + q.url)).listen(Number(process.env.PORT), '127.0.0.1')`];

function postForm(t: TestDaemon, s: Session, fields: Record<string, string>): Promise<{ status: number; location?: string; body: string }> {
  const body = new URLSearchParams(fields).toString();
  const { port } = new URL(t.daemon.url);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path: '/api/wake',
        method: 'POST',
        headers: { cookie: s.cookie, origin: new URL(t.daemon.url).origin, 'sec-fetch-site': 'same-origin', 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        let b = '';
        res.on('data', (d: Buffer) => (b += d));
        res.on('end', () => resolve({ status: res.statusCode!, body: b, ...(res.headers.location ? { location: res.headers.location } : {}) }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('waking a public workspace', () => {
  let t: TestDaemon;
  let alice: Session;
  let bob: Session;
  let ws: any;
  let here: string;
  let urlPath: string;

  before(async () => {
    t = await startTestDaemon({ processRuntimeMembers: 'allow' });
    for (const u of ['alice', 'bob']) assert.equal((await t.api('POST', '/api/users', { username: u, password: `${u}-password-123`, role: 'member' })).status, 201);
    alice = await login(t, 'alice', 'alice-password-123');
    bob = await login(t, 'bob', 'bob-password-123');
    const res = await t.api('POST', '/api/workspaces', { name: 'site', command: APP, visibility: 'public' }, { token: null, headers: { cookie: alice.cookie, 'x-csrf-token': alice.csrf } });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    ws = res.body;
    urlPath = `/hosted/${ws.id}/${ws.ports[0].hostPort}/page?q=1`;
    here = `${t.daemon.appsUrl}${urlPath}`;
    assert.equal((await t.api('POST', `/api/workspaces/${ws.id}/stop`)).status, 200);
  });
  after(async () => {
    await t?.stop();
  });

  it('shows anyone the stopped page without a Start button, and API clients a JSON 503', async () => {
    const page = await rawAt(t.daemon.appsUrl, urlPath, { accept: 'text/html' });
    assert.equal(page.status, 503);
    assert.match(page.body, /Workspace “site” is stopped/);
    assert.doesNotMatch(page.body, /id="berth-start"/);
    assert.match(page.body, /id="berth-owner-start" href="[^"]*\/api\/wake\?to=/);
    const api = await rawAt(t.daemon.appsUrl, urlPath, { accept: 'application/json' });
    assert.equal(api.status, 503);
    assert.deepEqual(Object.keys(JSON.parse(api.body).error).sort(), ['code', 'hint', 'message']);
    assert.equal(JSON.parse(api.body).error.hint, 'ask its owner to start it');
  });

  it('another member may neither see the confirm page nor start it', async () => {
    assert.equal((await rawAt(t.daemon.url, `/api/wake?to=${encodeURIComponent(here)}`, { cookie: bob.cookie })).status, 404);
    assert.equal((await postForm(t, bob, { to: here, csrf: bob.csrf })).status, 404);
    assert.equal((await t.api('GET', `/api/workspaces/${ws.id}`)).body.state, 'stopped');
  });

  it('its owner (a member) confirms and lands back on the URL itself', async () => {
    const anon = await rawAt(t.daemon.url, `/api/wake?to=${encodeURIComponent(here)}`);
    assert.equal(anon.status, 302, 'without a session: the login page first');
    assert.match(anon.headers.location!, /#\/login\?next=%2Fapi%2Fwake%3Fto%3D/);
    const confirm = await rawAt(t.daemon.url, `/api/wake?to=${encodeURIComponent(here)}`, { cookie: alice.cookie });
    assert.equal(confirm.status, 200);
    const csrf = /name="csrf" value="([^"]+)"/.exec(confirm.body)![1]!;
    const started = await postForm(t, alice, { to: here, csrf });
    assert.equal(started.status, 303, started.body);
    assert.equal(started.location, here, 'a public route needs no hand-off');
    const back = await rawAt(t.daemon.appsUrl, urlPath);
    assert.equal(back.status, 200);
    assert.equal(back.body, 'public-ok:/page?q=1');
    // Running already: the confirm page sends the owner straight on.
    const again = await rawAt(t.daemon.url, `/api/wake?to=${encodeURIComponent(here)}`, { cookie: alice.cookie });
    assert.equal(again.status, 302);
    assert.equal(again.headers.location, here);
  });

  it('refuses a `to` that is not one of its hosted URLs', async () => {
    for (const to of ['javascript:alert(1)', 'http://evil.example/hosted/x/1/', `${t.daemon.url}/api/auth/me`, 'not a url']) {
      const r = await rawAt(t.daemon.url, `/api/wake?to=${encodeURIComponent(to)}`, { cookie: alice.cookie });
      assert.ok(r.status === 404 || r.status === 400, `${to}: ${r.status}`);
    }
  });
});
