/**
 * Two Berths on one engine (issue 11, item 6): each with its own data dir, port and port range,
 * reconciling every second, each with a workspace named `demo`, the same catalog app and a
 * preview of the same pull request (a service built from the test image). Neither may touch the
 * other's workloads: after BERTH_TEST_SOAK_S (default 30) seconds both keep the same containers,
 * running, answering through their own edges. Before installation scoping, the second daemon
 * removed the first one's workspace container as an orphan within seconds (and installing the
 * same app removed the other's app container as a "leftover").
 * installations-podman.test.ts and installations-docker.test.ts run it.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { startTestDaemon, type TestDaemon } from './daemon.js';
import { answers, writeBusyApp } from './busy-app.js';
import { installApp } from './catalog-app.js';
import { freeRanges } from './free-port.js';
import { getVia, waitForPreview } from './preview-fixture.js';
import { ensureTestImage, TEST_IMAGE, TEST_IMAGE_BODY } from './test-image.js';

const run = promisify(execFile);
const PREVIEW_BODY = 'two berths preview\n';

/** A repository whose preview is one service built from the test image; returns its head SHA. */
async function commitPreviewSite(dir: string): Promise<string> {
  const git = (...args: string[]) => run('git', ['-c', 'user.name=T', '-c', 'user.email=t@example.invalid', ...args], { cwd: dir });
  await mkdir(path.join(dir, 'site'), { recursive: true });
  await writeFile(path.join(dir, 'site', 'index.html'), PREVIEW_BODY);
  await writeFile(path.join(dir, 'Containerfile'), `FROM ${TEST_IMAGE}\nCOPY site /srv\n`);
  await writeFile(
    path.join(dir, 'berth.preview.yaml'),
    'services:\n  - name: web\n    build: { context: ., containerfile: Containerfile }\n    command: [httpd, -f, -p, "8080", -h, /srv]\n    port: 8080\n    healthcheck: { http: /index.html, interval: 100ms, retries: 100 }\ndatabase: none\n',
  );
  await git('init', '--quiet', '--initial-branch=main');
  await git('add', '-A');
  await git('commit', '--quiet', '-m', 'site');
  return (await git('rev-parse', 'HEAD')).stdout.trim();
}

const SOAK_MS = Number(process.env.BERTH_TEST_SOAK_S ?? 30) * 1000;

/**
 * Registers the test for `engine`; `skip` is why it cannot run here (false: it runs). The engine
 * CLI is called with the daemon's environment (podman: its containers.conf).
 */
export function twoBerthsOnOneEngine(engine: 'podman' | 'docker', skip: string | false): void {
  const cli = async (t: TestDaemon, ...args: string[]): Promise<string> =>
    (await run(engine, args, { env: { ...process.env, ...(engine === 'podman' ? { CONTAINERS_CONF: path.join(t.dataDir, 'containers.conf') } : {}) } })).stdout;

  describe(`two Berths on one ${engine}`, { skip }, () => {
    const berths: TestDaemon[] = [];
    let dir: string;

    let repo: string;
    let sha: string;

    before(async () => {
      dir = await mkdtemp(path.join(tmpdir(), 'berth-two-'));
      await writeBusyApp(dir, 'busy-shared');
      repo = path.join(dir, 'repo');
      sha = await commitPreviewSite(repo);
      // Disjoint ranges: the two daemons must not fight over host ports either.
      for (const range of await freeRanges(2)) {
        berths.push(await startTestDaemon({ runtime: engine, reconcileInterval: 1, catalogDirs: [dir], previewDomain: 'preview.test', allowFileRepos: true, ...range }));
      }
      await ensureTestImage(engine, engine === 'podman' ? { CONTAINERS_CONF: path.join(berths[0]!.dataDir, 'containers.conf') } : {});
    });

    after(async () => {
      for (const t of berths) {
        for (const p of (await t.api('GET', '/api/previews')).body.previews as { id: string }[]) await t.api('DELETE', `/api/previews/${p.id}`);
        await waitForPreview('previews destroyed', async () => (await t.api('GET', '/api/previews')).body.previews.length === 0).catch(() => undefined);
        await t.stop().catch(() => undefined);
      }
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    /** Ids of this daemon's preview containers, as the engine lists them by its installation label. */
    const previewContainers = async (t: TestDaemon): Promise<string[]> =>
      (await cli(t, 'ps', '-q', '--no-trunc', '--filter', 'label=berth.kind=preview', '--filter', `label=berth.installation=${t.daemon.installation}`)).split('\n').filter(Boolean).sort();

    it('both create a workspace named demo, install the same app and preview the same PR; after the soak nothing of either was touched', { timeout: SOAK_MS + 240_000 }, async () => {
      const made: { t: TestDaemon; ws: any; app: any }[] = [];
      for (const t of berths) {
        const res = await t.api('POST', '/api/workspaces', { name: 'demo', visibility: 'public', image: TEST_IMAGE, command: ['httpd', '-f', '-p', '8000', '-h', '/www'] });
        assert.equal(res.status, 201, JSON.stringify(res.body));
        const app = await installApp(t.daemon.url, t.daemon.token, 'busy-shared');
        assert.equal(app.state, 'running', JSON.stringify(app));
        made.push({ t, ws: res.body, app: t.daemon.apps.get('busy-shared') });
        const queued = await t.api('POST', '/api/previews', { repo: 'octo-org/two', cloneUrl: pathToFileURL(repo).href, number: 7, ref: sha });
        assert.equal(queued.status, 202, JSON.stringify(queued.body));
      }
      for (const t of berths) {
        await waitForPreview('the preview live', async () => {
          const p = ((await t.api('GET', '/api/previews')).body.previews as any[])[0];
          if (p?.state === 'failed') throw new Error(`preview failed: ${p.reason}`);
          return p?.state === 'running' && (await getVia(t.daemon.url, '7.preview.test', '/index.html')).body === PREVIEW_BODY;
        }, 120_000);
      }
      assert.notEqual(made[0]!.ws.id, made[1]!.ws.id);
      const refs = made.map(({ t, ws, app }) => ({ ws: t.daemon.workspaces.get(ws.id).runtimeRef, app: app.runtimeRef as string }));
      const previewRefs = await Promise.all(berths.map(previewContainers));
      for (const [i, ids] of previewRefs.entries()) assert.equal(ids.length, 1, `berth ${i}: one preview container`);
      await new Promise((r) => setTimeout(r, SOAK_MS));
      for (const [i, { t, ws }] of made.entries()) {
        const now = t.daemon.workspaces.get(ws.id);
        assert.equal(now.state, 'running', `berth ${i}: workspace ${now.state}: ${now.reason}`);
        assert.equal(now.runtimeRef, refs[i]!.ws, `berth ${i}: the workspace container changed`);
        assert.equal(t.daemon.apps.get('busy-shared').runtimeRef, refs[i]!.app, `berth ${i}: the app container changed`);
        for (const ref of [refs[i]!.ws, refs[i]!.app]) {
          const state = await cli(t, 'inspect', '--format', '{{.State.Status}}', ref!).catch((err: Error) => err.message);
          assert.equal(state.trim(), 'running', `berth ${i}: container ${ref}: ${state}`);
        }
        assert.equal(await answers(ws.ports[0].url, TEST_IMAGE_BODY), TEST_IMAGE_BODY, `berth ${i}: the workspace answers through its edge`);
        assert.equal(await answers(`${t.daemon.appsUrl}/embed/busy-shared/`, TEST_IMAGE_BODY, t.daemon.token), TEST_IMAGE_BODY, `berth ${i}: the app answers through its edge`);
        assert.deepEqual(await previewContainers(t), previewRefs[i], `berth ${i}: the preview container changed`);
        assert.equal((await getVia(t.daemon.url, '7.preview.test', '/index.html')).body, PREVIEW_BODY, `berth ${i}: the preview answers through its edge`);
      }
    });
  });
}
