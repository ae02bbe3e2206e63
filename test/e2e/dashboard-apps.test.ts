// The dashboard's Apps and Previews pages in a real browser (Debian's Chromium via playwright-core)
// against a real daemon on the process runtime, with a catalog directory written here (tiny node
// apps) and a local git repository for previews. Apps: install from a catalog card and watch the
// streamed progress reach healthy, open the app in its frame and read the page inside the iframe,
// uninstall with purge — at the root and again behind a sub-path proxy; refusals and failed
// installs show their code and message; an install and an uninstall made outside the page (through
// the API) show within a second from the event stream, without a poll, and every 3 s where there
// is no stream. Previews: listed per repository with state, address, commit and build log,
// updated without a reload, destroyed from the page.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Page } from 'playwright-core';
import { installApp } from '../support/catalog-app.js';
import { startTestDaemon, TEST_ADMIN_PASSWORD, type TestDaemon } from '../support/daemon.js';
import { commitVersion, createPreviewRepo } from '../support/preview-fixture.js';
import { ensureWebBuilt, launchBrowser, layoutShift, shot, watchProblems, type TestBrowser } from './support/browser.js';
import { daemonServesDashboard, startSubpathProxy, type TestProxy } from './support/proxies.js';

/** A catalog app: answers /health once READY_AFTER_MS passed, else an HTML page about the request. */
const APP_JS = `
const http = require('node:http');
const started = Date.now();
const readyAfter = Number(process.env.READY_AFTER_MS || 0);
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => '&#' + c.charCodeAt(0) + ';');
http.createServer((req, res) => {
  if (req.url === '/health') {
    const ok = Date.now() - started >= readyAfter;
    res.writeHead(ok ? 200 : 503);
    return res.end(ok ? 'ok' : 'warming up');
  }
  if (req.url === '/never') { res.writeHead(500); return res.end('not today'); }
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  res.end('<!doctype html><title>' + esc(process.env.BERTH_APP_NAME) + '</title><h1>Hello from ' + esc(process.env.GREETING) + '</h1>' +
    '<p id="path">' + esc(req.url) + '</p><p id="prefix">' + esc(req.headers['x-forwarded-prefix'] || '') + '</p>' +
    '<p id="secret">' + esc(process.env.APP_SECRET) + '</p>');
}).listen(Number(process.env.PORT), '127.0.0.1');
`;

const ICON = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 40 40"><rect width="40" height="40" rx="8" fill="#1d4ed8"/></svg>';

/** Writes `<dir>/<name>/app.yaml` (JSON is YAML) running APP_JS with this node. */
function writeApp(dir: string, name: string, title: string, o: { health?: string; retries?: number; readyAfterMs?: number; icon?: boolean } = {}): void {
  mkdirSync(path.join(dir, name), { recursive: true });
  if (o.icon) writeFileSync(path.join(dir, name, 'icon.svg'), ICON);
  const manifest = {
    name,
    title,
    description: `${title}: a tiny node app the browser tests install.`,
    ...(o.icon ? { icon: 'icon.svg' } : {}),
    image: 'localhost/berth-test:latest',
    command: [process.execPath, path.join(dir, 'app.cjs')],
    ports: { http: 8080 },
    env: { GREETING: title, APP_SECRET: '${secret:token}', READY_AFTER_MS: String(o.readyAfterMs ?? 0) },
    healthcheck: { http: o.health ?? '/health', interval: '100ms', timeout: '1s', retries: o.retries ?? 100 },
  };
  writeFileSync(path.join(dir, name, 'app.yaml'), JSON.stringify(manifest, null, 2));
}

/** A preview config whose one service is a node server (no database: no Postgres needed). */
const PREVIEW_SERVER = "require('node:http').createServer((q,s)=>s.end('preview '+process.env.PR_NUMBER)).listen(Number(process.env.PORT),'127.0.0.1')";
const GOOD_PREVIEW = JSON.stringify({
  services: [{ name: 'web', command: [process.execPath, '-e', PREVIEW_SERVER], port: 3000, healthcheck: { http: '/', interval: '100ms', retries: 100 } }],
  database: 'none',
});
const REPO = 'octo-org/site';

async function logIn(page: Page, username: string, password: string): Promise<void> {
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
}

/** Chromium logs every non-2xx answer; the ones a test provokes on purpose are not problems. */
const except = (problems: string[], ...statuses: number[]): string[] =>
  problems.filter((p) => !statuses.some((s) => p.includes(`status of ${s} `)));

describe('dashboard apps and previews pages in Chromium', () => {
  let td: TestDaemon;
  let sub: TestProxy;
  let browser: TestBrowser;
  let rootUrl: string;
  let catalogDir: string;
  let repoDir: string;
  /** APP_SECRET the demo app saw in each flow: purge must make the next install get a new one. */
  const secrets: string[] = [];

  before(async () => {
    await ensureWebBuilt();
    catalogDir = mkdtempSync(path.join(tmpdir(), 'berth-e2e-catalog-'));
    writeFileSync(path.join(catalogDir, 'app.cjs'), APP_JS);
    // Healthy only after 1.5 s: the health step shows (live) before the healthy one.
    writeApp(catalogDir, 'demo', 'Demo Notes', { readyAfterMs: 1500, icon: true });
    writeApp(catalogDir, 'flaky', 'Flaky Thing', { health: '/never', retries: 3 });
    repoDir = mkdtempSync(path.join(tmpdir(), 'berth-e2e-preview-repo-'));
    td = await startTestDaemon({ trustedProxies: ['127.0.0.1/32'], catalogDirs: [catalogDir], previewDomain: 'preview.test', allowFileRepos: true });
    assert.ok(await daemonServesDashboard(td.daemon.url), 'the daemon serves the dashboard itself');
    rootUrl = td.daemon.url;
    sub = await startSubpathProxy(rootUrl, '/berth');
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await sub?.close();
    // Preview workloads outlive the daemon (detached supervisors): destroy them first.
    if (td) {
      for (const p of (await td.api('GET', '/api/previews')).body.previews as { id: string }[]) await td.api('DELETE', `/api/previews/${p.id}`);
      for (let i = 0; i < 100 && (await td.api('GET', '/api/previews')).body.previews.length > 0; i++) await new Promise((r) => setTimeout(r, 200));
      await td.stop();
    }
    rmSync(catalogDir, { recursive: true, force: true });
    rmSync(repoDir, { recursive: true, force: true });
  });

  async function appsFlow(base: string, label: string): Promise<void> {
    await browser.context.clearCookies();
    const page = await browser.context.newPage();
    const problems = watchProblems(page);
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));

    await page.goto(base);
    await logIn(page, 'admin', TEST_ADMIN_PASSWORD);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Apps' }).click();
    await page.getByRole('heading', { name: 'Apps', level: 1 }).waitFor();

    // The catalog card: icon (served by the API below the base), title, description.
    const card = page.locator('li.cat[data-app="demo"]');
    await card.getByRole('heading', { name: 'Demo Notes' }).waitFor();
    assert.match((await card.locator('.desc').textContent()) ?? '', /a tiny node app/);
    const icon = card.locator('img.app-icon');
    assert.equal(await icon.getAttribute('src'), `${base}api/catalog/demo/icon`);
    await page.waitForFunction((img) => img instanceof HTMLImageElement && img.complete && img.naturalWidth > 0, await icon.elementHandle());
    // Built-in catalog apps are offered too.
    await page.locator('li.cat[data-app="gitea"]').waitFor();

    // Install: the streamed steps show as they happen, the button is busy meanwhile.
    await card.getByRole('button', { name: 'Install Demo Notes' }).click();
    await card.locator('.steps li[data-step="health"]').first().waitFor();
    assert.equal(await card.locator('.steps li[data-step="healthy"]').count(), 0, 'the health step shows before the app is healthy');
    assert.equal(await card.getByRole('button', { name: 'Installing… Demo Notes' }).isDisabled(), true);
    await card.getByRole('status').filter({ hasText: 'Demo Notes is installed and healthy.' }).waitFor();
    const steps = await card.locator('.steps li').evaluateAll((els) => els.map((e) => e.getAttribute('data-step')));
    assert.deepEqual(steps.filter((s, i) => s !== steps[i - 1]), ['provisioning', 'pulling', 'starting', 'health', 'healthy']);
    assert.match((await card.locator('.steps li[data-step="healthy"]').textContent()) ?? '', new RegExp(`demo is healthy at ${td.daemon.appsUrl}/embed/demo/`));

    // Installed list: running, with its address.
    const item = page.locator('li.app', { has: page.getByRole('heading', { name: 'Demo Notes', exact: true }) });
    await item.locator('.state-running').waitFor();
    await shot(page, `${label}-apps`, true);

    // Open it in the dashboard: an iframe on the apps origin's /embed/demo/ (another origin: the
    // app's scripts cannot reach the dashboard); the app's page is inside the frame.
    await item.getByRole('link', { name: 'Open Demo Notes in the dashboard' }).click();
    await page.getByRole('heading', { name: 'Demo Notes', level: 1 }).waitFor();
    assert.ok(page.url().endsWith('#/apps/demo'), page.url());
    const iframe = page.locator('iframe.frame');
    assert.equal(await iframe.getAttribute('src'), `${td.daemon.appsUrl}/embed/demo/`);
    assert.equal(await iframe.getAttribute('title'), 'Demo Notes (app)');
    const inside = page.frameLocator('iframe.frame');
    await inside.getByRole('heading', { name: 'Hello from Demo Notes' }).waitFor();
    assert.equal(await inside.locator('#path').textContent(), '/');
    assert.equal(await inside.locator('#prefix').textContent(), '/embed/demo');
    const secret = (await inside.locator('#secret').textContent()) ?? '';
    assert.match(secret, /\S{16,}/);
    for (const earlier of secrets) assert.notEqual(secret, earlier, 'a purged app gets new secrets on its next install');
    secrets.push(secret);
    await shot(page, `${label}-app-frame`);

    // Back; uninstall asks first (Escape cancels and gives focus back), then purges.
    await page.getByRole('link', { name: '← Apps' }).click();
    const uninstall = item.getByRole('button', { name: 'Uninstall Demo Notes' });
    await uninstall.click();
    const dialog = page.getByRole('dialog', { name: 'Uninstall Demo Notes?' });
    await dialog.waitFor();
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    await page.waitForFunction(() => document.activeElement?.getAttribute('aria-label') === 'Uninstall Demo Notes');
    await uninstall.click();
    await dialog.getByRole('checkbox', { name: 'Also delete its data (purge)' }).check();
    const deleted = page.waitForRequest((r) => r.method() === 'DELETE');
    await dialog.getByRole('button', { name: 'Uninstall and delete data' }).click();
    assert.equal((await deleted).url(), `${base}api/apps/demo?purge=1`);
    await item.waitFor({ state: 'detached' });
    await page.getByText('No apps installed yet.').waitFor();
    assert.equal((await td.api('GET', '/api/apps/demo')).status, 404);
    assert.equal((await fetch(`${td.daemon.appsUrl}/embed/demo/`, { headers: { authorization: `Bearer ${td.daemon.token}` } })).status, 404);

    // Everything the page and its frame fetched stayed below its base URL.
    const origin = new URL(base).origin;
    assert.deepEqual(requests.filter((u) => u.startsWith(origin) && !u.startsWith(base)), []);
    assert.deepEqual(problems, []);
    await page.close();
  }

  it('installs, opens in its frame and uninstalls an app at the root', { timeout: 120_000 }, async () => {
    await appsFlow(rootUrl + '/', 'root');
  });

  it('does the same behind a sub-path proxy (/berth/)', { timeout: 120_000 }, async () => {
    await appsFlow(sub.url + '/berth/', 'subpath');
  });

  it('shows refusals and failed installs with their code and message', { timeout: 120_000 }, async () => {
    await browser.context.clearCookies();
    const page = await browser.context.newPage();
    const problems = watchProblems(page);
    await page.goto(rootUrl + '/#/apps');
    await logIn(page, 'admin', TEST_ADMIN_PASSWORD);
    await page.getByRole('heading', { name: 'Apps', level: 1 }).waitFor();

    // Refused before anything starts (an HTTP error): Gitea needs the shared PostgreSQL.
    const gitea = page.locator('li.cat[data-app="gitea"]');
    await gitea.getByRole('button', { name: 'Install Gitea' }).click();
    const refusal = gitea.getByRole('alert');
    await refusal.filter({ hasText: 'needs the shared PostgreSQL, which is not configured' }).waitFor();
    assert.match((await refusal.textContent()) ?? '', /\(E_INFRA_UNAVAILABLE\).*BERTH_POSTGRES_URL/);
    assert.equal(await gitea.locator('.steps').count(), 0, 'nothing started, so no steps');

    // Failed during the stream: the health check never passes.
    const flaky = page.locator('li.cat[data-app="flaky"]');
    await flaky.getByRole('button', { name: 'Install Flaky Thing' }).click();
    const failure = flaky.getByRole('alert');
    await failure.filter({ hasText: 'health check failed 3 times' }).waitFor();
    assert.match((await failure.textContent()) ?? '', /\(E_APP_UNHEALTHY\)/);
    await flaky.locator('.steps li[data-step="failed"]').waitFor();
    await flaky.getByRole('status').filter({ hasText: 'Installing Flaky Thing failed.' }).waitFor();
    const item = page.locator('li.app', { has: page.getByRole('heading', { name: 'Flaky Thing', exact: true }) });
    await item.locator('.state-failed').waitFor();
    assert.match((await item.locator('.reason').textContent()) ?? '', /health check failed 3 times/);
    assert.equal(await item.getByRole('link', { name: /Open Flaky Thing/ }).count(), 0, 'a failed app cannot be opened');
    await flaky.getByRole('button', { name: 'Install again Flaky Thing' }).waitFor();
    await shot(page, 'apps-errors', true);

    // Uninstall without purge: no query.
    await item.getByRole('button', { name: 'Uninstall Flaky Thing' }).click();
    const deleted = page.waitForRequest((r) => r.method() === 'DELETE');
    await page.getByRole('dialog', { name: 'Uninstall Flaky Thing?' }).getByRole('button', { name: 'Uninstall', exact: true }).click();
    assert.equal((await deleted).url(), `${rootUrl}/api/apps/flaky`);
    await item.waitFor({ state: 'detached' });
    assert.deepEqual(except(problems, 503), []);
    await page.close();
  });

  /** Opens the Apps page as admin and waits for the installed list. */
  async function appsPage(): Promise<Page> {
    await browser.context.clearCookies();
    const page = await browser.context.newPage();
    await page.goto(rootUrl + '/#/apps');
    await logIn(page, 'admin', TEST_ADMIN_PASSWORD);
    await page.getByRole('heading', { name: 'Installed', level: 2 }).waitFor();
    return page;
  }
  const installedItem = (page: Page, title: string) => page.locator('li.app', { has: page.getByRole('heading', { name: title, exact: true }) });
  const uninstallOutside = async (name: string): Promise<void> => {
    const res = await fetch(`${rootUrl}/api/apps/${name}`, { method: 'DELETE', headers: { authorization: `Bearer ${td.daemon.token}` } });
    assert.equal(res.status, 200);
  };

  it('shows apps installed and uninstalled outside the page within a second, from events, without polling', { timeout: 60_000 }, async () => {
    writeApp(catalogDir, 'outside', 'Outside Job');
    const page = await appsPage();
    const problems = watchProblems(page);
    await page.getByText(/installed · live/).waitFor();
    // From here on the page must not ask for the list: a poll would, every 3 s.
    const listRequests: string[] = [];
    page.on('request', (r) => {
      if (r.method() === 'GET' && new URL(r.url()).pathname === '/api/apps') listRequests.push(r.url());
    });
    const since = Date.now();

    assert.equal((await installApp(rootUrl, td.daemon.token, 'outside')).state, 'running');
    const item = installedItem(page, 'Outside Job');
    await item.locator('.state-running').waitFor({ timeout: 1000 });

    // Outlast one poll interval, so that "no request" means "no polling".
    await page.waitForTimeout(Math.max(0, 3500 - (Date.now() - since)));
    const removed = Date.now();
    await uninstallOutside('outside');
    await item.waitFor({ state: 'detached', timeout: 1000 });
    const ms = Date.now() - removed;
    assert.ok(ms < 1000, `the uninstall showed after ${ms} ms`);
    assert.deepEqual(listRequests, [], 'the page polled api/apps although the stream was open');
    assert.deepEqual(problems, []);
    await page.close();
  });

  it('polls the installed list every 3 s when the events stream is not there', { timeout: 60_000 }, async () => {
    await browser.context.clearCookies();
    const page = await browser.context.newPage();
    await page.route(/\/api\/events$/, (route) => route.fulfill({ status: 404, contentType: 'application/json', body: '{"error":{"code":"E_NOT_FOUND","message":"no route"}}' }));
    await page.goto(rootUrl + '/#/apps');
    await logIn(page, 'admin', TEST_ADMIN_PASSWORD);
    await page.getByText(/installed · refreshing every 3 s/).waitFor();
    assert.equal((await installApp(rootUrl, td.daemon.token, 'outside')).state, 'running');
    const item = installedItem(page, 'Outside Job');
    await item.locator('.state-running').waitFor({ timeout: 5000 });
    await uninstallOutside('outside');
    await item.waitFor({ state: 'detached', timeout: 5000 });
    await page.close();
  });

  it('lists previews per repository with state, address, commit and build log', { timeout: 180_000 }, async () => {
    // Commit 1 asks for the shared PostgreSQL (not configured here: its build fails); commit 2 runs.
    const badSha = createPreviewRepo(repoDir);
    const goodSha = commitVersion(repoDir, 'v2', GOOD_PREVIEW);
    const cloneUrl = pathToFileURL(repoDir).href;

    await browser.context.clearCookies();
    const page = await browser.context.newPage();
    const problems = watchProblems(page);
    await page.goto(rootUrl + '/');
    await logIn(page, 'admin', TEST_ADMIN_PASSWORD);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Previews' }).click();
    await page.getByRole('heading', { name: 'Previews', level: 1 }).waitFor();
    await page.getByText('No previews.').waitFor();

    // Created through the API (what `berth preview create` does); the open page picks them up.
    for (const [pr, sha] of [[3, badSha], [4, goodSha]] as const) {
      const res = await td.api('POST', '/api/previews', { repo: REPO, cloneUrl, number: pr, ref: sha });
      assert.equal(res.status, 202, JSON.stringify(res.body));
    }
    const item = (pr: number) => page.locator('li.pv', { has: page.getByRole('link', { name: `PR #${pr}`, exact: true }) });
    await page.getByRole('region', { name: `Previews of ${REPO}` }).getByRole('heading', { name: REPO, level: 2 }).waitFor();
    await item(4).locator('.state-running').waitFor({ timeout: 90_000 });
    await item(3).locator('.state-failed').waitFor({ timeout: 90_000 });
    const address = item(4).getByRole('link', { name: `Open the preview of ${REPO} pull request 4 (new tab)` });
    assert.equal(await address.getAttribute('href'), 'http://4.preview.test');
    const commit = item(4).locator('code[title]');
    assert.equal(await commit.textContent(), goodSha.slice(0, 7));
    assert.equal(await commit.getAttribute('title'), goodSha);
    assert.match((await item(3).locator('.reason').textContent()) ?? '', /BERTH_POSTGRES_URL/);
    assert.equal(await item(3).getByRole('link', { name: /Open the preview/ }).count(), 0, 'a preview that never ran has no link');
    // Newest pull request first.
    assert.deepEqual(await page.locator('li.pv h3').allTextContents(), ['PR #4', 'PR #3']);
    await shot(page, 'previews', true);

    // The detail view with the build log.
    await item(4).getByRole('link', { name: 'PR #4', exact: true }).click();
    await page.getByRole('heading', { name: `${REPO} #4`, level: 1 }).waitFor();
    const log = page.getByRole('log', { name: 'Build log' });
    await log.filter({ hasText: 'live at http://4.preview.test' }).waitFor();
    assert.match((await log.textContent()) ?? '', new RegExp(`fetching ${goodSha}`));
    await shot(page, 'preview-detail', true);
    await page.getByRole('link', { name: '← Previews' }).click();
    await item(3).getByRole('link', { name: `Build log of ${REPO} pull request 3` }).click();
    await page.getByRole('heading', { name: `${REPO} #3`, level: 1 }).waitFor();
    await log.filter({ hasText: /FAILED: .*BERTH_POSTGRES_URL/ }).waitFor();

    // Destroy from the list, after a confirmation.
    await page.getByRole('link', { name: '← Previews' }).click();
    await item(4).getByRole('button', { name: `Destroy preview of ${REPO} #4` }).click();
    await item(4).getByRole('button', { name: `Destroy for good preview of ${REPO} #4` }).click();
    await item(4).waitFor({ state: 'detached', timeout: 30_000 });
    const left = (await td.api('GET', '/api/previews')).body.previews as { pr: number }[];
    assert.deepEqual(left.map((p) => p.pr), [3]);
    assert.deepEqual(problems, []);
    await page.close();
  });

  it('fits a 375 px screen without sideways scrolling or layout shift', { timeout: 60_000 }, async () => {
    await browser.context.clearCookies();
    const page = await browser.context.newPage();
    await page.setViewportSize({ width: 375, height: 760 });
    await page.goto(rootUrl + '/#/apps');
    await logIn(page, 'admin', TEST_ADMIN_PASSWORD);
    await page.getByRole('heading', { name: 'Apps', level: 1 }).waitFor();
    for (const [hash, ready, name] of [
      ['#/apps', 'li.cat[data-app="demo"]', 'mobile-apps'],
      ['#/previews', 'li.pv', 'mobile-previews'],
    ] as const) {
      await page.goto(`${rootUrl}/${hash}`);
      await page.reload();
      await page.locator(ready).first().waitFor();
      const cls = await layoutShift(page);
      assert.ok(cls < 0.1, `${hash}: cumulative layout shift ${cls}`);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.ok(overflow <= 0, `${hash}: page is ${overflow}px wider than the screen`);
      await shot(page, name, true);
    }
    await page.close();
  });
});
