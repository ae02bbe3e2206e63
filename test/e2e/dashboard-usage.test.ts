// The usage chart and the limits fields of the dashboard in Chromium, against a real daemon on the
// process runtime: a workspace burning CPU shows a live CPU/memory chart that gains points as the
// panel polls; the create form sends a memory limit and shows the server's refusal (the process
// runtime cannot enforce limits) with its hint.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestDaemon, TEST_ADMIN_PASSWORD, type TestDaemon } from '../support/daemon.js';
import { ensureWebBuilt, launchBrowser, shot, watchProblems, type TestBrowser } from './support/browser.js';

describe('dashboard usage chart in Chromium', () => {
  let td: TestDaemon;
  let browser: TestBrowser;

  before(async () => {
    await ensureWebBuilt();
    td = await startTestDaemon();
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await td?.stop();
  });

  it('draws CPU and memory of a busy workspace over time, and refuses limits the runtime cannot enforce', { timeout: 120_000 }, async () => {
    const res = await td.api('POST', '/api/workspaces', { name: 'hot', command: ['sh', '-c', 'while :; do :; done'] });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const page = await browser.context.newPage();
    const problems = watchProblems(page);
    await page.goto(td.daemon.url);
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill(TEST_ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    const item = page.locator('li.ws', { has: page.getByRole('heading', { name: 'hot', exact: true }) });
    await item.locator('.state-running').waitFor();

    await item.getByRole('button', { name: 'Usage of hot' }).click();
    const summary = item.getByTestId('usage-summary');
    await summary.filter({ hasText: /CPU \d+\.\d%/ }).waitFor({ timeout: 20_000 });
    const cpu = Number(/CPU (\d+\.\d)%/.exec((await summary.textContent()) ?? '')![1]);
    assert.ok(cpu > 10, `the burner shows busy: ${await summary.textContent()}`);
    // Two polls later the CPU line has at least two points (5 s apart).
    const points = async (): Promise<number> => ((await item.locator('polyline.usage-cpu').getAttribute('points')) ?? '').split(' ').filter(Boolean).length;
    const deadline = Date.now() + 20_000;
    while ((await points()) < 2 && Date.now() < deadline) await page.waitForTimeout(500);
    assert.ok((await points()) >= 2, 'the chart gained points');
    assert.match((await item.locator('svg.usage-chart').getAttribute('aria-label')) ?? '', /CPU and memory of hot over the last 10 minutes: CPU/);
    await shot(page, 'usage-chart', true);

    // The create form sends the limits; the process runtime refuses them, and the page says why.
    const form = page.locator('form.create');
    await form.getByLabel('Name').fill('capped');
    await form.getByLabel('Command').fill('sleep 60');
    await form.getByLabel('Memory').fill('512m');
    await form.getByLabel('CPUs').fill('0.5');
    await page.getByRole('button', { name: 'Create workspace' }).click();
    await page.locator('form.create .error', { hasText: 'cannot limit CPU or memory' }).waitFor();
    await page.locator('form.create .error', { hasText: 'podman or docker' }).waitFor();
    assert.equal((await td.api('GET', '/api/workspaces/capped')).status, 404);
    // The refused create is the one expected failed resource.
    assert.deepEqual(problems.filter((p) => !/status of 400/.test(p)), []);
  });
});
