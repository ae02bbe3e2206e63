// Fault suite, docker part: the Docker engine itself stops under a running Berth daemon (dockerd
// SIGTERM: it stops every container on its way out), then comes back. While it is down the
// reconciler must conclude nothing, a create fails cleanly; once it answers again the workspace
// whose container died is recorded failed with its exit code and restarted by its policy, and its
// hosted URL answers again. Runs against whichever dockerd answers, whoever started it: its pid
// comes from scripts/start-docker's pid file, dockerd's default pid file or `pidof dockerd`, and it
// is started again afterwards with the very argv it ran with (read from /proc before stopping it).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { ensureTestImage } from '../support/test-image.js';
import { requireOrSkip } from '../support/require.js';
import { poll } from '../support/wait.js';

const run = promisify(execFile);
/** scripts/start-docker's, then dockerd's defaults (`--pidfile` unset). */
const PID_FILES = ['/run/berth-test-docker/dockerd.pid', '/var/run/docker.pid', '/run/docker.pid'];

const engineUp = (): Promise<boolean> => run('docker', ['info']).then(() => true, () => false);

/** True while `pid` is a live (not zombie) dockerd. */
function isDockerd(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "<pid> (<comm>) <state> …"
    const m = /^\d+ \((.*)\) (\S)/.exec(stat);
    return !!m && m[1] === 'dockerd' && m[2] !== 'Z';
  } catch {
    return false;
  }
}

/** The pid of the running dockerd, or null when none can be told apart. */
async function findEnginePid(): Promise<number | null> {
  for (const file of PID_FILES) {
    if (!existsSync(file)) continue;
    const pid = Number(readFileSync(file, 'utf8').trim());
    if (Number.isInteger(pid) && pid > 0 && isDockerd(pid)) return pid;
  }
  const pids = await run('pidof', ['dockerd']).then((r) => r.stdout.trim().split(/\s+/).filter(Boolean).map(Number), () => [] as number[]);
  return pids.length === 1 ? pids[0]! : null;
}

/** The argv `pid` was started with (NUL-separated in /proc), to start the same engine again. */
function argvOf(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
}

/** Starts dockerd again with `argv`, detached (its own session, like scripts/start-docker). */
async function startEngine(argv: string[]): Promise<void> {
  const log = openSync(path.join(tmpdir(), 'berth-faults-dockerd.log'), 'a');
  try {
    spawn(argv[0]!, argv.slice(1), { detached: true, stdio: ['ignore', log, log] }).unref();
  } finally {
    closeSync(log);
  }
  await until('dockerd answers again', engineUp);
}

const up = await engineUp();
const enginePid = up ? await findEnginePid() : null;
const skip =
  requireOrSkip('docker', up, 'no Docker engine answers `docker info` (scripts/test installs docker.io and starts one)') ||
  (enginePid === null ? `cannot tell which dockerd answers (no pid file among ${PID_FILES.join(', ')}, and pidof dockerd finds none or several)` : false);
/** Set before the engine is stopped, so `after` can start it again whatever failed. */
let engineArgv: string[] | null = null;

/** Polls `fn` for up to `ms`; an attempt that hangs (docker info against a dying engine) is cut off too. */
const until = <T>(what: string, fn: () => Promise<T | null | undefined | false>, ms = 60_000): Promise<T> => poll(what, fn, ms, { intervalMs: 200 });

describe('fault: the Docker engine stops under a running daemon', { skip }, () => {
  let t: TestDaemon;
  let image: string;

  before(async () => {
    image = await ensureTestImage('docker');
    // Passes are driven by hand: no periodic pass in the way.
    t = await startTestDaemon({ runtime: 'docker', reconcileInterval: 3600 });
  });
  after(async () => {
    if (engineArgv && !(await engineUp())) await startEngine(engineArgv);
    await t?.stop();
  });

  it('changes nothing while the engine is down, and converges when it is back', async () => {
    const web = await t.api('POST', '/api/workspaces', { name: 'survivor', visibility: 'public', restart: 'on-failure', image, command: ['httpd', '-f', '-p', '8000', '-h', '/www'] });
    assert.equal(web.status, 201, JSON.stringify(web.body));
    const url = web.body.ports[0].url as string;
    const status = (): Promise<number> => fetch(url).then((r) => r.status, () => 0);
    await until('the hosted app answers', async () => (await status()) === 200);

    // Stop the engine (SIGTERM: dockerd stops its containers, then exits).
    const pid = enginePid!;
    engineArgv = argvOf(pid);
    process.kill(pid, 'SIGTERM');
    await until('dockerd exits', async () => !isDockerd(pid) && !(await engineUp()));

    await assert.rejects(t.daemon.reconcile(), /E_RUNTIME|Cannot connect|docker/i, 'a pass without an engine fails instead of concluding');
    const during = (await t.api('GET', `/api/workspaces/${web.body.id}`)).body;
    assert.equal(during.state, 'running', 'no state changed because the engine is down');
    const failed = await t.api('POST', '/api/workspaces', { name: 'newcomer', image, command: ['httpd', '-f', '-p', '8000', '-h', '/www'] });
    assert.ok(failed.status >= 500 && failed.status < 600, `create without an engine: ${failed.status}`);
    assert.match(failed.body.error.code, /^E_RUNTIME/);
    assert.deepEqual(((await t.api('GET', '/api/workspaces')).body.workspaces as any[]).map((w) => w.name), ['survivor'], 'no half-created record');

    // The engine comes back; its containers stayed stopped. One pass records the crash and
    // schedules the restart (on-failure: httpd died of SIGTERM), a later one restarts it.
    await startEngine(engineArgv);
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
