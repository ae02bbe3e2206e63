// Idle stop and wake in a real browser (Chromium). Alice's private workspace stops after 1.5 s
// without traffic; its URL then shows the wake page. A hostile page on the apps origin (Mallory's
// public workspace), opened in Alice's browser while she is logged in, tries to start it and to
// stop her other workspace — with the dashboard's API, the wake form posted from its own origin,
// a frame of the confirm page and a read of it — and changes nothing. Alice's own two clicks
// (Start on the wake page, confirm on the dashboard) start it and bring her back to the URL.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestDaemon, type TestDaemon } from '../support/daemon.js';
import path from 'node:path';
import { mkdir } from 'node:fs/promises';
import { ensureWebBuilt, launchBrowser, SCREENSHOTS, type TestBrowser } from './support/browser.js';
import { login, type Session } from '../support/origins.js';

const APP = (text: string): string[] => [
  process.execPath,
  '-e',
  `require('http').createServer((q, s) => { s.setHeader('content-type', 'text/html'); s.end('<!doctype html><title>app</title><h1 id="t">${text}</h1>'); }).listen(Number(process.env.PORT), '127.0.0.1')`,
];

/** The attacker's page: every attempt records what it got in `window.results`; `window.done` when all settled. */
function hostilePage(dashboard: string, victimUrl: string, victimId: string, otherId: string): string {
  return `<!doctype html><title>hostile</title><body><script>
const D = ${JSON.stringify(dashboard)};
const results = (window.results = {});
const settle = (name, p) => p.then((v) => (results[name] = v), (e) => (results[name] = 'error: ' + (e && e.message)));
const form = 'to=' + encodeURIComponent(${JSON.stringify(victimUrl)}) + '&csrf=guess';
const tries = [
  settle('wakePost', fetch(D + '/api/wake', { method: 'POST', credentials: 'include', mode: 'no-cors', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form }).then((r) => 'sent ' + r.type)),
  settle('wakeRead', fetch(D + '/api/wake?to=' + encodeURIComponent(${JSON.stringify(victimUrl)}), { credentials: 'include' }).then(async (r) => r.status + ' ' + (await r.text()).slice(0, 80))),
  settle('apiStart', fetch(D + '/api/workspaces/${victimId}/start', { method: 'POST', credentials: 'include', mode: 'no-cors' }).then((r) => 'sent ' + r.type)),
  settle('apiStop', fetch(D + '/api/workspaces/${otherId}/stop', { method: 'POST', credentials: 'include', mode: 'no-cors' }).then((r) => 'sent ' + r.type)),
  settle('frameConfirm', new Promise((resolve) => {
    const f = document.createElement('iframe');
    f.src = D + '/api/wake?to=' + encodeURIComponent(${JSON.stringify(victimUrl)});
    f.onload = () => { try { resolve('read: ' + f.contentWindow.document.body.innerHTML.slice(0, 50)); } catch (e) { resolve('blocked: ' + e.name); } };
    document.body.appendChild(f);
    setTimeout(() => resolve('no load'), 3000);
  })),
  settle('formPost', new Promise((resolve) => {
    const sink = document.createElement('iframe');
    sink.name = 'sink';
    document.body.appendChild(sink);
    const f = document.createElement('form');
    f.method = 'POST'; f.action = D + '/api/wake'; f.target = 'sink';
    for (const [k, v] of [['to', ${JSON.stringify(victimUrl)}], ['csrf', 'guess']]) { const i = document.createElement('input'); i.type = 'hidden'; i.name = k; i.value = v; f.appendChild(i); }
    document.body.appendChild(f);
    sink.onload = () => resolve('posted');
    f.submit();
    setTimeout(() => resolve('no answer'), 3000);
  })),
];
Promise.all(tries).then(() => (window.done = true));
</script>`;
}

describe('wake from a stopped workspace’s URL, in Chromium', () => {
  let td: TestDaemon;
  let browser: TestBrowser;
  let alice: Session;

  before(async () => {
    await ensureWebBuilt();
    td = await startTestDaemon({ processRuntimeMembers: 'allow', idleSweepInterval: '100ms' });
    browser = await launchBrowser();
    for (const u of ['alice', 'mallory']) assert.equal((await td.api('POST', '/api/users', { username: u, password: `${u}-password-123`, role: 'member' })).status, 201);
    alice = await login(td, 'alice', 'alice-password-123');
  });
  after(async () => {
    await browser?.close();
    await td?.stop();
  });

  it('the owner starts it with two clicks and is back at the URL; a hostile page cannot start or stop anything', { timeout: 120_000 }, async () => {
    const asAlice = { token: null, headers: { cookie: alice.cookie, 'x-csrf-token': alice.csrf } };
    const victim = (await td.api('POST', '/api/workspaces', { name: 'notebook', command: APP('alice-notebook') }, asAlice)).body;
    const other = (await td.api('POST', '/api/workspaces', { name: 'server', command: APP('alice-server') }, asAlice)).body;
    const mallory = await login(td, 'mallory', 'mallory-password-123');
    const victimUrl: string = victim.ports[0].url;
    const html = hostilePage(td.daemon.url, victimUrl, victim.id, other.id);
    const hostile = await td.api(
      'POST',
      '/api/workspaces',
      { name: 'hostile', visibility: 'public', command: [process.execPath, '-e', `require('http').createServer((q, s) => { s.setHeader('content-type', 'text/html'); s.end(${JSON.stringify(html)}); }).listen(Number(process.env.PORT), '127.0.0.1')`] },
      { token: null, headers: { cookie: mallory.cookie, 'x-csrf-token': mallory.csrf } },
    );
    assert.equal(hostile.status, 201, JSON.stringify(hostile.body));

    // Alice logs in and opens her notebook (through the sign-in hand-off).
    const page = await browser.context.newPage();
    await page.goto(td.daemon.url + '/');
    await page.getByLabel('Username').fill('alice');
    await page.getByLabel('Password').fill('alice-password-123');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Workspaces', level: 1 }).waitFor();
    await page.goto(victimUrl);
    assert.equal(await page.locator('#t').textContent(), 'alice-notebook');
    assert.equal((await td.api('PATCH', `/api/workspaces/${victim.id}`, { idleStop: '1500ms' }, asAlice)).status, 200);

    // Left alone, it is idle-stopped; reloading shows the wake page.
    for (let i = 0; i < 100 && (await td.api('GET', `/api/workspaces/${victim.id}`)).body.state !== 'stopped'; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal((await td.api('GET', `/api/workspaces/${victim.id}`)).body.state, 'stopped');
    await page.reload();
    await page.getByRole('heading', { name: 'Workspace “notebook” is stopped' }).waitFor();
    await mkdir(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SCREENSHOTS, 'wake-page.png') });

    // Mallory's page, in Alice's browser.
    const attack = await browser.context.newPage();
    await attack.goto(hostile.body.ports[0].url);
    await attack.waitForFunction(() => (window as unknown as { done?: boolean }).done === true, undefined, { timeout: 30_000 });
    const r = (await attack.evaluate(() => (window as unknown as { results: Record<string, string> }).results)) as Record<string, string>;
    const where = JSON.stringify(r);
    assert.match(r.wakeRead!, /^error: /, `the confirm page (and its CSRF token) cannot be read cross-origin ${where}`);
    assert.match(r.frameConfirm!, /^(blocked|no load)/, `the confirm page cannot be framed ${where}`);
    assert.doesNotMatch(where, new RegExp(alice.csrf), `Alice's CSRF token reached the page ${where}`);
    await attack.close();
    await new Promise((res) => setTimeout(res, 300));
    assert.equal((await td.api('GET', `/api/workspaces/${victim.id}`)).body.state, 'stopped', `a hostile page started it ${where}`);
    assert.equal((await td.api('GET', `/api/workspaces/${other.id}`)).body.state, 'running', `a hostile page stopped another workspace ${where}`);

    // Alice's own clicks: Start on the wake page, then confirm on the dashboard.
    await page.getByRole('link', { name: 'Start notebook' }).click();
    await page.waitForURL((u) => u.href.startsWith(`${td.daemon.url}/api/wake?`));
    await page.screenshot({ path: path.join(SCREENSHOTS, 'wake-confirm.png') });
    const started = Date.now();
    await page.getByRole('button', { name: 'Start notebook' }).click();
    await page.waitForURL(victimUrl, { timeout: 30_000 }).catch(async (err: unknown) => {
      throw new Error(`not back at the app: at ${page.url()}: ${(await page.content()).slice(0, 400)}`, { cause: err });
    });
    assert.equal(await page.locator('#t').textContent(), 'alice-notebook');
    assert.equal((await td.api('GET', `/api/workspaces/${victim.id}`)).body.state, 'running');
    const t = Date.now() - started;
    assert.ok(t < 15_000, `back at the app ${t} ms after the click`);
    await page.close();
  });
});
