/**
 * `GET /api/events` carries apps and previews besides workspaces (real daemon, process runtime),
 * read over HTTP as a client would: the installed apps on connect; an `app` event per state of an
 * install; `failed` with the exit code once the process is killed and a reconcile pass records it
 * (the reconciler writes the row itself, past AppService); `app-removed` after an uninstall; the
 * same for a member's session; and a preview from `building` to `running`, `destroying` and
 * `preview-removed` (a database-less fixture: a few seconds).
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { silentLogger } from '../../src/log.js';
import { createProcessRuntime } from '../../src/runtime/process/process-runtime.js';
import { installApp, writeCatalogApp } from '../support/catalog-app.js';
import { startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { appWorkloadName } from '../../src/services/apps.js';
import { createPreviewRepo, waitForPreview } from '../support/preview-fixture.js';

interface SseEvent {
  event: string;
  data: any;
}

/**
 * An open `/api/events` stream, parsed as it arrives. `next` waits for the first event not yet
 * taken that matches (events before it stay for later calls), so tests can follow one app's
 * states while others' events interleave.
 */
class EventStream {
  readonly events: SseEvent[] = [];
  private taken = new Set<number>();
  private buffer = '';
  private waiters: (() => void)[] = [];
  private ended: Error | null = null;
  private readonly ac = new AbortController();

  static async open(url: string, headers: Record<string, string>): Promise<EventStream> {
    const s = new EventStream();
    const res = await fetch(`${url}/api/events`, { headers, signal: s.ac.signal });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type')?.split(';')[0], 'text/event-stream');
    void s.pump(res.body!.getReader());
    return s;
  }

  private async pump(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) throw new Error('the stream ended');
        this.buffer += decoder.decode(value, { stream: true });
        let cut: number;
        while ((cut = this.buffer.indexOf('\n\n')) >= 0) {
          const block = this.buffer.slice(0, cut);
          this.buffer = this.buffer.slice(cut + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event && data) this.events.push({ event, data: JSON.parse(data) });
        }
        this.wake();
      }
    } catch (err) {
      this.ended = err as Error;
      this.wake();
    }
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** The first untaken event matching `pred`, waiting up to `ms` for it. */
  async next(what: string, pred: (e: SseEvent) => boolean, ms = 10_000): Promise<SseEvent> {
    const deadline = Date.now() + ms;
    for (;;) {
      const i = this.events.findIndex((e, n) => !this.taken.has(n) && pred(e));
      if (i >= 0) {
        this.taken.add(i);
        return this.events[i]!;
      }
      if (this.ended) throw new Error(`${what}: ${this.ended.message}; saw ${JSON.stringify(this.events)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; saw ${JSON.stringify(this.events)}`);
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((r) => {
        this.waiters.push(r);
        timer = setTimeout(r, left);
      });
      clearTimeout(timer);
    }
  }

  close(): void {
    this.ac.abort();
  }
}

const appEvent = (name: string, state?: string) => (e: SseEvent) => e.event === 'app' && e.data.type === 'app' && e.data.app.name === name && (!state || e.data.app.state === state);

describe('live events for apps and previews (process runtime)', () => {
  let dir: string;
  let t: TestDaemon;
  const streams: EventStream[] = [];
  const bearer = () => ({ authorization: `Bearer ${t.daemon.token}` });

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'berth-events-'));
    mkdirSync(path.join(dir, 'catalog'));
    await writeCatalogApp(path.join(dir, 'catalog'), 'early');
    await writeCatalogApp(path.join(dir, 'catalog'), 'ev');
    // Reconcile passes only by hand: the crash is recorded when the test says so.
    t = await startTestDaemon({ catalogDirs: [path.join(dir, 'catalog')], reconcileInterval: 3600, previewDomain: 'preview.test', allowFileRepos: true });
  });
  after(async () => {
    for (const s of streams) s.close();
    if (t) {
      // Preview workloads outlive the daemon (detached supervisors): destroy them first.
      for (const p of (await t.api('GET', '/api/previews')).body.previews as { id: string }[]) await t.api('DELETE', `/api/previews/${p.id}`);
      await waitForPreview('previews destroyed', async () => (await t.api('GET', '/api/previews')).body.previews.length === 0).catch(() => undefined);
      await t.stop();
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('sends installed apps on connect, then every state of an install, a crash the reconciler records, and the uninstall', { timeout: 60_000 }, async () => {
    assert.equal((await installApp(t.daemon.url, t.daemon.token, 'early')).state, 'running');
    const s = await EventStream.open(t.daemon.url, bearer());
    streams.push(s);

    // The snapshot: the app installed before we connected, as GET /api/apps presents it.
    const early = await s.next('snapshot of early', appEvent('early'));
    assert.deepEqual(early.data.app, (await t.api('GET', '/api/apps')).body.apps[0]);
    assert.equal(early.data.app.title, 'Test early', 'the title comes from the catalog manifest');

    assert.equal((await installApp(t.daemon.url, t.daemon.token, 'ev')).state, 'running');
    await s.next('ev installing', appEvent('ev', 'installing'));
    const running = await s.next('ev running', appEvent('ev', 'running'));
    assert.deepEqual(running.data.app, (await t.api('GET', '/api/apps/ev')).body);

    // A crash: only the reconciler notices, and it writes the app row itself.
    const pidFile = path.join(t.dataDir, 'process', appWorkloadName('ev', t.daemon.installation), 'state.json');
    process.kill((JSON.parse(readFileSync(pidFile, 'utf8')) as { pid: number }).pid, 'SIGKILL');
    const rt = createProcessRuntime({ log: silentLogger(), dataDir: t.dataDir }, {});
    for (let i = 0; i < 100 && (await rt.inspect(appWorkloadName('ev', t.daemon.installation))).state === 'running'; i++) await sleep(50);
    assert.deepEqual((await t.daemon.reconcile()).apps.crashed, ['ev']);
    const failed = await s.next('ev failed after the reconcile pass', appEvent('ev', 'failed'), 3000);
    assert.equal(failed.data.app.exitCode, 137);
    assert.match(failed.data.app.reason, /exited with code 137/);

    assert.equal((await t.api('DELETE', '/api/apps/ev')).status, 200);
    const removed = await s.next('ev removed', (e) => e.event === 'app-removed');
    assert.deepEqual(removed.data, { type: 'app-removed', name: 'ev' });
    // Nothing about `early` beyond the snapshot: only what changed is sent.
    assert.equal(s.events.filter(appEvent('early')).length, 1, JSON.stringify(s.events));
  });

  it('shows apps to a member too (any logged-in user reads them)', { timeout: 30_000 }, async () => {
    assert.equal((await t.api('POST', '/api/users', { username: 'mia', password: 'mia-password-123', role: 'member' })).status, 201);
    const login = await fetch(`${t.daemon.url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'mia', password: 'mia-password-123' }),
    });
    assert.equal(login.status, 200);
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
    const s = await EventStream.open(t.daemon.url, { cookie });
    streams.push(s);
    assert.equal((await s.next('early for a member', appEvent('early'))).data.app.state, 'running');
    assert.equal((await t.api('DELETE', '/api/apps/early')).status, 200);
    assert.deepEqual((await s.next('early removed', (e) => e.event === 'app-removed')).data, { type: 'app-removed', name: 'early' });
  });

  it('sends a preview from building to running, then destroying and preview-removed', { timeout: 90_000 }, async () => {
    const repoDir = path.join(dir, 'repo');
    const sha = createPreviewRepo(repoDir, { database: 'none' });
    const s = await EventStream.open(t.daemon.url, bearer());
    streams.push(s);
    const made = await t.api('POST', '/api/previews', { repo: 'octo-org/live', cloneUrl: pathToFileURL(repoDir).href, number: 5, ref: sha });
    assert.equal(made.status, 202, JSON.stringify(made.body));

    const isPreview = (state: string) => (e: SseEvent) => e.event === 'preview' && e.data.preview.pr === 5 && e.data.preview.state === state;
    await s.next('preview building', isPreview('building'), 30_000);
    const running = await s.next('preview running', isPreview('running'), 60_000);
    const listed = (await t.api('GET', '/api/previews')).body.previews[0];
    assert.deepEqual(running.data.preview, listed, 'the event is the preview as GET /api/previews presents it');
    assert.equal(running.data.preview.url, 'http://5.preview.test');

    assert.equal((await t.api('DELETE', `/api/previews/${listed.id}`)).status, 202);
    await s.next('preview destroying', isPreview('destroying'), 30_000);
    const removed = await s.next('preview removed', (e) => e.event === 'preview-removed', 30_000);
    assert.deepEqual(removed.data, { type: 'preview-removed', id: listed.id });
  });
});
