/**
 * A catalog app built from the local test image (`localhost/berth-test:latest`, busybox httpd),
 * installed through the API on the podman runtime, reached through `/embed/{app}/`. One app uses
 * an HTTP health check, the other a command run inside the container (`wget`); a third mounts a
 * named volume whose data outlives an uninstall and goes with `--purge`.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { appVolumeName, appWorkloadName } from '../../src/services/apps.js';
import { startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { ensureTestImage, TEST_IMAGE, TEST_IMAGE_BODY } from '../support/test-image.js';
import { requireOrSkip } from '../support/require.js';
import { installApp } from '../support/catalog-app.js';

const run = promisify(execFile);
const podmanMissing = await run('podman', ['--version']).then(() => false, () => true);

async function writeApp(dir: string, name: string, healthcheck: Record<string, unknown>, extra: Record<string, unknown> = {}): Promise<void> {
  const manifest = {
    ...extra,
    name,
    title: `Podman ${name}`,
    description: 'busybox httpd from the local test image',
    image: TEST_IMAGE,
    command: ['httpd', '-f', '-p', '8080', '-h', '/www'],
    ports: { http: 8080 },
    healthcheck: { interval: '200ms', timeout: '2s', retries: 50, ...healthcheck },
  };
  await mkdir(path.join(dir, name), { recursive: true });
  await writeFile(path.join(dir, name, 'app.yaml'), JSON.stringify(manifest, null, 2));
}

describe('catalog apps on podman', { skip: requireOrSkip('podman', !podmanMissing, 'podman is not installed (scripts/install-deps --test installs it)') }, () => {
  let t: TestDaemon;
  let dir: string;
  let conf: string;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'berth-catalog-podman-'));
    await writeApp(dir, 'busy-http', { http: '/' });
    await writeApp(dir, 'busy-cmd', { command: ['wget', '-q', '-O', '-', 'http://127.0.0.1:8080/'] });
    await writeApp(dir, 'busy-vol', { http: '/' }, { volumes: { data: '/data' } });
    t = await startTestDaemon({ runtime: 'podman', catalogDirs: [dir] });
    conf = path.join(t.dataDir, 'containers.conf');
    VOLUME = appVolumeName('busy-vol', 'data', t.daemon.installation);
    await ensureTestImage('podman', { CONTAINERS_CONF: conf });
  });

  after(async () => {
    await t?.stop();
    // An uninstall keeps volumes: whatever a failed run left behind goes here.
    if (conf) await run('podman', ['volume', 'rm', VOLUME], { env: { ...process.env, CONTAINERS_CONF: conf } }).catch(() => undefined);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  // Names carry this installation's tag (runtime/installation.ts): known once the daemon runs.
  let VOLUME = '';
  const container = (name: string): string => appWorkloadName(name, t.daemon.installation);
  const podman = async (...args: string[]): Promise<string> => (await run('podman', args, { env: { ...process.env, CONTAINERS_CONF: conf } })).stdout;
  const volumeNames = async (): Promise<string[]> => (await podman('volume', 'ls', '--format', '{{.Name}}')).split('\n').filter(Boolean);
  const install = (name: string): Promise<any> => installApp(t.daemon.url, t.daemon.token, name);

  it('a volume keeps its data across uninstall + reinstall; uninstall --purge removes it', async () => {
    await run('podman', ['volume', 'rm', VOLUME], { env: { ...process.env, CONTAINERS_CONF: conf } }).catch(() => undefined);
    assert.equal((await install('busy-vol')).state, 'running');
    assert.ok((await volumeNames()).includes(VOLUME), 'the volume was created');
    const labels = JSON.parse(await podman('volume', 'inspect', '--format', '{{json .Labels}}', VOLUME)) as Record<string, string>;
    assert.equal(labels['berth.installation'], t.daemon.installation, `the volume carries the installation: ${JSON.stringify(labels)}`);
    // The app finds the mount path in its env; write through it.
    assert.equal((await podman('exec', container('busy-vol'), 'sh', '-c', 'echo "$BERTH_VOLUME_DATA"')).trim(), '/data');
    await podman('exec', container('busy-vol'), 'sh', '-c', 'echo kept-across-reinstall > "$BERTH_VOLUME_DATA/note.txt"');

    const kept = await t.api('DELETE', '/api/apps/busy-vol');
    assert.equal(kept.status, 200);
    assert.ok(kept.body.kept.includes(`volume ${VOLUME}`), JSON.stringify(kept.body));
    assert.equal((await podman('ps', '-a', '--filter', 'label=berth.id=busy-vol', '--format', '{{.ID}}')).trim(), '', 'the container is gone');
    assert.ok((await volumeNames()).includes(VOLUME), 'uninstall kept the volume');

    assert.equal((await install('busy-vol')).state, 'running');
    assert.equal(await podman('exec', container('busy-vol'), 'cat', '/data/note.txt'), 'kept-across-reinstall\n');

    const purged = await t.api('DELETE', '/api/apps/busy-vol?purge=1');
    assert.equal(purged.status, 200);
    assert.ok(purged.body.removed.includes(`volume ${VOLUME}`), JSON.stringify(purged.body));
    assert.ok(!(await volumeNames()).includes(VOLUME), '--purge left the volume');
  });

  for (const name of ['busy-http', 'busy-cmd']) {
    it(`${name}: installed via the API, reachable at /embed/${name}/ only, published on loopback`, async () => {
      const res = await fetch(`${t.daemon.url}/api/apps`, {
        method: 'POST',
        headers: { authorization: `Bearer ${t.daemon.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name }),
      });
      const lines = (await res.text()).split('\n').filter(Boolean).map((l) => JSON.parse(l));
      const last = lines[lines.length - 1];
      assert.equal(last.state, 'running', JSON.stringify(lines));
      assert.ok(lines.some((l) => l.step === 'pulling'));

      const page = await fetch(`${t.daemon.appsUrl}/embed/${name}/`, { headers: { authorization: `Bearer ${t.daemon.token}` } });
      assert.equal(page.status, 200);
      assert.equal(await page.text(), TEST_IMAGE_BODY);
      assert.equal(page.headers.get('content-security-policy'), `frame-ancestors 'self' http://127.0.0.1:*`);
      const root = await fetch(`${t.daemon.url}/index.html`, { headers: { authorization: `Bearer ${t.daemon.token}` } });
      assert.notEqual(await root.text(), TEST_IMAGE_BODY);

      const { stdout } = await run('podman', ['port', container(name)], { env: { ...process.env, CONTAINERS_CONF: conf } });
      for (const line of stdout.trim().split('\n')) assert.match(line, /-> 127\.0\.0\.1:\d+$/, `published beyond loopback: ${line}`);
    });
  }

  it('the reconciler adopts running app containers, and restarts a killed one (policy always)', async () => {
    const calm = await t.daemon.reconcile();
    assert.deepEqual([calm.apps.crashed, calm.apps.orphansPending], [[], []], 'a healthy app container taken for a crash or an orphan');
    await podman('kill', container('busy-cmd'));
    const crashed = await t.daemon.reconcile();
    assert.deepEqual(crashed.apps.crashed, ['busy-cmd']);
    const failed = (await t.api('GET', '/api/apps/busy-cmd')).body;
    assert.equal(failed.state, 'failed');
    assert.equal(failed.exitCode, 137);
    await new Promise((r) => setTimeout(r, 1100));
    assert.deepEqual((await t.daemon.reconcile()).apps.restarted, ['busy-cmd']);
    let status = 0;
    for (let i = 0; i < 50 && status !== 200; i++) {
      status = (await fetch(`${t.daemon.appsUrl}/embed/busy-cmd/`, { headers: { authorization: `Bearer ${t.daemon.token}` } })).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(status, 200, 'the restarted container is not served');
  });

  it('uninstall removes the container and the route', async () => {
    assert.equal((await t.api('DELETE', '/api/apps/busy-http')).status, 200);
    const { stdout } = await run('podman', ['ps', '-a', '--filter', 'label=berth.id=busy-http', '--format', '{{.ID}}'], {
      env: { ...process.env, CONTAINERS_CONF: conf },
    });
    assert.equal(stdout.trim(), '');
    assert.equal((await fetch(`${t.daemon.appsUrl}/embed/busy-http/`, { headers: { authorization: `Bearer ${t.daemon.token}` } })).status, 404);
  });
});
