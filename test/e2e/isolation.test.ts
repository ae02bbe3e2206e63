// A hostile hosted app, in a real browser (Chromium), opened by a logged-in admin: a member's page
// on the apps origin tries every way to act as the admin or read the admin's data — the API on its
// own origin, credentialed requests to the dashboard, framing the dashboard and reading its DOM,
// cookies, the window that opened it, the exec shell and a cross-origin WebSocket to the admin's
// private app. None may yield a token, a CSRF token, a change or data. The admin's own private app
// still works for the admin, WebSockets included.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startTestDaemon, TEST_ADMIN_PASSWORD, type TestDaemon } from '../support/daemon.js';
import { ensureWebBuilt, launchBrowser, ROOT, type TestBrowser } from './support/browser.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { login } from '../support/origins.js';
import { installApp, writeCatalogApp } from '../support/catalog-app.js';

/** The admin's private app: a page and a WebSocket that both answer a secret. */
const SECRET_APP = [
  process.execPath,
  '-e',
  `const { WebSocketServer } = require(${JSON.stringify(path.join(ROOT, 'node_modules/ws'))});
   const srv = require('http').createServer((q, s) => { s.setHeader('content-type', 'text/html'); s.end('<!doctype html><title>secret</title><h1 id="s">admin-secret-42</h1>'); });
   new WebSocketServer({ server: srv }).on('connection', (ws) => ws.send('admin-secret-42'));
   srv.listen(Number(process.env.PORT), '127.0.0.1');`,
];

/**
 * The attacker's page. `DASHBOARD`, `TARGETS` are filled in by the test; every attempt records
 * what it got in `window.results`, and `window.done` turns true when all have settled.
 */
function hostilePage(dashboard: string, wsTargets: string[], execUrl: string): string {
  return `<!doctype html><title>hostile</title><body><script>
const DASHBOARD = ${JSON.stringify(dashboard)};
const results = (window.results = {});
const settle = (name, p) => p.then((v) => (results[name] = v), (e) => (results[name] = 'error: ' + (e && e.message)));
const tries = [];
tries.push(settle('sameOriginMe', fetch('/api/auth/me').then(async (r) => r.status + ' ' + (await r.text()))));
tries.push(settle('dashboardMe', fetch(DASHBOARD + '/api/auth/me', { credentials: 'include' }).then(async (r) => r.status + ' ' + (await r.text()))));
tries.push(settle('dashboardCreateUser', fetch(DASHBOARD + '/api/users', { method: 'POST', credentials: 'include', mode: 'no-cors', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ username: 'evil', password: 'evil-password-123', role: 'admin' }) }).then((r) => 'sent ' + r.type)));
tries.push(settle('dashboardToken', fetch(DASHBOARD + '/api/tokens', { method: 'POST', credentials: 'include', mode: 'no-cors', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ name: 'evil', scopes: ['admin'] }) }).then((r) => 'sent ' + r.type)));
results.cookie = document.cookie;
results.parent = (() => { if (window.parent === window) return 'top'; try { return 'read: ' + window.parent.document.title; } catch (e) { return 'blocked: ' + e.name; } })();
results.opener = (() => { try { return String(window.opener && window.opener.document.body.innerHTML); } catch (e) { return 'blocked: ' + e.name; } })();
tries.push(settle('frameDashboard', new Promise((resolve) => {
  const f = document.createElement('iframe');
  f.src = DASHBOARD + '/';
  f.onload = () => { try { resolve('read: ' + f.contentWindow.document.body.innerHTML.slice(0, 50)); } catch (e) { resolve('blocked: ' + e.name); } };
  document.body.appendChild(f);
  setTimeout(() => resolve('no load'), 3000);
})));
const socket = (name, url) => tries.push(settle(name, new Promise((resolve) => {
  const ws = new WebSocket(url);
  ws.onmessage = (m) => { resolve('data: ' + m.data); ws.close(); };
  ws.onerror = () => resolve('refused');
  setTimeout(() => resolve('silent'), 3000);
})));
${JSON.stringify(wsTargets)}.forEach((u, i) => socket('ws' + i, u));
socket('exec', ${JSON.stringify(execUrl)});
Promise.all(tries).then(() => (window.done = true));
</script>`;
}

describe('isolation in Chromium: a hostile hosted page and a hostile catalog app, opened by the admin', () => {
  let td: TestDaemon;
  let browser: TestBrowser;
  let catalogDir: string;

  before(async () => {
    await ensureWebBuilt();
    catalogDir = await mkdtemp(path.join(tmpdir(), 'berth-hostile-catalog-'));
    // Mallory, a member, runs a workspace: on the process runtime that needs the admin's opt-in.
    td = await startTestDaemon({ appsDomain: 'apps.localhost', processRuntimeMembers: 'allow', catalogDirs: [catalogDir] });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await td?.stop();
    if (catalogDir) await rm(catalogDir, { recursive: true, force: true });
  });

  it('yields no token, CSRF token, change or data, and the admin’s own app still works', { timeout: 120_000 }, async () => {
    const { port } = new URL(td.daemon.url);
    // The admin's private app, on the apps origin and on its own subdomain.
    const secret = await td.api('POST', '/api/workspaces', { name: 'admin-secret', command: SECRET_APP });
    assert.equal(secret.status, 201, JSON.stringify(secret.body));
    const secretPath = `/hosted/${secret.body.id}/${secret.body.ports[0].hostPort}/`;
    const secretHost = `${secret.body.ports[0].hostPort}--${secret.body.id}.apps.localhost:${port}`;

    // Mallory, a member, runs the hostile page in a public workspace.
    assert.equal((await td.api('POST', '/api/users', { username: 'mallory', password: 'mallory-password-1', role: 'member' })).status, 201);
    const mallory = await login(td, 'mallory', 'mallory-password-1');
    // (Path routes of the apps origin share that one origin with each other: tenant-to-tenant
    // isolation in the browser is what subdomain mode is for — see docs/security.md. The attack
    // here is on the admin's subdomain app, which is its own origin.)
    const html = hostilePage(td.daemon.url, [`ws://${secretHost}/`], `${td.daemon.url.replace('http', 'ws')}/api/workspaces/${secret.body.id}/exec`);
    const hostile = await td.api(
      'POST',
      '/api/workspaces',
      { name: 'hostile', visibility: 'public', command: [process.execPath, '-e', `require('http').createServer((q, s) => { s.setHeader('content-type', 'text/html'); s.end(${JSON.stringify(html)}); }).listen(Number(process.env.PORT), '127.0.0.1')`] },
      { token: null, headers: { cookie: mallory.cookie, 'x-csrf-token': mallory.csrf } },
    );
    assert.equal(hostile.status, 201, JSON.stringify(hostile.body));
    const hostileUrl: string = hostile.body.ports[0].url;
    assert.ok(hostileUrl.startsWith(`${td.daemon.appsUrl}/hosted/`), hostileUrl);

    // The admin logs in to the dashboard and opens both private app routes once (so the browser
    // holds every session an attacker could want to ride).
    const page = await browser.context.newPage();
    await page.goto(td.daemon.url + '/');
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill(TEST_ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Workspaces', level: 1 }).waitFor();
    for (const url of [`${td.daemon.appsUrl}${secretPath}`, `http://${secretHost}/`]) {
      const own = await browser.context.newPage();
      await own.goto(url);
      assert.equal(await own.locator('#s').textContent(), 'admin-secret-42', `the admin opens ${url}`);
      // Its own WebSocket works from its own origin.
      const wsUrl = url.replace('http', 'ws');
      assert.equal(await own.evaluate((u) => new Promise((r) => { const w = new WebSocket(u); w.onmessage = (m) => r(String(m.data)); w.onerror = () => r('refused'); }), wsUrl), 'admin-secret-42');
      await own.close();
    }

    // The admin opens the member's links from the dashboard (window.opener is the dashboard): on
    // the apps origin, and on the member's own subdomain — same site as the admin's subdomain app,
    // so the browser sends the admin's app cookie along and only the Origin check stands.
    const malloryHost = `http://${hostile.body.ports[0].hostPort}--${hostile.body.id}.apps.localhost:${port}/`;
    for (const url of [hostileUrl, malloryHost]) {
      const [attack] = await Promise.all([browser.context.waitForEvent('page'), page.evaluate((u) => void window.open(u), url)]);
      await attack.waitForFunction(() => (window as unknown as { done?: boolean }).done === true, undefined, { timeout: 30_000 });
      const r = (await attack.evaluate(() => (window as unknown as { results: Record<string, string> }).results)) as Record<string, string>;
      const where = `from ${url}: ${JSON.stringify(r)}`;
      // On the apps origin nothing but workloads answers; on its own subdomain the page's own app does.
      if (url === hostileUrl) assert.match(r.sameOriginMe!, /^404 /, `the apps origin answers no API ${where}`);
      assert.doesNotMatch(JSON.stringify(r), /csrfToken|berth_[A-Za-z0-9_-]{20,}/, `no CSRF token and no Berth token reached the page ${where}`);
      assert.match(r.dashboardMe!, /^error: /, `a credentialed read of the dashboard API is blocked (no CORS) ${where}`);
      assert.doesNotMatch(r.cookie!, /berth_/, `Berth cookies are invisible to scripts ${where}`);
      assert.match(r.opener!, /^(blocked|null)/, `the opener (the dashboard) is out of reach ${where}`);
      assert.match(r.frameDashboard!, /^(blocked|no load)/, `the dashboard cannot be framed and read ${where}`);
      assert.equal(r.ws0, 'refused', `a WebSocket to the admin's private subdomain app from another origin is refused ${where}`);
      assert.equal(r.exec, 'refused', `the exec shell refuses other origins ${where}`);
      await attack.close();
    }
    // A hostile catalog app (any XSS in an app does the same), shown by the dashboard in its frame:
    // the frame is another origin, so the page can neither read its parent nor borrow the admin.
    const appHtml = hostilePage(td.daemon.url, [`ws://${secretHost}/`], `${td.daemon.url.replace('http', 'ws')}/api/workspaces/${secret.body.id}/exec`);
    await writeCatalogApp(catalogDir, 'hostile-app', {
      command: [process.execPath, '-e', `require('http').createServer((q, s) => { s.setHeader('content-type', 'text/html'); s.end(${JSON.stringify(appHtml)}); }).listen(Number(process.env.PORT), '127.0.0.1')`],
    });
    assert.equal((await installApp(td.daemon.url, td.daemon.token, 'hostile-app')).state, 'running');
    await page.goto(`${td.daemon.url}/#/apps/hostile-app`);
    await page.locator('iframe.frame').waitFor();
    let frame = page.frames().find((f) => f.url().includes('/embed/hostile-app/'));
    for (let i = 0; i < 100 && !frame; i++) {
      await new Promise((r) => setTimeout(r, 100));
      frame = page.frames().find((f) => f.url().includes('/embed/hostile-app/'));
    }
    assert.ok(frame, `the app's frame loaded (frames: ${page.frames().map((f) => f.url()).join(', ')})`);
    assert.ok(frame.url().startsWith(`${td.daemon.appsUrl}/embed/hostile-app/`), frame.url());
    await frame.waitForFunction(() => (window as unknown as { done?: boolean }).done === true, undefined, { timeout: 30_000 });
    const r = (await frame.evaluate(() => (window as unknown as { results: Record<string, string> }).results)) as Record<string, string>;
    const where = `from the catalog app's frame: ${JSON.stringify({ ...r, sameOriginMe: r.sameOriginMe?.slice(0, 40) })}`;
    assert.match(r.parent!, /^blocked: /, `the dashboard (its parent) is out of reach ${where}`);
    assert.match(r.sameOriginMe!, /^404 /, where);
    assert.doesNotMatch(JSON.stringify(r), /csrfToken|berth_[A-Za-z0-9_-]{20,}/, where);
    assert.match(r.dashboardMe!, /^error: /, where);
    assert.equal(r.exec, 'refused', where);
    assert.equal(r.ws0, 'refused', where);

    // Nothing changed: no user, no token.
    const users = (await td.api('GET', '/api/users')).body.users as { username: string }[];
    assert.deepEqual(users.map((u) => u.username).sort(), ['admin', 'mallory']);
    const tokens = (await td.api('GET', '/api/tokens')).body.tokens as { name: string }[];
    assert.equal(tokens.some((t) => t.name === 'evil'), false);
    await page.close();
  });
});
