import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import WebSocket from 'ws';
import { startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { workloadName } from '../../src/services/workspaces.js';
import { ensureTestImage, TEST_IMAGE_BODY } from '../support/test-image.js';
import { requireOrSkip } from '../support/require.js';

const run = promisify(execFile);
const podmanMissing = await run('podman', ['--version']).then(() => false, () => true);

/** Runs argv in a workspace over the exec WebSocket; resolves with its output and exit code. */
export function execOverSocket(t: TestDaemon, idOrName: string, argv: string[]): Promise<{ output: string; code: number }> {
  const qs = argv.map((a) => `cmd=${encodeURIComponent(a)}`).join('&');
  const ws = new WebSocket(`${t.daemon.url.replace('http', 'ws')}/api/workspaces/${idOrName}/exec?${qs}`, {
    headers: { authorization: `Bearer ${t.daemon.token}` },
  });
  let output = '';
  return new Promise((resolve, reject) => {
    ws.on('message', (data, isBinary) => {
      if (isBinary) output += String(data);
      else {
        const msg = JSON.parse(String(data)) as { type: string; code: number };
        if (msg.type === 'exit') resolve({ output, code: msg.code });
      }
    });
    ws.on('error', reject);
    ws.on('unexpected-response', (_req, res) => reject(new Error(`exec refused: ${res.statusCode}`)));
  });
}

async function containersLabelled(id: string, conf: string): Promise<string[]> {
  const { stdout } = await run('podman', ['ps', '-a', '--filter', `label=berth.id=${id}`, '--format', '{{.ID}}'], {
    env: { ...process.env, CONTAINERS_CONF: conf },
  });
  return stdout.split('\n').filter(Boolean);
}

describe('workspaces API on podman', { skip: requireOrSkip('podman', !podmanMissing, 'podman is not installed (scripts/install-deps --test installs it)') }, () => {
  let t: TestDaemon;
  let image: string;
  let conf: string;
  before(async () => {
    t = await startTestDaemon({ runtime: 'podman' });
    conf = path.join(t.dataDir, 'containers.conf');
    image = await ensureTestImage('podman', { CONTAINERS_CONF: conf });
  });
  after(async () => {
    await t?.stop();
  });

  it('serves a container app at its hosted URL, published on 127.0.0.1 only', async () => {
    const res = await t.api('POST', '/api/workspaces', { name: 'web', visibility: 'public', image, command: ['httpd', '-f', '-p', '8000', '-h', '/www'] });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.state, 'running');
    assert.deepEqual(res.body.ports.map((p: any) => p.containerPort), [8000, 8001, 8002, 8003, 8004]);
    const url = res.body.ports[0].url as string;
    let body = '';
    for (let i = 0; i < 50 && body !== TEST_IMAGE_BODY; i++) {
      body = await fetch(url).then((r) => r.text(), () => '');
      if (body !== TEST_IMAGE_BODY) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(body, TEST_IMAGE_BODY);
    const { stdout } = await run('podman', ['port', workloadName(res.body.id, t.daemon.installation)], { env: { ...process.env, CONTAINERS_CONF: conf } });
    for (const line of stdout.trim().split('\n')) assert.match(line, /-> 127\.0\.0\.1:\d+$/, `published beyond loopback: ${line}`);
  });

  it('injects the BERTH_* env and the berth-url helper, reached through exec', async () => {
    const ws = (await t.api('GET', '/api/workspaces/web')).body;
    const env = await execOverSocket(t, 'web', ['env']);
    assert.equal(env.code, 0);
    assert.match(env.output, new RegExp(`^BERTH_WORKSPACE_ID=${ws.id}$`, 'm'));
    assert.match(env.output, /^PORT=8000$/m);
    assert.match(env.output, new RegExp(`^BERTH_PORT_MAPPINGS=8000:${ws.ports[0].hostPort},8001:${ws.ports[1].hostPort}`, 'm'));
    const url = await execOverSocket(t, 'web', ['berth-url', '8001']);
    assert.equal(url.code, 0, url.output);
    assert.equal(url.output.trim(), ws.ports[1].url);
    const bad = await execOverSocket(t, 'web', ['berth-url', '7999']);
    assert.equal(bad.code, 1);
  });

  it('answers 502 with the engine message for an image that cannot be pulled, leaving nothing behind', async () => {
    const before = (await t.api('GET', '/api/status')).body.ports.used;
    const res = await t.api('POST', '/api/workspaces', { name: 'broken', image: 'berth.invalid/no-such-image:latest' });
    assert.equal(res.status, 502, JSON.stringify(res.body));
    assert.equal(res.body.error.code, 'E_RUNTIME');
    assert.match(res.body.error.message, /berth\.invalid/);
    assert.equal((await t.api('GET', '/api/workspaces/broken')).status, 404);
    assert.equal((await t.api('GET', '/api/status')).body.ports.used, before, 'ports were not released');
    const { stdout } = await run('podman', ['ps', '-a', '--filter', 'label=berth.name=broken', '--format', '{{.ID}}'], {
      env: { ...process.env, CONTAINERS_CONF: conf },
    });
    assert.equal(stdout.trim(), '', 'a container was left behind');
  });

  it('stops, starts and deletes the container with the workspace', async () => {
    const ws = (await t.api('GET', '/api/workspaces/web')).body;
    assert.equal((await t.api('POST', '/api/workspaces/web/stop')).body.state, 'stopped');
    assert.equal((await fetch(ws.ports[0].url)).status, 503);
    assert.equal((await t.api('POST', '/api/workspaces/web/start')).body.state, 'running');
    assert.equal((await containersLabelled(ws.id, conf)).length, 1);
    assert.equal((await t.api('DELETE', '/api/workspaces/web')).status, 204);
    assert.deepEqual(await containersLabelled(ws.id, conf), []);
    assert.equal((await t.api('GET', '/api/status')).body.ports.used, 0);
  });

  it('10 concurrent container creates get disjoint ports, all released on delete', async () => {
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => t.api('POST', '/api/workspaces', { name: `p${i}`, image, command: ['sleep', '3600'] })),
    );
    for (const r of results) assert.equal(r.status, 201, JSON.stringify(r.body));
    const ports = results.flatMap((r) => r.body.ports.map((p: any) => p.hostPort as number));
    assert.equal(new Set(ports).size, 50);
    await Promise.all(results.map((r) => t.api('DELETE', `/api/workspaces/${r.body.id}`)));
    assert.equal((await t.api('GET', '/api/status')).body.ports.used, 0);
  });
});
