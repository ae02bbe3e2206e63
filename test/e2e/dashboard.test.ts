// The dashboard in a real browser (Debian's Chromium via playwright-core) against a real daemon
// on the process runtime: log in, create a workspace running a node http server, see it become
// running, open its hosted app, read its logs, use its shell, visit settings, stop and delete it —
// at the root and again behind a sub-path proxy. Screenshots go to test-results/screenshots/.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { startTestDaemon, TEST_ADMIN_PASSWORD, type TestDaemon } from '../support/daemon.js';
import { ensureWebBuilt, launchBrowser, layoutShift, shot, watchProblems, type TestBrowser } from './support/browser.js';
import { daemonServesDashboard, startSubpathProxy, type TestProxy } from './support/proxies.js';

/** A tiny web app for $PORT that greets with $GREETING and logs once it listens. */
const APP =
  "const h=require('http');h.createServer((q,s)=>{s.setHeader('content-type','text/html');" +
  "s.end('<!doctype html><title>demo</title><h1>'+process.env.GREETING+' from demo</h1>')})" +
  ".listen(process.env.PORT,()=>console.log('listening on '+process.env.PORT))";
const COMMAND = `${process.execPath} -e "${APP}"`;

async function logIn(page: Page, username: string, password: string): Promise<void> {
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
}

describe('dashboard in Chromium', () => {
  let td: TestDaemon;
  let sub: TestProxy;
  let browser: TestBrowser;
  /** Where the dashboard is served without a prefix: the daemon itself once it serves web/dist. */
  let rootUrl: string;

  before(async () => {
    await ensureWebBuilt();
    td = await startTestDaemon({ trustedProxies: ['127.0.0.1/32'] });
    assert.ok(await daemonServesDashboard(td.daemon.url), 'the daemon serves the dashboard itself');
    rootUrl = td.daemon.url;
    sub = await startSubpathProxy(rootUrl, '/berth');
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await sub?.close();
    await td?.stop();
  });

  async function fullFlow(base: string, label: string): Promise<void> {
    await browser.context.clearCookies();
    const page = await browser.context.newPage();
    const problems = watchProblems(page);
    const requests: string[] = [];
    const sockets: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    page.on('websocket', (ws) => sockets.push(ws.url()));
    const name = `demo-${label}`;

    // Login
    await page.goto(base);
    await page.getByRole('heading', { name: 'Log in to Berth' }).waitFor();
    await shot(page, `${label}-login`);
    await logIn(page, 'admin', TEST_ADMIN_PASSWORD);
    await page.getByRole('heading', { name: 'Workspaces', level: 1 }).waitFor();

    // Create: name, command, env; the button is busy until the API answers.
    await page.getByLabel('Name').fill(name);
    await page.getByLabel('Command').fill(COMMAND);
    await page.getByLabel('Environment').fill('GREETING=hello');
    await page.getByRole('button', { name: 'Create workspace' }).click();
    const item = page.locator('li.ws', { has: page.getByRole('heading', { name, exact: true }) });
    await item.locator('.state-running').waitFor();
    await page.getByRole('status').filter({ hasText: `Workspace ${name} created.` }).waitFor();
    assert.equal(await item.locator('.badge').textContent(), 'private');

    // Logs, streamed
    await item.getByRole('button', { name: `Logs of ${name}` }).click();
    await item.locator('pre.logs', { hasText: 'listening on' }).waitFor();
    await shot(page, `${label}-logs`, true);

    // Shell over the exec WebSocket
    await item.getByRole('button', { name: `Shell in ${name}` }).click();
    const term = item.getByRole('group', { name: `Terminal of ${name}` });
    await item.getByRole('status').filter({ hasText: 'connected' }).waitFor();
    await page.keyboard.type('echo shell-ok-$((6*7)) $GREETING');
    await page.keyboard.press('Enter');
    await term.locator('.xterm-rows', { hasText: /shell-ok-42\shello/ }).waitFor();
    await shot(page, `${label}-workspaces`, true);

    // The hosted app, one click away on the apps origin (private: the Berth session opens it
    // through the one-time hand-off). Without BERTH_APPS_URL the apps origin is this host name on
    // the apps port, also behind the sub-path proxy.
    // (On the process runtime a workload listens on its host port itself: no 8000 mapping.)
    const link = item.locator('.ports a').first();
    const href = await link.getAttribute('href');
    assert.ok(href?.startsWith(`${td.daemon.appsUrl}/hosted/`), `hosted link ${href} is on the apps origin ${td.daemon.appsUrl}`);
    const [app] = await Promise.all([browser.context.waitForEvent('page'), link.click()]);
    await app.waitForLoadState();
    assert.equal(await app.locator('h1').textContent(), 'hello from demo');
    assert.equal(app.url(), href);
    await shot(app, `${label}-hosted-app`);
    await app.close();

    // Settings: users, tokens, audit
    await page.getByRole('link', { name: 'Settings' }).click();
    await page.getByRole('heading', { name: 'Settings', level: 1 }).waitFor();
    await page.getByRole('cell', { name: 'admin', exact: true }).first().waitFor();
    await page.getByRole('cell', { name: 'workspace.create' }).first().waitFor();
    await page.getByLabel('Name', { exact: true }).fill(`ci-${label}`);
    await page.getByRole('button', { name: 'Create token' }).click();
    const shown = await page.locator('input.mono').inputValue();
    assert.match(shown, /^berth_/);
    await shot(page, `${label}-settings`, true);

    // Back, stop, delete
    await page.getByRole('link', { name: 'Workspaces' }).click();
    await item.getByRole('button', { name: `Stop ${name}` }).click();
    await item.locator('.state-stopped').waitFor();
    await item.getByRole('button', { name: `Delete ${name}` }).click();
    await item.getByRole('button', { name: `Delete for good ${name}` }).click();
    await item.waitFor({ state: 'detached' });
    assert.equal((await td.api('GET', `/api/workspaces/${name}`)).status, 404);

    // Everything the app fetched or opened stayed below its base URL.
    const origin = new URL(base).origin;
    assert.deepEqual(requests.filter((u) => u.startsWith(origin) && !u.startsWith(base)), []);
    assert.ok(sockets.length > 0 && sockets.every((u) => u.startsWith(base.replace(/^http/, 'ws'))), `websockets: ${sockets.join(', ')}`);

    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByRole('heading', { name: 'Log in to Berth' }).waitFor();
    assert.deepEqual(problems, []);
    await page.close();
  }

  it('runs the whole workspace flow at the root', { timeout: 120_000 }, async (t) => {
    await fullFlow(rootUrl + '/', 'root');
  });

  it('runs the whole workspace flow behind a sub-path proxy (/berth/)', { timeout: 120_000 }, async () => {
    await fullFlow(sub.url + '/berth/', 'subpath');
  });

  it('shows the API error message for a wrong password and a duplicate name', { timeout: 60_000 }, async () => {
    await browser.context.clearCookies();
    const page = await browser.context.newPage();
    await page.goto(rootUrl + '/');
    await logIn(page, 'admin', 'not-the-password');
    await page.getByRole('alert').filter({ hasText: 'wrong username or password' }).waitFor();
    await logIn(page, 'admin', TEST_ADMIN_PASSWORD);
    await page.getByRole('heading', { name: 'Workspaces', level: 1 }).waitFor();
    const created = await td.api('POST', '/api/workspaces', { name: 'taken', command: [process.execPath, '-e', 'setInterval(()=>{},1e6)'] });
    assert.equal(created.status, 201);
    // Hold the create answer a moment: the button must show progress and refuse a second click.
    await page.route(/\/api\/workspaces$/, async (route) => {
      if (route.request().method() === 'POST') await new Promise((r) => setTimeout(r, 800));
      await route.continue();
    });
    await page.getByLabel('Name').fill('taken');
    await page.getByRole('button', { name: 'Create workspace' }).click();
    const busy = page.locator('button[aria-busy="true"]', { hasText: 'Creating…' });
    await busy.waitFor();
    assert.equal(await busy.isDisabled(), true);
    assert.equal(await busy.locator('.spinner').count(), 1);
    await page.getByRole('alert').filter({ hasText: 'a workspace named "taken" already exists' }).waitFor();
    await shot(page, 'error');
    await page.close();
  });

  it('polls every 3 s when the events stream is not there', { timeout: 60_000 }, async () => {
    await browser.context.clearCookies();
    const page = await browser.context.newPage();
    await page.route(/\/api\/events$/, (route) => route.fulfill({ status: 404, contentType: 'application/json', body: '{"error":{"code":"E_NOT_FOUND","message":"no route"}}' }));
    await page.goto(rootUrl + '/');
    await logIn(page, 'admin', TEST_ADMIN_PASSWORD);
    await page.getByText('refreshing every 3 s').waitFor();
    const made = await td.api('POST', '/api/workspaces', { name: 'polled', command: [process.execPath, '-e', 'setInterval(()=>{},1e6)'] });
    assert.equal(made.status, 201);
    const item = page.locator('li.ws', { has: page.getByRole('heading', { name: 'polled', exact: true }) });
    await item.locator('.state-running').waitFor({ timeout: 8000 });
    assert.equal((await td.api('DELETE', '/api/workspaces/polled')).status, 204);
    await item.waitFor({ state: 'detached', timeout: 8000 });
    await page.close();
  });

  it('shows Apps and Previews in the menu only where the API has them', { timeout: 60_000 }, async () => {
    await browser.context.clearCookies();
    const page = await browser.context.newPage();
    await page.route(/\/api\/catalog$/, (route) => route.fulfill({ status: 200, contentType: 'application/json', body: '{"apps":[]}' }));
    await page.route(/\/api\/previews$/, (route) => route.fulfill({ status: 404, contentType: 'application/json', body: '{"error":{"code":"E_NOT_FOUND","message":"no route"}}' }));
    await page.goto(rootUrl + '/');
    await logIn(page, 'admin', TEST_ADMIN_PASSWORD);
    const nav = page.getByRole('navigation', { name: 'Main' });
    await nav.getByRole('link', { name: 'Apps' }).click();
    await page.getByRole('heading', { name: 'Apps', level: 1 }).waitFor();
    assert.equal(await nav.getByRole('link', { name: 'Previews' }).count(), 0);
    await page.close();
  });

  it('sets the admin password on first start through the one-time setup link', { timeout: 60_000 }, async () => {
    const fresh = await startTestDaemon({ adminPassword: undefined });
    assert.ok(await daemonServesDashboard(fresh.daemon.url));
    try {
      const setupUrl = fresh.daemon.setupUrl;
      assert.ok(setupUrl, 'a daemon without BERTH_ADMIN_PASSWORD offers a setup URL');
      const url = setupUrl;
      await browser.context.clearCookies();
      const page = await browser.context.newPage();
      await page.goto(url);
      await page.getByRole('heading', { name: 'Set the admin password' }).waitFor();
      await shot(page, 'setup');
      await page.getByLabel('New password').fill('first-admin-password');
      await page.getByLabel('Repeat it').fill('first-admin-password');
      await page.getByRole('button', { name: 'Set password' }).click();
      await page.getByRole('link', { name: 'Log in' }).click();
      await logIn(page, 'admin', 'first-admin-password');
      await page.getByRole('heading', { name: 'Workspaces', level: 1 }).waitFor();
      await page.close();
    } finally {
      await fresh.stop();
    }
  });

  it('hides users and the audit log from members', { timeout: 60_000 }, async () => {
    const added = await td.api('POST', '/api/users', { username: 'mia', password: 'member-password-1', role: 'member' });
    assert.equal(added.status, 201);
    await browser.context.clearCookies();
    const page = await browser.context.newPage();
    await page.goto(rootUrl + '/#/settings');
    await logIn(page, 'mia', 'member-password-1');
    await page.getByRole('link', { name: 'Settings' }).click();
    await page.getByRole('heading', { name: 'API tokens' }).waitFor();
    assert.equal(await page.getByRole('heading', { name: 'Users' }).count(), 0);
    assert.equal(await page.getByRole('heading', { name: 'Audit log' }).count(), 0);
    // Members do not see the admin's workspaces either.
    await page.getByRole('link', { name: 'Workspaces' }).click();
    await page.locator('p.empty').waitFor();
    await page.close();
  });

  it('fits a 375 px screen without sideways scrolling or layout shift', { timeout: 60_000 }, async () => {
    await browser.context.clearCookies();
    const page = await browser.context.newPage();
    await page.setViewportSize({ width: 375, height: 760 });
    await page.goto(rootUrl + '/');
    await logIn(page, 'admin', TEST_ADMIN_PASSWORD);
    await page.locator('li.ws', { has: page.getByRole('heading', { name: 'taken', exact: true }) }).waitFor();
    await page.reload();
    await page.locator('li.ws .state').first().waitFor();
    const cls = await layoutShift(page);
    assert.ok(cls < 0.1, `cumulative layout shift ${cls}`);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `page is ${overflow}px wider than the screen`);
    await shot(page, 'mobile-workspaces', true);
    // Keyboard: Tab reaches the skip button first and it is visible when focused.
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Skip to content');
    await page.close();
  });
});
