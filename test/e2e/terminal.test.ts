// The dashboard's terminal in a real browser (Debian's Chromium via playwright-core) against a real
// daemon and a real podman container (busybox: sh, stty, vi): the remote `stty size` follows the
// page when it is resized, vi fills the screen and quits, colours and paste work, the shell is
// usable afterwards, and a dropped connection comes back as a new shell. A page of another origin
// in the same browser (the admin's cookie in it) cannot open a terminal.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Locator, Page } from 'playwright-core';
import { startTestDaemon, TEST_ADMIN_PASSWORD, type TestDaemon } from '../support/daemon.js';
import { ensureTestImage } from '../support/test-image.js';
import { requireOrSkip } from '../support/require.js';
import { workloadName } from '../../src/services/workspaces.js';
import { ensureWebBuilt, launchBrowser, shot, watchProblems, type TestBrowser } from './support/browser.js';

const run = promisify(execFile);
const podmanMissing = await run('podman', ['--version']).then(() => false, () => true);

/** A TCP forwarder to the daemon whose connections the test can cut (a network blip). */
async function startBlipProxy(target: number): Promise<{ url: string; cut(): void; down: boolean; close(): Promise<void> }> {
  const open = new Set<net.Socket>();
  const state = { down: false };
  const server = net.createServer((client) => {
    if (state.down) return client.destroy();
    const upstream = net.connect(target, '127.0.0.1');
    for (const s of [client, upstream]) {
      open.add(s);
      s.on('close', () => open.delete(s));
      s.on('error', () => s.destroy());
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    cut: () => open.forEach((s) => s.destroy()),
    get down() {
      return state.down;
    },
    set down(v: boolean) {
      state.down = v;
    },
    close: () => {
      open.forEach((s) => s.destroy());
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** What the terminal shows, as plain text lines (xterm.js renders non-breaking spaces). */
async function screen(term: Locator): Promise<string[]> {
  const text = await term.locator('.xterm-rows').innerText();
  return text.replace(/\u00a0/g, ' ').split('\n');
}

async function waitForScreen(term: Locator, test: (lines: string[]) => boolean, what: string, ms = 10_000): Promise<string[]> {
  const end = Date.now() + ms;
  let lines: string[] = [];
  while (Date.now() < end) {
    lines = await screen(term);
    if (test(lines)) return lines;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`terminal never showed ${what}; screen:\n${lines.join('\n')}`);
}

/** Types a command line and waits for a line of output matching `pattern`. */
async function runLine(page: Page, term: Locator, line: string, pattern: RegExp): Promise<RegExpMatchArray> {
  await page.keyboard.type(line);
  await page.keyboard.press('Enter');
  const lines = await waitForScreen(term, (ls) => ls.some((l) => pattern.test(l)), String(pattern));
  return lines.map((l) => pattern.exec(l)).find(Boolean)!;
}

async function geometry(term: Locator): Promise<{ cols: number; rows: number }> {
  return { cols: Number(await term.getAttribute('data-cols')), rows: Number(await term.getAttribute('data-rows')) };
}

describe('terminal in Chromium on podman', { skip: requireOrSkip('podman', !podmanMissing, 'podman is not installed (scripts/install-deps --test installs it)') }, () => {
  let td: TestDaemon;
  let browser: TestBrowser;
  let proxy: Awaited<ReturnType<typeof startBlipProxy>>;
  let wsId: string;
  let podmanEnv: NodeJS.ProcessEnv;

  before(async () => {
    await ensureWebBuilt();
    td = await startTestDaemon({ runtime: 'podman' });
    podmanEnv = { ...process.env, CONTAINERS_CONF: path.join(td.dataDir, 'containers.conf') };
    const image = await ensureTestImage('podman', { CONTAINERS_CONF: podmanEnv.CONTAINERS_CONF });
    const created = await td.api('POST', '/api/workspaces', { name: 'termy', image, command: ['sleep', '100000'] });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    wsId = created.body.id;
    proxy = await startBlipProxy(td.daemon.port);
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await proxy?.close();
    await td?.stop();
  });

  it('follows page resizes (stty size), runs vi full screen and quits it, keeps colours and paste, and survives a blip', async () => {
    const page = await browser.context.newPage();
    const problems = watchProblems(page);
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.goto(proxy.url);
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill(TEST_ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    const item = page.locator('li.ws', { has: page.getByRole('heading', { name: 'termy', exact: true }) });
    await item.locator('.state-running').waitFor();
    await item.getByRole('button', { name: 'Shell in termy' }).click();
    const term = item.getByRole('group', { name: 'Terminal of termy' });
    const status = item.getByRole('status');
    await status.filter({ hasText: 'connected' }).waitFor();
    await waitForScreen(term, (ls) => ls.some((l) => l.includes('#')), 'a prompt');

    // The size the page shows is the size the shell has, before and after a resize.
    const before = await geometry(term);
    assert.ok(before.cols > 40 && before.rows > 10, JSON.stringify(before));
    let m = await runLine(page, term, 'echo size=$(stty size) term=$TERM', /size=(\d+) (\d+) term=(\S+)/);
    assert.deepEqual([Number(m[1]), Number(m[2]), m[3]], [before.rows, before.cols, 'xterm-256color']);
    await page.setViewportSize({ width: 820, height: 640 });
    await page.waitForFunction(
      ([el, c, r]) => (el as HTMLElement).dataset.cols !== String(c) && (el as HTMLElement).dataset.rows !== String(r),
      [await term.elementHandle(), before.cols, before.rows] as const,
    );
    const after = await geometry(term);
    assert.ok(after.cols < before.cols && after.rows < before.rows, `${JSON.stringify(before)} → ${JSON.stringify(after)}`);
    await page.keyboard.press('Control+L');
    m = await runLine(page, term, 'echo resized=$(stty size)', /resized=(\d+) (\d+)/);
    assert.deepEqual([Number(m[1]), Number(m[2])], [after.rows, after.cols], 'stty size follows the page');

    // Colours: a red word is drawn in the ANSI red class.
    await runLine(page, term, "printf '\\033[31mred-%s\\033[0m\\n' word", /^red-word/);
    assert.equal(await term.locator('.xterm-rows span.xterm-fg-1', { hasText: 'red-word' }).count(), 1);

    // vi: full screen at the new size (its status line on the last row), then :q.
    await page.keyboard.press('Control+L');
    await page.keyboard.type('vi /tmp/berth-vi.txt');
    await page.keyboard.press('Enter');
    const vi = await waitForScreen(term, (ls) => ls.filter((l) => l.startsWith('~')).length >= after.rows - 2, 'vi filling the screen');
    assert.equal(vi.length, after.rows, 'the screen has as many rows as the terminal');
    assert.match(vi[after.rows - 1]!, /berth-vi\.txt/, 'vi draws its status line on the last row');
    await shot(page, 'terminal-vi');
    await page.keyboard.type(':q');
    await page.keyboard.press('Enter');
    await runLine(page, term, 'echo after-vi-$((6*7))', /^after-vi-42/);

    // Paste: Ctrl+V puts the clipboard through the terminal.
    await browser.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: proxy.url });
    await page.evaluate(() => navigator.clipboard.writeText('echo pasted-$((5*5))'));
    await term.click();
    await page.keyboard.press('Control+V');
    await page.keyboard.press('Enter');
    await waitForScreen(term, (ls) => ls.some((l) => l.startsWith('pasted-25')), 'the pasted command run');

    // A blip: every connection dropped and refused for a while → retries → a new shell.
    await runLine(page, term, 'export MARK=old-shell; echo marked', /^marked/);
    assert.deepEqual(problems.splice(0), [], 'no script, console or CSP errors');
    proxy.down = true;
    proxy.cut();
    await status.filter({ hasText: /reconnecting/ }).waitFor();
    await waitForScreen(term, (ls) => ls.some((l) => l.includes('connection lost; reconnecting')), 'the lost-connection note');
    await new Promise((r) => setTimeout(r, 1_500));
    proxy.down = false;
    await status.filter({ hasText: 'connected' }).waitFor({ timeout: 15_000 });
    await waitForScreen(term, (ls) => ls.some((l) => l.includes('reconnected: this is a new shell')), 'the reconnect note');
    m = await runLine(page, term, 'echo mark=[$MARK] size=$(stty size)', /mark=\[(.*)\] size=(\d+) (\d+)/);
    assert.deepEqual([m[1], Number(m[2]), Number(m[3])], ['', after.rows, after.cols], 'a new shell, at the page size');

    // exit: the panel says so and Enter starts a new shell.
    await page.keyboard.type('exit 3');
    await page.keyboard.press('Enter');
    await status.filter({ hasText: 'exited with code 3' }).waitFor();
    await page.keyboard.press('Enter');
    await status.filter({ hasText: 'connected' }).waitFor();
    await runLine(page, term, 'echo fresh-$((2+2))', /^fresh-4/);
    // The blip itself is logged by Chromium (the dropped sockets, the refused reconnects): only that.
    const blip = /WebSocket connection to .* failed|ERR_INCOMPLETE_CHUNKED_ENCODING|ERR_CONNECTION_(RESET|REFUSED|CLOSED)/;
    assert.deepEqual(problems.filter((p) => !blip.test(p)), [], 'no script, console or CSP errors');
    await page.close();
  });

  it('a page of another origin cannot open a terminal with the admin session; the dashboard origin can', async () => {
    await browser.context.clearCookies();
    const page = await browser.context.newPage();
    await page.goto(td.daemon.url);
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill(TEST_ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Workspaces', level: 1 }).waitFor();
    const marker = `/tmp/pwned-${Date.now()}`;
    const execUrl = (file: string): string =>
      `${td.daemon.url.replace('http', 'ws')}/api/workspaces/${wsId}/exec?tty=1&cmd=touch&cmd=${encodeURIComponent(file)}`;
    const tryOpen = (url: string): Promise<string> =>
      page.evaluate(
        (u) =>
          new Promise<string>((resolve) => {
            const ws = new WebSocket(u);
            ws.onmessage = (m) => typeof m.data === 'string' && m.data.includes('"exit"') && resolve(`exit ${JSON.parse(m.data).code}`);
            ws.onerror = () => resolve('refused');
            setTimeout(() => resolve('silent'), 10_000);
          }),
        url,
      );
    // Control: the dashboard's own origin opens it (the attack below could succeed if the check went).
    assert.equal(await tryOpen(execUrl(`${marker}-own`)), 'exit 0');
    // Same host, another port: same site, so Chromium sends the session cookie with the handshake.
    const hostile = http.createServer((_q, s) => s.end('<!doctype html><title>hostile</title>'));
    await new Promise<void>((resolve) => hostile.listen(0, '127.0.0.1', resolve));
    try {
      await page.goto(`http://127.0.0.1:${(hostile.address() as net.AddressInfo).port}/`);
      assert.equal(await tryOpen(execUrl(marker)), 'refused');
      // And another host name for the daemon itself (localhost): another origin too.
      await page.goto(`http://localhost:${(hostile.address() as net.AddressInfo).port}/`);
      assert.equal(await tryOpen(execUrl(marker).replace('127.0.0.1', 'localhost')), 'refused');
    } finally {
      hostile.close();
    }
    const name = workloadName(wsId, td.daemon.installation);
    const ls = await run('podman', ['exec', name, 'ls', '/tmp'], { env: podmanEnv });
    assert.match(ls.stdout, new RegExp(`${path.basename(marker)}-own`), 'the control session ran');
    assert.doesNotMatch(ls.stdout, new RegExp(`${path.basename(marker)}\\n`), 'no session ran for the hostile pages');
    await page.close();
  });
});
