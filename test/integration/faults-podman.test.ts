// Fault suite, runtime part: podman starts failing under a running daemon (every call exits 125
// with an engine error, as when its storage or service breaks), then recovers. While it fails the
// reconciler must conclude nothing (no workspace marked failed, no orphan removed), running apps
// keep serving through the edge, a create fails cleanly (no record, no port), a delete is kept and
// finished later; once podman answers again everything converges.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { ensureTestImage } from '../support/test-image.js';
import { requireOrSkip } from '../support/require.js';

const run = promisify(execFile);
const podmanPath = await run('sh', ['-c', 'command -v podman']).then((r) => r.stdout.trim(), () => '');

/**
 * A podman stand-in: runs the real podman with the same argv, unless the flag file exists; then it
 * fails like a broken engine. With the `slow-rm` file beside the flag, `podman rm` returns 1.5 s
 * after the container is gone (a slow engine cleanup). Node, not a shell script, so argv passes
 * through untouched.
 */
function writeFlakyPodman(dir: string, flag: string): string {
  const file = path.join(dir, 'flaky-podman.mjs');
  writeFileSync(
    file,
    `#!${process.execPath}
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
if (existsSync(${JSON.stringify(flag)})) {
  process.stderr.write('Error: database is locked: storage unavailable (injected fault)\\n');
  process.exit(125);
}
const r = spawnSync(${JSON.stringify(podmanPath)}, process.argv.slice(2), { stdio: 'inherit' });
if (process.argv.includes('rm') && existsSync(${JSON.stringify(path.join(dir, 'slow-rm'))})) await new Promise((res) => setTimeout(res, 1500));
process.exit(r.status ?? 1);
`,
  );
  chmodSync(file, 0o755);
  return file;
}

describe('fault: podman fails under a running daemon', { skip: requireOrSkip('podman', !!podmanPath, 'podman is not installed (scripts/install-deps --test installs it)') }, () => {
  let t: TestDaemon;
  let dir: string;
  let flag: string;
  let image: string;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'berth-flaky-'));
    flag = path.join(dir, 'fail');
    t = await startTestDaemon({ runtime: 'podman', podmanBin: writeFlakyPodman(dir, flag) });
    image = await ensureTestImage('podman', { CONTAINERS_CONF: path.join(t.dataDir, 'containers.conf') });
  });
  after(async () => {
    if (existsSync(flag)) unlinkSync(flag);
    await t?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('changes nothing while podman fails, keeps serving, and converges when it recovers', async () => {
    const web = await t.api('POST', '/api/workspaces', { name: 'steady', visibility: 'public', image, command: ['httpd', '-f', '-p', '8000', '-h', '/www'] });
    assert.equal(web.status, 201, JSON.stringify(web.body));
    const url = web.body.ports[0].url as string;
    const answers = async (): Promise<number> => fetch(url).then((r) => r.status, () => 0);
    for (let i = 0; i < 50 && (await answers()) !== 200; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(await answers(), 200);
    const gone = await t.api('POST', '/api/workspaces', { name: 'doomed', image, command: ['httpd', '-f', '-p', '8000', '-h', '/www'] });
    assert.equal(gone.status, 201, JSON.stringify(gone.body));
    const before = (await t.api('GET', '/api/workspaces')).body.workspaces as any[];

    writeFileSync(flag, '');
    // The reconciler cannot list workloads: it must fail the pass, not declare them gone.
    await assert.rejects(t.daemon.reconcile(), /storage unavailable|E_RUNTIME/);
    const during = (await t.api('GET', '/api/workspaces')).body.workspaces as any[];
    assert.deepEqual(
      during.map((w) => [w.name, w.state]),
      before.map((w) => [w.name, w.state]),
      'no state changed because of a failing engine',
    );
    assert.equal(await answers(), 200, 'the running container keeps serving through the edge');

    // A create fails with a clear error and leaves no record and no port behind.
    const failed = await t.api('POST', '/api/workspaces', { name: 'newcomer', image, command: ['httpd', '-f', '-p', '8000', '-h', '/www'] });
    assert.ok(failed.status >= 500 && failed.status < 600, `status ${failed.status}`);
    assert.match(failed.body.error.code, /^E_RUNTIME/);
    assert.match(failed.body.error.message, /storage unavailable/, 'the engine’s own words reach the user');
    const names = ((await t.api('GET', '/api/workspaces')).body.workspaces as any[]).map((w) => w.name).sort();
    assert.deepEqual(names, ['doomed', 'steady']);

    // A delete cannot finish now; it must not be forgotten either.
    const del = await t.api('DELETE', `/api/workspaces/${gone.body.id}`);
    assert.ok(del.status >= 500 || del.status === 202, `delete while podman fails: ${del.status} ${JSON.stringify(del.body)}`);

    // Recovery: the pass converges. The delete is finished (container and port gone), the steady app is untouched.
    unlinkSync(flag);
    await t.daemon.reconcile();
    const after = (await t.api('GET', '/api/workspaces')).body.workspaces as any[];
    const doomed = after.find((w) => w.name === 'doomed');
    if (doomed) {
      // The API refused the delete outright (nothing was marked): deleting now must work.
      assert.equal(doomed.state, 'running');
      assert.equal((await t.api('DELETE', `/api/workspaces/${gone.body.id}`)).status, 204);
    }
    const { stdout } = await run(podmanPath, ['ps', '-a', '--filter', `label=berth.id=${gone.body.id}`, '--format', '{{.ID}}'], {
      env: { ...process.env, CONTAINERS_CONF: path.join(t.dataDir, 'containers.conf') },
    });
    assert.equal(stdout.trim(), '', 'the deleted workspace’s container is gone');
    assert.deepEqual(((await t.api('GET', '/api/workspaces')).body.workspaces as any[]).map((w) => [w.name, w.state]), [['steady', 'running']]);
    assert.equal(await answers(), 200);
    const again = await t.api('POST', '/api/workspaces', { name: 'newcomer', image, command: ['httpd', '-f', '-p', '8000', '-h', '/www'] });
    assert.equal(again.status, 201, JSON.stringify(again.body));
    assert.notEqual(again.body.ports[0].hostPort, web.body.ports[0].hostPort, 'no port shared with a live workspace');
  });

  it('a workspace being deleted answers 503 through the edge, never 502, until its route is gone', async () => {
    const ws = await t.api('POST', '/api/workspaces', { name: 'leaving', visibility: 'public', image, command: ['httpd', '-f', '-p', '8000', '-h', '/www'] });
    assert.equal(ws.status, 201, JSON.stringify(ws.body));
    const url = ws.body.ports[0].url as string;
    for (let i = 0; i < 50 && (await fetch(url).then((r) => r.status, () => 0)) !== 200; i++) await new Promise((r) => setTimeout(r, 100));
    writeFileSync(path.join(dir, 'slow-rm'), '');
    try {
      const statuses: number[] = [];
      let page503 = '';
      let deleting = true;
      const poll = (async () => {
        while (deleting) {
          statuses.push(
            await fetch(url, { headers: { accept: 'application/json' } }).then(
              async (r) => ((r.status === 503 && !page503 ? (page503 = await r.text()) : await r.arrayBuffer()), r.status),
              () => 0,
            ),
          );
        }
      })();
      const del = await t.api('DELETE', `/api/workspaces/${ws.body.id}`);
      deleting = false;
      await poll;
      assert.equal(del.status, 204, JSON.stringify(del.body));
      const seen = [...new Set(statuses)];
      assert.ok(!statuses.includes(502) && !statuses.includes(0), `statuses during the delete: ${seen.join(', ')}`);
      assert.ok(statuses.includes(503), `the deleting workspace answered 503 (saw ${seen.join(', ')} in ${statuses.length} requests)`);
      assert.match(JSON.parse(page503 || '{}').error?.message ?? page503, /"leaving" is being deleted/, `the 503 says why: ${page503}`);
      assert.equal(await fetch(url).then((r) => r.status), 404, 'gone once deleted');
    } finally {
      unlinkSync(path.join(dir, 'slow-rm'));
    }
  });
});
