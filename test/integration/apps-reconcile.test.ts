/**
 * The reconciler and catalog apps (process runtime, real daemons): a killed app is marked failed
 * with its exit code and restarted by its policy; a labelled app workload no record claims is
 * stopped (gracefully) and removed after the grace period, while installed apps are left alone;
 * an install cut short by a daemon crash is failed at the next start, its ports released; a volume (a host directory on this runtime) outlives an uninstall and goes with --purge.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { silentLogger } from '../../src/log.js';
import { createProcessRuntime } from '../../src/runtime/process/process-runtime.js';
import { AppsRepo } from '../../src/store/apps-repo.js';
import { openDb } from '../../src/store/db.js';
import { installApp, writeCatalogApp } from '../support/catalog-app.js';
import { startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { appVolumeName, appWorkloadName } from '../../src/services/apps.js';

const auth = (t: TestDaemon) => ({ authorization: `Bearer ${t.daemon.token}` });

/** What the app answers at /embed/{name}/ (status and JSON). */
async function embed(t: TestDaemon, name: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${t.daemon.appsUrl}/embed/${name}/`, { headers: auth(t) });
  const text = await res.text();
  return { status: res.status, body: res.status === 200 ? JSON.parse(text) : text };
}

/** The pid of the app's command, from the process runtime's state file. */
function appPid(t: TestDaemon, name: string): number {
  const state = JSON.parse(readFileSync(path.join(t.dataDir, 'process', appWorkloadName(name, t.daemon.installation), 'state.json'), 'utf8')) as { pid: number };
  return state.pid;
}

describe('apps and the reconciler (process runtime)', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'berth-apps-reconcile-'));
    await writeCatalogApp(dir, 'rk');
    await writeCatalogApp(dir, 'once', { restart: 'no' });
    await writeCatalogApp(dir, 'keeper');
    await writeCatalogApp(dir, 'notes', { volumes: { notes: '/var/lib/notes' } });
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('a killed app is marked failed with its exit code, then restarted by its policy (default always)', async () => {
    // Passes are driven by hand: no periodic pass in the way.
    const t = await startTestDaemon({ catalogDirs: [dir], reconcileInterval: 3600 });
    try {
      assert.equal((await installApp(t.daemon.url, t.daemon.token, 'rk')).state, 'running');
      assert.equal((await installApp(t.daemon.url, t.daemon.token, 'once')).state, 'running');
      const before = await embed(t, 'rk');
      assert.equal(before.status, 200);

      process.kill(appPid(t, 'rk'), 'SIGKILL');
      process.kill(appPid(t, 'once'), 'SIGKILL');
      const rt = createProcessRuntime({ log: silentLogger(), dataDir: t.dataDir }, {});
      for (let i = 0; i < 100 && (await rt.inspect(appWorkloadName('rk', t.daemon.installation))).state === 'running'; i++) await sleep(50);

      const first = await t.daemon.reconcile();
      assert.deepEqual(first.apps.crashed.sort(), ['once', 'rk']);
      const crashed = (await t.api('GET', '/api/apps/rk')).body;
      assert.equal(crashed.state, 'failed');
      assert.equal(crashed.exitCode, 137);
      assert.equal(crashed.restart, 'always');
      assert.match(crashed.reason, /exited with code 137; restart 1 \(policy always\) in 1 s/);
      assert.equal((await embed(t, 'rk')).status, 503, 'a crashed app answers 503, not the login page or a dial');
      assert.deepEqual((await t.daemon.reconcile()).apps.restarted, [], 'restarted before its backoff');

      await sleep(1100);
      const second = await t.daemon.reconcile();
      assert.deepEqual(second.apps.restarted, ['rk'], 'restart: no must not restart');
      const again = (await t.api('GET', '/api/apps/rk')).body;
      assert.equal(again.state, 'running');
      assert.equal(again.restartCount, 1);
      assert.equal(again.exitCode, null);
      let after = await embed(t, 'rk');
      for (let i = 0; i < 50 && after.status !== 200; i++) {
        await sleep(100);
        after = await embed(t, 'rk');
      }
      assert.equal(after.status, 200);
      assert.ok(after.body.started > before.body.started, 'a new process serves the route');

      const once = (await t.api('GET', '/api/apps/once')).body;
      assert.equal(once.state, 'failed');
      assert.match(once.reason, /exited with code 137$/);
      // Its logs stay readable, and it can be uninstalled.
      assert.equal((await t.api('GET', '/api/apps/once/logs')).status, 200);
      assert.equal((await t.api('DELETE', '/api/apps/once')).status, 200);
    } finally {
      await t.stop();
    }
  });

  it('a labelled app workload with no record is stopped and removed after the grace period; installed apps stay', async () => {
    // Grace = two intervals = 2 s.
    const t = await startTestDaemon({ catalogDirs: [dir], reconcileInterval: 1 });
    const marker = path.join(dir, 'orphan-stopped');
    try {
      assert.equal((await installApp(t.daemon.url, t.daemon.token, 'keeper')).state, 'running');
      const rt = createProcessRuntime({ log: silentLogger(), dataDir: t.dataDir }, {});
      // An orphan that notes a graceful stop (SIGTERM) outside its own directory, which remove deletes.
      const ref = await rt.create({
        name: 'berth-app-ghost',
        image: 'none',
        command: [process.execPath, '-e', `process.on('SIGTERM', () => { require('fs').writeFileSync(${JSON.stringify(marker)}, 'stopped'); process.exit(0); }); setInterval(() => {}, 1e6);`],
        env: {},
        ports: [],
        labels: { 'berth.kind': 'app', 'berth.id': 'ghost', 'berth.installation': t.daemon.installation },
      });
      await rt.start(ref);
      const r1 = await t.daemon.reconcile();
      assert.ok(r1.apps.orphansPending.includes(ref), `removed without a grace period: ${JSON.stringify(r1.apps)}`);
      assert.equal((await rt.inspect(ref)).state, 'running');
      for (let i = 0; i < 60 && (await rt.inspect(ref)).state !== 'missing'; i++) await sleep(100);
      assert.equal((await rt.inspect(ref)).state, 'missing', 'orphan still there after the grace period');
      assert.equal(readFileSync(marker, 'utf8'), 'stopped', 'the orphan was killed, not stopped');
      assert.equal((await t.api('GET', '/api/apps/keeper')).body.state, 'running');
      assert.equal((await embed(t, 'keeper')).status, 200, 'an installed app was taken for an orphan');
    } finally {
      await t.stop();
    }
  });

  it('an install interrupted by a daemon crash is failed at the next start, its ports released', async () => {
    const first = await startTestDaemon({ catalogDirs: [dir], reconcileInterval: 3600 });
    const { dataDir, config } = first;
    await first.daemon.close();
    // What a crash between "row inserted" and "healthy" leaves: an `installing` row holding ports.
    const db = openDb(path.join(dataDir, 'berth.db'));
    new AppsRepo(db).insertWithPorts(
      { name: 'keeper', settings: {}, hosting: { proto: 'http', host: 'x', basePath: '' }, embed: { subpath: true, stripPrefix: true } },
      [['http', 8080]],
      { start: config.portRangeStart, end: config.portRangeEnd },
      (_cp, hp) => hp,
    );
    db.close();
    const t = await startTestDaemon({ dataDir, catalogDirs: [dir], reconcileInterval: 3600, portRangeStart: config.portRangeStart, portRangeEnd: config.portRangeEnd });
    try {
      const app = (await t.api('GET', '/api/apps/keeper')).body;
      assert.equal(app.state, 'failed');
      assert.match(app.reason, /interrupted by a daemon restart/);
      assert.deepEqual(app.ports, [], 'the interrupted install kept its ports');
      assert.equal((await installApp(t.daemon.url, t.daemon.token, 'keeper')).state, 'running');
    } finally {
      await t.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('a volume is a host directory on this runtime: kept by uninstall, found by a reinstall, removed by --purge', async () => {
    const t = await startTestDaemon({ catalogDirs: [dir], reconcileInterval: 3600 });
    try {
      assert.equal((await installApp(t.daemon.url, t.daemon.token, 'notes')).state, 'running');
      const info = (await embed(t, 'notes')).body;
      const volume = appVolumeName('notes', 'notes', t.daemon.installation);
      const hostDir = path.join(t.dataDir, 'volumes', volume);
      assert.equal(info.volume, hostDir, 'the target path is substituted by the volume directory');
      const put = await fetch(`${t.daemon.appsUrl}/embed/notes/note`, { method: 'PUT', headers: auth(t), body: 'remember me' });
      assert.equal(put.status, 200);

      const kept = await t.api('DELETE', '/api/apps/notes');
      assert.deepEqual(kept.body.kept, [`volume ${volume}`, 'secrets']);
      assert.ok(existsSync(path.join(hostDir, 'note.txt')), 'uninstall deleted the volume');

      assert.equal((await installApp(t.daemon.url, t.daemon.token, 'notes')).state, 'running');
      const note = await fetch(`${t.daemon.appsUrl}/embed/notes/note`, { headers: auth(t) });
      assert.equal(await note.text(), 'remember me');

      const purged = await t.api('DELETE', '/api/apps/notes?purge=1');
      assert.ok(purged.body.removed.includes(`volume ${volume}`), JSON.stringify(purged.body));
      assert.ok(!existsSync(hostDir), '--purge left the volume directory');
    } finally {
      await t.stop();
    }
  });
});
