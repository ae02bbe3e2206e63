/**
 * A catalog app built from the local test image (`localhost/berth-test:latest`, busybox httpd),
 * installed through the API on the podman runtime, reached through `/embed/{app}/`. One app uses
 * an HTTP health check, the other a command run inside the container (`wget`).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { ensureTestImage, TEST_IMAGE, TEST_IMAGE_BODY } from '../support/test-image.js';

const run = promisify(execFile);
const podmanMissing = await run('podman', ['--version']).then(() => false, () => true);
if (podmanMissing) console.error('SKIPPED podman app tests: podman is not installed (scripts/install-deps --test installs it)');

async function writeApp(dir: string, name: string, healthcheck: Record<string, unknown>): Promise<void> {
  const manifest = {
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

describe('catalog apps on podman', { skip: podmanMissing ? 'podman is not installed' : false }, () => {
  let t: TestDaemon;
  let dir: string;
  let conf: string;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'berth-catalog-podman-'));
    await writeApp(dir, 'busy-http', { http: '/' });
    await writeApp(dir, 'busy-cmd', { command: ['wget', '-q', '-O', '-', 'http://127.0.0.1:8080/'] });
    t = await startTestDaemon({ runtime: 'podman', catalogDirs: [dir] });
    conf = path.join(t.dataDir, 'containers.conf');
    await ensureTestImage('podman', { CONTAINERS_CONF: conf });
  });

  after(async () => {
    await t?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
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

      const page = await fetch(`${t.daemon.url}/embed/${name}/`, { headers: { authorization: `Bearer ${t.daemon.token}` } });
      assert.equal(page.status, 200);
      assert.equal(await page.text(), TEST_IMAGE_BODY);
      assert.equal(page.headers.get('content-security-policy'), "frame-ancestors 'self'");
      const root = await fetch(`${t.daemon.url}/index.html`, { headers: { authorization: `Bearer ${t.daemon.token}` } });
      assert.notEqual(await root.text(), TEST_IMAGE_BODY);

      const { stdout } = await run('podman', ['port', `berth-app-${name}`], { env: { ...process.env, CONTAINERS_CONF: conf } });
      for (const line of stdout.trim().split('\n')) assert.match(line, /-> 127\.0\.0\.1:\d+$/, `published beyond loopback: ${line}`);
    });
  }

  it('uninstall removes the container and the route', async () => {
    assert.equal((await t.api('DELETE', '/api/apps/busy-http')).status, 204);
    const { stdout } = await run('podman', ['ps', '-a', '--filter', 'label=berth.id=busy-http', '--format', '{{.ID}}'], {
      env: { ...process.env, CONTAINERS_CONF: conf },
    });
    assert.equal(stdout.trim(), '');
    assert.equal((await fetch(`${t.daemon.url}/embed/busy-http/`, { headers: { authorization: `Bearer ${t.daemon.token}` } })).status, 404);
  });
});
