import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawnDaemon } from '../support/daemon-process.js';
import { randomPortRange, startTestDaemon } from '../support/daemon.js';
import { createProcessRuntime } from '../../src/runtime/process/process-runtime.js';
import { silentLogger } from '../../src/log.js';
import { openDb } from '../../src/store/db.js';
import { WorkspacesRepo } from '../../src/store/workspaces-repo.js';
import { ECHO_SERVER } from '../support/workloads.js';
import { installApp, writeCatalogApp } from '../support/catalog-app.js';



async function get(url: string): Promise<number> {
  return fetch(url).then((r) => r.status, () => 0);
}

describe('restart safety (process runtime)', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'berth-restart-'));
  const range = randomPortRange();
  const env = {
    BERTH_DATA_DIR: dataDir,
    BERTH_PORT: '0',
    BERTH_RUNTIME: 'process',
    BERTH_PORT_RANGE_START: String(range.portRangeStart),
    BERTH_PORT_RANGE_END: String(range.portRangeEnd),
    BERTH_RECONCILE_INTERVAL: '1',
  };
  after(async () => {
    const t = await startTestDaemon({ dataDir, ...range });
    await t.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('after kill -9 of the daemon, a new daemon serves every hosted URL again with the same ports', async () => {
    const first = await spawnDaemon(env);
    const token = (await import('node:fs')).readFileSync(path.join(dataDir, 'token'), 'utf8').trim();
    const api = (base: string, method: string, p: string, body?: unknown) =>
      fetch(base + p, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        ...(body ? { body: JSON.stringify(body) } : {}),
      }).then(async (r) => ({ status: r.status, body: r.status === 204 ? null : ((await r.json()) as any) }));
    const created = [];
    for (const name of ['keep-a', 'keep-b']) {
      const r = await api(first.url, 'POST', '/api/workspaces', { name, visibility: 'public', command: ECHO_SERVER });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      created.push(r.body);
    }
    first.child.kill('SIGKILL');
    await new Promise((r) => first.child.once('exit', r));

    const second = await spawnDaemon(env);
    try {
      const list = (await api(second.url, 'GET', '/api/workspaces')).body.workspaces;
      assert.equal(list.length, 2, 'workspaces were duplicated or lost');
      for (const ws of created) {
        const again = list.find((w: any) => w.id === ws.id);
        assert.equal(again.state, 'running');
        assert.deepEqual(again.ports.map((p: any) => p.hostPort), ws.ports.map((p: any) => p.hostPort));
        const url = `${second.appsUrl}/hosted/${ws.id}/${ws.ports[0].hostPort}/`;
        let status = 0;
        for (let i = 0; i < 50 && status !== 200; i++) {
          status = await get(url);
          if (status !== 200) await new Promise((r) => setTimeout(r, 100));
        }
        assert.equal(status, 200, `${ws.name} is not served after the restart`);
      }
      const status = (await api(second.url, 'GET', '/api/status')).body;
      assert.equal(status.ports.used, 10);
    } finally {
      second.child.kill('SIGTERM');
      await new Promise((r) => second.child.once('exit', r));
    }
  });

  it('marks a crashed workload failed with its exit code, removes orphans, cleans an abandoned create', async () => {
    const t = await startTestDaemon({ dataDir, ...range, reconcileInterval: 1 });
    try {
      const ws = (await t.api('POST', '/api/workspaces', { name: 'crashy', command: [process.execPath, '-e', 'setTimeout(() => process.exit(7), 300)'] })).body;
      await new Promise((r) => setTimeout(r, 800));
      await t.daemon.reconcile(); // the periodic pass may have caught it already; either way it is recorded now
      const after = (await t.api('GET', `/api/workspaces/${ws.id}`)).body;
      assert.equal(after.state, 'failed');
      assert.equal(after.exitCode, 7);
      assert.match(after.reason, /exited with code 7/);

      // An orphan: a labelled workload the store has never heard of.
      const rt = createProcessRuntime({ log: silentLogger(), dataDir }, {});
      const ref = await rt.create({
        name: 'berth-ws-orphan0000001',
        image: 'none',
        env: {},
        ports: [],
        labels: { 'berth.kind': 'workspace', 'berth.id': 'orphan0000001', 'berth.installation': t.daemon.installation },
      });
      await rt.start(ref);
      const r1 = await t.daemon.reconcile();
      assert.ok(r1.orphansPending.includes(ref), 'orphan removed without a grace period');
      assert.equal((await rt.inspect(ref)).state, 'running');
      await new Promise((r) => setTimeout(r, 2100));
      await t.daemon.reconcile();
      assert.equal((await rt.inspect(ref)).state, 'missing', 'orphan still there after the grace period');
    } finally {
      await t.daemon.close();
    }

    // A crash between "row inserted" and "workload started" leaves a `creating` record and its
    // ports: the next start removes both (and any workload it made).
    const db = openDb(path.join(dataDir, 'berth.db'));
    const repo = new WorkspacesRepo(db);
    const ghost = repo.insertWithPorts(
      { id: 'ghost0000001', name: 'ghost', image: 'none', command: null, env: {}, hosting: { proto: 'http', host: 'x', basePath: '' }, ownerId: null, visibility: 'private', dataVolume: 'berth-ws-ghost0000001-data', dataPath: '/workspace' },
      { rangeStart: range.portRangeStart, rangeEnd: range.portRangeEnd, count: 5, containerPortFor: (_i, hp) => hp },
    );
    // One that was to mount a kept volume of another workspace again: that volume is the user's data.
    repo.insertWithPorts(
      { id: 'ghost0000002', name: 'ghost2', image: 'none', command: null, env: {}, hosting: { proto: 'http', host: 'x', basePath: '' }, ownerId: null, visibility: 'private', dataVolume: 'berth-ws-kept00000001-data', dataPath: '/workspace' },
      { rangeStart: range.portRangeStart, rangeEnd: range.portRangeEnd, count: 5, containerPortFor: (_i, hp) => hp },
    );
    db.close();
    // Their volumes as the process driver keeps them (a directory each).
    for (const v of ['berth-ws-ghost0000001-data', 'berth-ws-kept00000001-data']) mkdirSync(path.join(dataDir, 'volumes', v), { recursive: true });
    const t2 = await startTestDaemon({ dataDir, ...range });
    try {
      assert.equal((await t2.api('GET', `/api/workspaces/${ghost.id}`)).status, 404);
      assert.equal(existsSync(path.join(dataDir, 'volumes', 'berth-ws-ghost0000001-data')), false, "the abandoned create's own volume is removed");
      assert.equal(existsSync(path.join(dataDir, 'volumes', 'berth-ws-kept00000001-data')), true, 'a kept volume it was to mount stays');
      const used = (await t2.api('GET', '/api/status')).body.ports.used;
      assert.equal(used, 5 * (await t2.api('GET', '/api/workspaces')).body.workspaces.length, 'the ghost kept its ports');
    } finally {
      await t2.daemon.close();
    }
  });
});

describe('restart policy', () => {
  it('restarts an on-failure workload after a backoff, counts restarts, and leaves clean exits alone', async () => {
    const t = await startTestDaemon({ reconcileInterval: 3600 });
    try {
      const crash = [process.execPath, '-e', 'setTimeout(() => process.exit(3), 300)'];
      const clean = [process.execPath, '-e', 'setTimeout(() => process.exit(0), 300)'];
      const a = (await t.api('POST', '/api/workspaces', { name: 'flaky', restart: 'on-failure', command: crash })).body;
      const b = (await t.api('POST', '/api/workspaces', { name: 'done', restart: 'on-failure', command: clean })).body;
      assert.equal(a.restart, 'on-failure');
      await new Promise((r) => setTimeout(r, 700));
      const first = await t.daemon.reconcile();
      assert.deepEqual(first.crashed.sort(), [a.id, b.id].sort());
      const failed = (await t.api('GET', `/api/workspaces/${a.id}`)).body;
      assert.equal(failed.state, 'failed');
      assert.match(failed.reason, /exited with code 3; restart 1 \(policy on-failure\) in 1 s/);
      assert.equal((await t.daemon.reconcile()).restarted.length, 0, 'restarted before its backoff');
      await new Promise((r) => setTimeout(r, 1100));
      const second = await t.daemon.reconcile();
      assert.deepEqual(second.restarted, [a.id]);
      const again = (await t.api('GET', `/api/workspaces/${a.id}`)).body;
      assert.equal(again.state, 'running');
      assert.equal(again.restartCount, 1);
      const doneWs = (await t.api('GET', `/api/workspaces/${b.id}`)).body;
      assert.equal(doneWs.state, 'failed', 'a clean exit under on-failure must not restart');
      assert.equal(doneWs.exitCode, 0);
      // It crashes again: the next backoff doubles.
      await new Promise((r) => setTimeout(r, 700));
      await t.daemon.reconcile();
      assert.match((await t.api('GET', `/api/workspaces/${a.id}`)).body.reason, /restart 2 \(policy on-failure\) in 2 s/);
    } finally {
      await t.stop();
    }
  });
});

describe('restart safety for catalog apps (process runtime)', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'berth-restart-apps-'));
  const catalog = mkdtempSync(path.join(tmpdir(), 'berth-restart-catalog-'));
  const range = randomPortRange();
  const env = {
    BERTH_DATA_DIR: dataDir,
    BERTH_PORT: '0',
    BERTH_RUNTIME: 'process',
    BERTH_PORT_RANGE_START: String(range.portRangeStart),
    BERTH_PORT_RANGE_END: String(range.portRangeEnd),
    BERTH_RECONCILE_INTERVAL: '1',
    BERTH_CATALOG_DIRS: catalog,
  };
  after(async () => {
    const t = await startTestDaemon({ dataDir, ...range, catalogDirs: [catalog] });
    await t.stop();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(catalog, { recursive: true, force: true });
  });

  it('after kill -9 of the daemon, every installed app is at /embed/{app}/ again — running ones re-adopted, dead ones restarted', async () => {
    await writeCatalogApp(catalog, 'steady');
    await writeCatalogApp(catalog, 'fragile');
    const first = await spawnDaemon(env);
    const token = (await import('node:fs')).readFileSync(path.join(dataDir, 'token'), 'utf8').trim();
    const embed = async (base: string, name: string): Promise<{ status: number; body: any }> => {
      const r = await fetch(`${base}/embed/${name}/`, { headers: { authorization: `Bearer ${token}` } }).catch(() => null);
      if (!r) return { status: 0, body: null };
      return { status: r.status, body: r.status === 200 ? await r.json() : await r.text() };
    };
    for (const name of ['steady', 'fragile']) assert.equal((await installApp(first.url, token, name)).state, 'running');
    const before = { steady: (await embed(first.appsUrl, 'steady')).body, fragile: (await embed(first.appsUrl, 'fragile')).body };
    first.child.kill('SIGKILL');
    await new Promise((r) => first.child.once('exit', r));
    // While no daemon runs, one app dies too.
    process.kill(before.fragile.pid, 'SIGKILL');

    const second = await spawnDaemon(env);
    try {
      // Routes are in the table before the first request: the running app answers at once.
      const steady = await embed(second.appsUrl, 'steady');
      assert.equal(steady.status, 200);
      assert.equal(steady.body.started, before.steady.started, 'the running app was re-adopted, not restarted');
      let fragile = await embed(second.appsUrl, 'fragile');
      for (let i = 0; i < 100 && fragile.status !== 200; i++) {
        await new Promise((r) => setTimeout(r, 100));
        fragile = await embed(second.appsUrl, 'fragile');
      }
      assert.equal(fragile.status, 200, `the dead app was not restarted: ${JSON.stringify(fragile.body)}`);
      assert.ok(fragile.body.started > before.fragile.started);
      const apps = (await (await fetch(`${second.url}/api/apps`, { headers: { authorization: `Bearer ${token}` } })).json()) as any;
      assert.deepEqual(apps.apps.map((a: any) => `${a.name}:${a.state}:${a.restartCount}`).sort(), ['fragile:running:1', 'steady:running:0']);
    } finally {
      second.child.kill('SIGTERM');
      await new Promise((r) => second.child.once('exit', r));
    }
  });
});
