/**
 * Two Berths on one engine (issue 11, item 6): each with its own data dir, port and port range,
 * reconciling every second, each with a workspace named `demo` and the same catalog app. Neither
 * may touch the other's workloads: after BERTH_TEST_SOAK_S (default 30) seconds both keep the same
 * containers, running, answering through their own edges. Before installation scoping, the second
 * daemon removed the first one's workspace container as an orphan within seconds (and installing
 * the same app removed the other's app container as a leftover).
 * installations-podman.test.ts and installations-docker.test.ts run it.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { startTestDaemon, type TestDaemon } from './daemon.js';
import { answers, installApp, writeBusyApp } from './busy-app.js';
import { freeRanges } from './free-port.js';
import { ensureTestImage, TEST_IMAGE, TEST_IMAGE_BODY } from './test-image.js';

const run = promisify(execFile);
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

    before(async () => {
      dir = await mkdtemp(path.join(tmpdir(), 'berth-two-'));
      await writeBusyApp(dir, 'busy-shared');
      // Disjoint ranges: the two daemons must not fight over host ports either.
      for (const range of await freeRanges(2)) berths.push(await startTestDaemon({ runtime: engine, reconcileInterval: 1, catalogDirs: [dir], ...range }));
      await ensureTestImage(engine, engine === 'podman' ? { CONTAINERS_CONF: path.join(berths[0]!.dataDir, 'containers.conf') } : {});
    });

    after(async () => {
      for (const t of berths) await t.stop().catch(() => undefined);
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it('both create a workspace named demo and install the same app; after the soak nothing of either was touched', { timeout: SOAK_MS + 120_000 }, async () => {
      const made: { t: TestDaemon; ws: any; app: any }[] = [];
      for (const t of berths) {
        const res = await t.api('POST', '/api/workspaces', { name: 'demo', visibility: 'public', image: TEST_IMAGE, command: ['httpd', '-f', '-p', '8000', '-h', '/www'] });
        assert.equal(res.status, 201, JSON.stringify(res.body));
        const app = await installApp(t, 'busy-shared');
        assert.equal(app.state, 'running', JSON.stringify(app));
        made.push({ t, ws: res.body, app: t.daemon.apps.get('busy-shared') });
      }
      assert.notEqual(made[0]!.ws.id, made[1]!.ws.id);
      const refs = made.map(({ t, ws, app }) => ({ ws: t.daemon.workspaces.get(ws.id).runtimeRef, app: app.runtimeRef as string }));
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
      }
    });
  });
}
