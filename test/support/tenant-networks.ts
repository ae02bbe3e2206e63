/**
 * Network isolation between tenants (issue 11, item 7), from inside real containers (podman,
 * docker): busybox `nc` from one workload to another's container ports, by every address the
 * target has. Before, every workspace and app sat on one network `berth`, and these dials answered
 * `200 OK` past the edge and its access checks (measured on podman). Now a workspace has a network
 * of its own, an app shares its network only with what it depends on, and the edge still reaches
 * all of them on loopback. network-isolation-{podman,docker}.test.ts run it.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { startTestDaemon, type TestDaemon } from './daemon.js';
import { answers, writeBusyApp } from './busy-app.js';
import { installApp } from './catalog-app.js';
import { ensureTestImage, TEST_IMAGE, TEST_IMAGE_BODY } from './test-image.js';

const run = promisify(execFile);

/** Registers the tests for `engine`; `skip` is why they cannot run here (false: they run). */
export function tenantNetworks(engine: 'podman' | 'docker', skip: string | false): void {
  describe(`tenant networks on ${engine}`, { skip }, () => {
    let t: TestDaemon;
    let dir: string;
    const cli = async (...args: string[]): Promise<string> =>
      (await run(engine, args, { env: { ...process.env, ...(engine === 'podman' ? { CONTAINERS_CONF: path.join(t.dataDir, 'containers.conf') } : {}) } })).stdout;

    /** Every address `ref` has on any network. */
    const addresses = async (ref: string): Promise<string[]> => {
      const nets = JSON.parse(await cli('inspect', '--format', '{{json .NetworkSettings.Networks}}', ref)) as Record<string, { IPAddress?: string }>;
      return Object.values(nets).flatMap((n) => (n.IPAddress ? [n.IPAddress] : []));
    };
    /** The first line `GET /` on host:port answers from inside `from`, or `unreachable`. */
    const dial = async (from: string, host: string, port: number): Promise<string> => {
      const script = 'printf "GET / HTTP/1.0\\r\\n\\r\\n" | nc -w 2 "$0" "$1" | head -n 1; echo end';
      const out = await cli('exec', from, 'sh', '-c', script, host, String(port)).catch((err: Error) => err.message);
      return /HTTP\/1\.[01] 200/.test(out) ? 'reached' : 'unreachable';
    };

    const refs: Record<string, string> = {};

    before(async () => {
      dir = await mkdtemp(path.join(tmpdir(), 'berth-iso-'));
      await writeBusyApp(dir, 'iso-dep');
      await writeBusyApp(dir, 'iso-user', { dependsOn: ['iso-dep'] });
      await writeBusyApp(dir, 'iso-other');
      t = await startTestDaemon({ runtime: engine, reconcileInterval: 3600, catalogDirs: [dir] });
      await ensureTestImage(engine, engine === 'podman' ? { CONTAINERS_CONF: path.join(t.dataDir, 'containers.conf') } : {});
      for (const name of ['ws-a', 'ws-b']) {
        const res = await t.api('POST', '/api/workspaces', { name, visibility: 'public', image: TEST_IMAGE, command: ['httpd', '-f', '-p', '8000', '-h', '/www'] });
        assert.equal(res.status, 201, JSON.stringify(res.body));
        refs[name] = t.daemon.workspaces.get(res.body.id).runtimeRef!;
      }
      for (const name of ['iso-dep', 'iso-user', 'iso-other']) {
        const done = await installApp(t.daemon.url, t.daemon.token, name);
        assert.equal(done.state, 'running', JSON.stringify(done));
        refs[name] = t.daemon.apps.get(name).runtimeRef!;
      }
    });

    after(async () => {
      await t?.stop();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it('each workload answers inside itself (the probe works)', async () => {
      assert.equal(await dial(refs['ws-a']!, '127.0.0.1', 8000), 'reached');
      assert.equal(await dial(refs['iso-dep']!, '127.0.0.1', 8080), 'reached');
    });

    it("a workspace reaches no other workspace's container ports, by any of its addresses", async () => {
      const targets = await addresses(refs['ws-b']!);
      assert.ok(targets.length > 0, 'the target has an address');
      for (const ip of targets) assert.equal(await dial(refs['ws-a']!, ip, 8000), 'unreachable', `ws-a → ws-b at ${ip}:8000`);
    });

    it("a workspace reaches no app's container port", async () => {
      for (const app of ['iso-dep', 'iso-user', 'iso-other']) {
        for (const ip of await addresses(refs[app]!)) assert.equal(await dial(refs['ws-a']!, ip, 8080), 'unreachable', `ws-a → ${app} at ${ip}:8080`);
      }
    });

    it('an app reaches what it depends on by name, and nothing else', async () => {
      assert.equal(await dial(refs['iso-user']!, 'iso-dep', 8080), 'reached', 'iso-user → iso-dep by name (dependsOn)');
      for (const ip of await addresses(refs['iso-other']!)) assert.equal(await dial(refs['iso-user']!, ip, 8080), 'unreachable', `iso-user → iso-other at ${ip}`);
      for (const ip of await addresses(refs['ws-a']!)) assert.equal(await dial(refs['iso-user']!, ip, 8000), 'unreachable', `iso-user → ws-a at ${ip}`);
      for (const app of ['iso-user', 'iso-dep']) {
        for (const ip of await addresses(refs[app]!)) assert.equal(await dial(refs['iso-other']!, ip, 8080), 'unreachable', `iso-other → ${app} at ${ip}`);
      }
      assert.equal(await dial(refs['iso-other']!, 'iso-dep', 8080), 'unreachable', 'iso-other resolves iso-dep');
    });

    it('the edge still reaches every workload through its loopback ports', async () => {
      for (const name of ['ws-a', 'ws-b']) {
        const ws = t.daemon.workspaces.get(name);
        assert.equal(await answers(`${t.daemon.appsUrl}/hosted/${ws.id}/${ws.ports[0]!.hostPort}/`, TEST_IMAGE_BODY), TEST_IMAGE_BODY, name);
      }
      for (const app of ['iso-dep', 'iso-user', 'iso-other']) {
        assert.equal(await answers(`${t.daemon.appsUrl}/embed/${app}/`, TEST_IMAGE_BODY, t.daemon.token), TEST_IMAGE_BODY, app);
      }
    });

    it("the reconciler removes this installation's networks no record claims (a crash between workload and network), and no one else's", async () => {
      const tag = t.daemon.installation;
      const made = { ws: `berth-test-${tag}-gone-ws`, app: `berth-test-${tag}-gone-app`, foreign: `berth-test-${tag}-foreign`, legacy: `berth-test-${tag}-legacy` };
      const net = (name: string, labels: Record<string, string>): Promise<string> =>
        cli('network', 'create', ...Object.entries(labels).flatMap(([k, v]) => ['--label', `${k}=${v}`]), name);
      await net(made.ws, { 'berth.kind': 'workspace', 'berth.id': 'gone00000001', 'berth.installation': tag });
      await net(made.app, { 'berth.kind': 'app', 'berth.id': 'gone-app', 'berth.installation': tag });
      await net(made.foreign, { 'berth.kind': 'workspace', 'berth.id': 'gone00000002', 'berth.installation': '0123456789ab' });
      await net(made.legacy, { 'berth.kind': 'workspace', 'berth.id': 'gone00000003' });
      try {
        const report = await t.daemon.reconcile();
        assert.deepEqual(report.networksRemoved, [made.ws]);
        assert.deepEqual(report.apps.networksRemoved, [made.app]);
        const left = (await cli('network', 'ls', '--format', '{{.Name}}')).split('\n');
        assert.ok(left.includes(made.foreign) && left.includes(made.legacy), "another installation's or an unclaimed unlabelled network was removed");
        assert.ok(!left.includes(made.ws) && !left.includes(made.app));
      } finally {
        for (const name of Object.values(made)) await cli('network', 'rm', name).catch(() => undefined);
      }
    });

    it("uninstalling and deleting remove their networks (the dependency is detached from its dependent's)", async () => {
      const before = (await cli('network', 'ls', '--format', '{{.Name}}')).split('\n').filter((n) => n.includes(t.daemon.installation.slice(0, 8)));
      assert.equal(before.length, 5, `one network per workspace and app: ${before.join(' ')}`);
      for (const app of ['iso-user', 'iso-dep', 'iso-other']) assert.equal((await t.api('DELETE', `/api/apps/${app}`)).status, 200);
      for (const name of ['ws-a', 'ws-b']) assert.equal((await t.api('DELETE', `/api/workspaces/${name}`)).status, 204);
      const left = (await cli('network', 'ls', '--format', '{{.Name}}')).split('\n').filter((n) => n.includes(t.daemon.installation.slice(0, 8)));
      assert.deepEqual(left, []);
    });
  });
}
