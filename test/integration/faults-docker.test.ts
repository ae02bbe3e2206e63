// Fault suite, docker part: the Docker engine itself stops under a running Berth daemon (dockerd
// SIGTERM: it stops every container on its way out), then comes back. While it is down the
// reconciler must conclude nothing, a create fails cleanly; once it answers again the workspace
// whose container died is recorded failed with its exit code and restarted by its policy, and its
// hosted URL answers again. Runs against the engine scripts/start-docker started (it holds the pid
// file); skips loudly when there is none, so a developer's own dockerd is never stopped.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { ensureTestImage } from '../support/test-image.js';

const run = promisify(execFile);
const PID_FILE = '/run/berth-test-docker/dockerd.pid';
const START_DOCKER = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../scripts/start-docker');

const engineUp = (): Promise<boolean> => run('docker', ['info']).then(() => true, () => false);
const ownPid = (): number | null => {
  if (!existsSync(PID_FILE)) return null;
  const pid = Number(readFileSync(PID_FILE, 'utf8').trim());
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return null;
  }
};
const skip = !(await engineUp())
  ? 'no Docker engine answers `docker info` (scripts/test installs docker.io and starts one)'
  : ownPid() === null
    ? `the Docker engine was not started by scripts/start-docker (no live ${PID_FILE}); not stopping someone else's engine`
    : false;
if (skip) console.error(`SKIPPED docker fault tests: ${skip}`);

async function until<T>(what: string, fn: () => Promise<T | null | undefined | false>, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('fault: the Docker engine stops under a running daemon', { skip }, () => {
  let t: TestDaemon;
  let image: string;

  before(async () => {
    image = await ensureTestImage('docker');
    // Passes are driven by hand: no periodic pass in the way.
    t = await startTestDaemon({ runtime: 'docker', reconcileInterval: 3600 });
  });
  after(async () => {
    if (!(await engineUp())) await run(START_DOCKER);
    await t?.stop();
  });

  it('changes nothing while the engine is down, and converges when it is back', async () => {
    const web = await t.api('POST', '/api/workspaces', { name: 'survivor', visibility: 'public', restart: 'on-failure', image, command: ['httpd', '-f', '-p', '8000', '-h', '/www'] });
    assert.equal(web.status, 201, JSON.stringify(web.body));
    const url = web.body.ports[0].url as string;
    const status = (): Promise<number> => fetch(url).then((r) => r.status, () => 0);
    await until('the hosted app answers', async () => (await status()) === 200);

    // Stop the engine (SIGTERM: dockerd stops its containers, then exits).
    const pid = ownPid()!;
    process.kill(pid, 'SIGTERM');
    await until('dockerd exits', async () => ownPid() === null && !(await engineUp()));

    await assert.rejects(t.daemon.reconcile(), /E_RUNTIME|Cannot connect|docker/i, 'a pass without an engine fails instead of concluding');
    const during = (await t.api('GET', `/api/workspaces/${web.body.id}`)).body;
    assert.equal(during.state, 'running', 'no state changed because the engine is down');
    const failed = await t.api('POST', '/api/workspaces', { name: 'newcomer', image, command: ['httpd', '-f', '-p', '8000', '-h', '/www'] });
    assert.ok(failed.status >= 500 && failed.status < 600, `create without an engine: ${failed.status}`);
    assert.match(failed.body.error.code, /^E_RUNTIME/);
    assert.deepEqual(((await t.api('GET', '/api/workspaces')).body.workspaces as any[]).map((w) => w.name), ['survivor'], 'no half-created record');

    // The engine comes back; its containers stayed stopped. One pass records the crash and
    // schedules the restart (on-failure: httpd died of SIGTERM), a later one restarts it.
    await run(START_DOCKER);
    assert.ok(await engineUp());
    await t.daemon.reconcile();
    const crashed = (await t.api('GET', `/api/workspaces/${web.body.id}`)).body;
    assert.equal(crashed.state, 'failed', JSON.stringify(crashed));
    assert.match(crashed.reason, /exited with code \d+; restart 1/);
    await until('the workspace is restarted', async () => {
      await t.daemon.reconcile();
      return (await t.api('GET', `/api/workspaces/${web.body.id}`)).body.state === 'running';
    });
    await until('the hosted app answers again', async () => (await status()) === 200);
    const again = await t.api('POST', '/api/workspaces', { name: 'newcomer', image, command: ['httpd', '-f', '-p', '8000', '-h', '/www'] });
    assert.equal(again.status, 201, JSON.stringify(again.body));
    const ws = (await t.api('GET', '/api/workspaces')).body.workspaces as any[];
    assert.equal(new Set(ws.flatMap((w) => w.ports.map((p: any) => p.hostPort))).size, ws.length * 5, 'no port shared');
  });
});
