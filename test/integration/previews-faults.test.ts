/**
 * Restart safety of previews: the daemon runs as its own process (test/support/daemon-main.ts),
 * two preview builds are started (one on the shared PostgreSQL, one with a PostgreSQL of its own),
 * and the daemon is SIGKILLed in the middle of them — first while the container database is being
 * initialised, then while the services wait to be healthy. After each restart the jobs are taken
 * up again from the durable queue, and in the end both previews are live with exactly one set of
 * workloads, one database each, and each host port allocated once.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import pg from 'pg';
import { silentLogger } from '../../src/log.js';
import { createProcessRuntime } from '../../src/runtime/process/process-runtime.js';
import { spawnDaemon } from '../support/daemon-process.js';
import { randomPortRange } from '../support/daemon.js';
import { startPostgres, type TestPostgres } from '../support/postgres.js';
import { createPreviewRepo, getVia } from '../support/preview-fixture.js';

const REPO = 'octo-org/crashy';
/** The services listen only after this long: the builds sit in "waiting for health" meanwhile. */
const START_DELAY_MS = 4000;

const kill9 = async (child: ChildProcess): Promise<void> => {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await gone;
};

describe('previews survive a daemon killed mid-build', () => {
  let tmp: string;
  let dataDir: string;
  let shared: TestPostgres;
  let env: Record<string, string>;
  let daemon: { child: ChildProcess; url: string } | null = null;
  let token = '';

  const api = async (method: string, p: string, body?: unknown): Promise<{ status: number; body: any }> => {
    const res = await fetch(daemon!.url + p, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  };
  const waitFor = async <T>(what: string, fn: () => Promise<T | null | undefined | false> | T | null | undefined | false, ms = 90_000): Promise<T> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const v = await fn();
      if (v) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  /** Reads the daemon's store (WAL: a second reader is fine while it runs). */
  const store = <T>(sql: string, ...params: unknown[]): T[] => {
    const db = new Database(path.join(dataDir, 'berth.db'), { readonly: true, fileMustExist: true });
    try {
      return db.prepare(sql).all(...params) as T[];
    } finally {
      db.close();
    }
  };
  const buildLog = (id: string): string => {
    try {
      return readFileSync(path.join(dataDir, 'previews', id, 'build-g1.log'), 'utf8');
    } catch {
      return '';
    }
  };
  const runningJobs = (): number => store<{ n: number }>("SELECT COUNT(*) AS n FROM jobs WHERE state = 'running'")[0]!.n;
  /** Postmasters (the only postgres processes that keep their argv) serving a data directory under `dir`. */
  const postmastersUnder = (dir: string): number[] =>
    readdirSync('/proc')
      .filter((p) => /^\d+$/.test(p))
      .filter((p) => {
        try {
          const argv = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
          return argv.some((a) => a.endsWith('/postgres')) && argv.some((a) => a.startsWith(dir));
        } catch {
          return false;
        }
      })
      .map(Number);
  const sharedPreviewDatabases = async (): Promise<string[]> => {
    const c = new pg.Client({ connectionString: shared.superuserUrl });
    await c.connect();
    try {
      return (await c.query<{ n: string }>("SELECT datname AS n FROM pg_database WHERE datname LIKE 'preview%' ORDER BY 1")).rows.map((r) => r.n);
    } finally {
      await c.end();
    }
  };

  before(async () => {
    tmp = mkdtempSync(path.join(tmpdir(), 'berth-preview-faults-'));
    dataDir = path.join(tmp, 'data');
    shared = await startPostgres();
    const range = randomPortRange();
    env = {
      BERTH_DATA_DIR: dataDir,
      BERTH_PORT: '0',
      BERTH_RUNTIME: 'process',
      BERTH_ALLOW_FILE_REPOS: '1',
      BERTH_PREVIEW_DOMAIN: 'preview.test',
      BERTH_POSTGRES_URL: shared.adminUrl,
      BERTH_DRAIN_SECONDS: '0',
      BERTH_ADMIN_PASSWORD: 'faults-admin-password',
      BERTH_PORT_RANGE_START: String(range.portRangeStart),
      BERTH_PORT_RANGE_END: String(range.portRangeEnd),
    };
  });

  after(async () => {
    if (daemon) await kill9(daemon.child);
    // Whatever a failed assertion left: the process workloads outlive the daemon.
    const runtime = createProcessRuntime({ log: silentLogger(), dataDir }, {});
    for (const w of await runtime.list({ 'berth.kind': 'preview' }).catch(() => [])) {
      await runtime.stop(w.ref, { timeoutSeconds: 5 }).catch(() => {});
      await runtime.remove(w.ref).catch(() => {});
    }
    await shared?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('jobs resume from the durable queue and converge: live, no duplicate workloads, no leaked database, no double-allocated port', { timeout: 300_000 }, async () => {
    const hostRepo = path.join(tmp, 'host-repo');
    const containerRepo = path.join(tmp, 'container-repo');
    const hostSha = createPreviewRepo(hostRepo, { database: 'host', startDelayMs: START_DELAY_MS });
    const containerSha = createPreviewRepo(containerRepo, { database: 'container', startDelayMs: START_DELAY_MS });

    daemon = await spawnDaemon(env);
    token = readFileSync(path.join(dataDir, 'token'), 'utf8').trim();
    for (const [pr, dir] of [[1, hostRepo], [2, containerRepo]] as const) {
      const res = await api('POST', '/api/previews', { repo: REPO, cloneUrl: pathToFileURL(dir).href, number: pr, ref: 'main' });
      assert.equal(res.status, 202, JSON.stringify(res.body));
    }
    const ids = await waitFor('both preview rows', async () => {
      const list = (await api('GET', '/api/previews')).body.previews as { id: string; pr: number }[];
      const a = list.find((p) => p.pr === 1);
      const b = list.find((p) => p.pr === 2);
      return a && b ? { host: a.id, container: b.id } : null;
    });

    // Kill 1: while the container database is being set up (initdb / server start).
    await waitFor('container database being set up', () => /initdb|starting PostgreSQL/.test(buildLog(ids.container)));
    assert.ok(runningJobs() > 0, 'a job is running at the kill');
    await kill9(daemon.child);

    // Kill 2: after the restart, once both builds wait for their services.
    daemon = await spawnDaemon(env);
    await waitFor('both builds waiting for health', () => [ids.host, ids.container].every((id) => /waiting for web to be healthy/.test(buildLog(id)))).catch((err: Error) => {
      throw new Error(`${err.message}\n${buildLog(ids.host)}\n${buildLog(ids.container)}\njobs: ${JSON.stringify(store('SELECT id, state, attempts, error, run_after FROM jobs'))}`);
    });
    assert.equal(runningJobs(), 2, 'both jobs are running at the kill');
    const states = store<{ id: string; state: string; generation: number }>('SELECT id, state, generation FROM previews ORDER BY pr');
    assert.deepEqual(states.map((s) => [s.state, s.generation]), [['building', 0], ['building', 0]], 'killed mid-build');
    const runtime = createProcessRuntime({ log: silentLogger(), dataDir }, {});
    const halfMade = await runtime.list({ 'berth.kind': 'preview' });
    assert.ok(halfMade.length >= 5, `the killed builds left workloads behind: ${halfMade.map((w) => w.name)}`);
    const staleSupervisors = halfMade
      .filter((w) => w.labels['berth.service'])
      .map((w) => (JSON.parse(readFileSync(path.join(dataDir, 'process', w.ref, 'state.json'), 'utf8')) as { supervisorPid: number }).supervisorPid);
    await kill9(daemon.child);

    // Restart: the queue takes the interrupted jobs up again; they converge.
    daemon = await spawnDaemon(env);
    const live = await waitFor('both previews live', async () => {
      const list = (await api('GET', '/api/previews')).body.previews as any[];
      const failed = list.find((p) => p.state === 'failed');
      if (failed) throw new Error(`preview failed: ${failed.reason}`);
      return list.length === 2 && list.every((p) => p.state === 'running' && p.generation === 1) && runningJobs() === 0 ? list : null;
    });

    const jobs = store<{ state: string; attempts: number; error: string | null }>("SELECT state, attempts, error FROM jobs WHERE type = 'preview-up' ORDER BY id");
    assert.deepEqual(jobs.map((j) => j.state), ['done', 'done'], 'each job finished, none failed or was duplicated');
    assert.ok(jobs.every((j) => j.attempts >= 2), `the jobs ran again after the kills (attempts ${jobs.map((j) => j.attempts)})`);

    const host = live.find((p: any) => p.pr === 1);
    const container = live.find((p: any) => p.pr === 2);
    const web1 = JSON.parse((await getVia(daemon.url, '1.preview.test', '/')).body);
    assert.deepEqual([web1.version, web1.sha, web1.db, web1.answer], ['v1', hostSha, `preview_${ids.host}`, 42]);
    const web2 = JSON.parse((await getVia(daemon.url, '2.preview.test', '/visit')).body);
    assert.deepEqual([web2.version, web2.sha, web2.db, web2.visits], ['v1', containerSha, 'preview', 1]);

    // Workloads: exactly one generation of services per preview, one database server, all running.
    const workloads = await runtime.list({ 'berth.kind': 'preview' });
    const names = workloads.map((w) => w.name).sort();
    assert.deepEqual(names, [
      `berth-pv-${ids.host}-g1-api`,
      `berth-pv-${ids.host}-g1-web`,
      `berth-pv-${ids.container}-g1-api`,
      `berth-pv-${ids.container}-g1-web`,
      `berth-pv-${ids.container}-postgres`,
    ].sort());
    assert.ok(workloads.every((w) => w.state === 'running'));
    for (const pid of staleSupervisors) {
      assert.throws(() => process.kill(pid, 0), `the killed build's service (supervisor ${pid}) was replaced, not left running`);
    }
    const cluster = path.join(dataDir, 'previews', ids.container, 'postgres');
    assert.equal(postmastersUnder(cluster).length, 1, 'one PostgreSQL server for the container preview');
    assert.deepEqual(readdirSync(cluster).sort(), ['data'], 'no half-initialised cluster left');

    // Databases: one on the shared server, for the host preview only.
    assert.deepEqual(await sharedPreviewDatabases(), [`preview_${ids.host}`]);

    // Ports: each allocated once, exactly the ones the live workloads use.
    const ports = store<{ host_port: number; workload_id: string }>("SELECT host_port, workload_id FROM port_allocations WHERE workload_kind = 'preview' ORDER BY workload_id, host_port");
    assert.equal(new Set(ports.map((p) => p.host_port)).size, ports.length, 'no port allocated twice');
    const dbPort = Number(workloads.find((w) => w.labels['berth.database'])!.labels['berth.port']);
    const inUse = [...host.services, ...container.services].map((s: any) => s.hostPort).concat(dbPort).sort();
    assert.deepEqual(ports.map((p) => p.host_port).sort(), inUse);
    assert.deepEqual(
      ports.map((p) => p.workload_id).sort(),
      [`${ids.container}.0`, `${ids.container}.1`, `${ids.container}.1`, `${ids.host}.1`, `${ids.host}.1`].sort(),
    );

    // And a destroy after all that leaves nothing.
    for (const p of live) assert.equal((await api('DELETE', `/api/previews/${p.id}`)).status, 202);
    await waitFor('previews destroyed', async () => (await api('GET', '/api/previews')).body.previews.length === 0);
    assert.deepEqual(await runtime.list({ 'berth.kind': 'preview' }), []);
    assert.deepEqual(await sharedPreviewDatabases(), []);
    assert.equal(existsSync(cluster), false);
    await waitFor('container database stopped', () => postmastersUnder(path.join(dataDir, 'previews')).length === 0, 15_000);
    assert.deepEqual(store("SELECT * FROM port_allocations WHERE workload_kind = 'preview'"), []);
  });
});
