/**
 * The CLI against a real daemon (process runtime, in-process, ephemeral port): every command is
 * run as a child process, exactly as a user would, with BERTH_URL and BERTH_DATA_DIR set.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { requireOrSkip } from '../support/require.js';
import { freeLoopbackPort } from '../support/free-port.js';

const root = path.resolve(import.meta.dirname, '../..');
const CLI = path.join(root, 'src/cli/index.ts');
const HELLO = ['node', '-e', "console.log('hello-from-ws'); setInterval(() => {}, 1e6)"];

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** The environment without any BERTH_* the test runner may have, plus `extra`. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BERTH_')));
  return { ...env, ...extra };
}

function spawnCli(args: string[], env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: root, env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
}

function collect(child: ChildProcess): Promise<Run> {
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d));
  child.stderr!.on('data', (d: Buffer) => (stderr += d));
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
}

/** Waits until `pred(output)` holds for the child's stdout+stderr, or fails after `ms`. */
function waitForOutput(child: ChildProcess, pred: (out: string) => boolean, ms = 15_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`timed out; output so far:\n${out}`)), ms);
    const onData = (d: Buffer): void => {
      out += d;
      if (pred(out)) {
        clearTimeout(timer);
        resolve(out);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
  });
}

describe('berth CLI against a running daemon', () => {
  let t: TestDaemon;
  let env: Record<string, string>;
  const cli = (...args: string[]): Promise<Run> => collect(spawnCli(args, env));

  before(async () => {
    t = await startTestDaemon();
    env = { BERTH_URL: t.daemon.url, BERTH_DATA_DIR: t.dataDir };
  });
  after(async () => {
    await t.stop();
  });

  it('status shows the runtime, in text and JSON', async () => {
    const text = await cli('status');
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^runtime\s+process/m);
    assert.match(text.stdout, /^workspaces\s+0 /m);
    const json = await cli('status', '--json');
    assert.equal(json.code, 0, json.stderr);
    const parsed = JSON.parse(json.stdout);
    assert.equal(parsed.health.status, 'ok');
    assert.equal(parsed.status.runtime, 'process');
    assert.equal(typeof parsed.status.ports.total, 'number');
  });

  it('ws create prints the id, state and every port URL', async () => {
    const r = await cli('ws', 'create', 'web', '--env', 'GREETING=hi', '--', ...HELLO);
    assert.equal(r.code, 0, r.stderr);
    const shown = JSON.parse((await cli('ws', 'show', 'web', '--json')).stdout);
    assert.equal(shown.state, 'running');
    assert.deepEqual(shown.command, HELLO);
    assert.deepEqual(shown.env, { GREETING: 'hi' });
    assert.match(r.stdout, new RegExp(`^id\\s+${shown.id}$`, 'm'));
    assert.match(r.stdout, /^state\s+running$/m);
    assert.equal(shown.ports.length, t.config.portsPerWorkspace);
    for (const p of shown.ports) {
      assert.equal(p.url, `${t.daemon.appsUrl}/hosted/${shown.id}/${p.hostPort}/`);
      assert.ok(r.stdout.includes(`${p.containerPort} → ${p.url}`), `port ${p.containerPort} in:\n${r.stdout}`);
    }
  });

  it('ws create --json prints the workspace as JSON', async () => {
    const r = await cli('ws', 'create', 'api', '--json', '--', ...HELLO);
    assert.equal(r.code, 0, r.stderr);
    const ws = JSON.parse(r.stdout);
    assert.equal(ws.name, 'api');
    assert.equal(ws.state, 'running');
    assert.match(ws.ports[0].url, /\/hosted\//);
  });

  it('ws ls lists workspaces as a table and as JSON', async () => {
    const table = await cli('ws', 'ls');
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^NAME\s+ID\s+STATE\s+PORTS\s+CREATED$/m);
    assert.match(table.stdout, /^web\s+[a-z0-9]{12}\s+running\s+\d+-\d+\s+/m);
    const json = await cli('ws', 'ls', '--json');
    const names = JSON.parse(json.stdout).workspaces.map((w: { name: string }) => w.name).sort();
    assert.deepEqual(names, ['api', 'web']);
  });

  it('ws show accepts the id as well as the name', async () => {
    const byName = JSON.parse((await cli('ws', 'show', 'web', '--json')).stdout);
    const byId = await cli('ws', 'show', byName.id);
    assert.equal(byId.code, 0, byId.stderr);
    assert.match(byId.stdout, /^name\s+web$/m);
    assert.ok(byId.stdout.includes(byName.ports[0].url));
  });

  it('ws logs prints the output of the workspace command, with --tail and -f', async () => {
    let logs: Run | undefined;
    for (let i = 0; i < 50; i++) {
      logs = await cli('ws', 'logs', 'web', '--tail', '10');
      if (logs.stdout.includes('hello-from-ws')) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(logs?.code, 0, logs?.stderr);
    assert.ok(logs?.stdout.includes('hello-from-ws'), logs?.stdout);

    const follow = spawnCli(['ws', 'logs', '-f', 'web'], env);
    const done = collect(follow);
    await waitForOutput(follow, (out) => out.includes('hello-from-ws'));
    follow.kill('SIGINT');
    const r = await done;
    assert.equal(r.code, 130, r.stderr);
    assert.equal(r.stderr, '');
  });

  it('ws shell runs a command and exits with its code', async () => {
    const r = await cli('ws', 'shell', 'web', '--', 'node', '-e', "process.stdout.write('from-shell:' + process.env.GREETING); process.exit(3)");
    assert.equal(r.code, 3, r.stderr);
    assert.ok(r.stdout.includes('from-shell:hi'), r.stdout);
  });

  it('ws stop and ws start change the state', async () => {
    const stop = await cli('ws', 'stop', 'web');
    assert.equal(stop.code, 0, stop.stderr);
    assert.equal(stop.stdout, 'workspace web stopped\n');
    assert.equal(JSON.parse((await cli('ws', 'show', 'web', '--json')).stdout).state, 'stopped');
    const start = await cli('ws', 'start', 'web');
    assert.equal(start.code, 0, start.stderr);
    assert.match(start.stdout, /^workspace web started\n  \d+ → http:\/\/.*\/hosted\//);
    const again = await cli('ws', 'stop', 'web', '--json');
    assert.equal(JSON.parse(again.stdout).state, 'stopped');
    const json = await cli('ws', 'start', 'web', '--json');
    assert.equal(json.code, 0, json.stderr);
    assert.equal(JSON.parse(json.stdout).state, 'running');
  });

  it('a duplicate name fails with E_NAME_TAKEN and exit code 1', async () => {
    const r = await cli('ws', 'create', 'web', '--', ...HELLO);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error E_NAME_TAKEN: .*web/m);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  });

  it('an unknown workspace fails with E_NOT_FOUND', async () => {
    const r = await cli('ws', 'show', 'no-such-ws');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error E_NOT_FOUND: /m);
  });

  it('a malformed --env is a usage error before any request', async () => {
    const r = await cli('ws', 'create', 'bad', '--env', 'NOEQUALS');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /expected K=V/);
  });

  it('ws rm removes the workspace', async () => {
    for (const name of ['web', 'api']) {
      const r = await cli('ws', 'rm', name);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`workspace ${name} removed`));
    }
    const after = await cli('ws', 'show', 'web');
    assert.equal(after.code, 1);
    assert.match(after.stderr, /E_NOT_FOUND/);
    assert.deepEqual(JSON.parse((await cli('ws', 'ls', '--json')).stdout).workspaces, []);
  });

  it('a wrong token gives a clear E_UNAUTHORIZED error', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'berth-cli-token-'));
    try {
      writeFileSync(path.join(dir, 'token'), 'berth_this-is-not-the-token-of-this-daemon\n', { mode: 0o600 });
      const r = await collect(spawnCli(['ws', 'ls'], { BERTH_URL: t.daemon.url, BERTH_DATA_DIR: dir }));
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^error E_UNAUTHORIZED: /m);
      assert.match(r.stderr, /hint: /);
      assert.equal(r.stdout, '');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('berth CLI without a daemon', () => {
  it('says it cannot reach the daemon and how to start it', async () => {
    const port = await freeLoopbackPort();
    const r = await collect(spawnCli(['ws', 'ls'], { BERTH_URL: `http://127.0.0.1:${port}` }));
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `error: cannot reach the Berth daemon at http://127.0.0.1:${port} — start it with ./berth up\n`);
    const viaFlag = await collect(spawnCli(['--url', `http://127.0.0.1:${port}`, 'status'], {}));
    assert.equal(viaFlag.code, 1);
    assert.match(viaFlag.stderr, /cannot reach the Berth daemon/);
  });
});

describe('berth up', () => {
  it('reports invalid configuration without a stack trace, exit 2', async () => {
    const r = await collect(spawnCli(['up'], { BERTH_PORT: 'not-a-port' }));
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^error E_CONFIG: .*BERTH_PORT/m);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  });

  /** A 1 MiB tmpfs at a fresh mount point (root only); null when mounting is not possible here. */
  async function smallTmpfs(): Promise<{ dir: string; unmount: () => Promise<void> } | null> {
    const dir = mkdtempSync(path.join(tmpdir(), 'berth-tmpfs-'));
    const run = (args: string[]): Promise<number | null> => new Promise((r) => spawn(args[0]!, args.slice(1), { stdio: 'ignore' }).on('close', r).on('error', () => r(null)));
    if ((await run(['mount', '-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir])) !== 0) {
      rmSync(dir, { recursive: true, force: true });
      return null;
    }
    return { dir, unmount: async () => void (await run(['umount', dir]), rmSync(dir, { recursive: true, force: true })) };
  }
  const canMount = requireOrSkip('root', process.getuid?.() === 0, 'mounting a tmpfs needs root (CI runs as root)');

  it('a full disk under the data directory: E_DISK_FULL with a hint, no stack trace, nothing left', { skip: canMount }, async () => {
    const fs = await smallTmpfs();
    assert.ok(fs, 'mount -t tmpfs failed although running as root');
    try {
      writeFileSync(path.join(fs.dir, 'filler'), Buffer.alloc(1024 * 1024 - 64 * 1024));
      const r = await collect(spawnCli(['up'], { BERTH_PORT: '0', BERTH_RUNTIME: 'process', BERTH_DATA_DIR: path.join(fs.dir, 'data') }));
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /^error E_DISK_FULL: no space left for the data directory .*\/data \(ENOSPC\)/m);
      assert.match(r.stderr, /hint: free space on its filesystem/);
      assert.doesNotMatch(r.stderr, /\n\s+at /);
      assert.deepEqual(readdirSync(path.join(fs.dir, 'data')), [], 'the write probe is removed');
    } finally {
      await fs?.unmount();
    }
  });

  it('a read-only data directory: E_CONFIG "not writable" with a hint, no stack trace', { skip: canMount }, async () => {
    const fs = await smallTmpfs();
    assert.ok(fs, 'mount -t tmpfs failed although running as root');
    try {
      mkdirSync(path.join(fs.dir, 'data'));
      const remount = await new Promise((r) => spawn('mount', ['-o', 'remount,ro', fs.dir], { stdio: 'ignore' }).on('close', r));
      assert.equal(remount, 0);
      const r = await collect(spawnCli(['up'], { BERTH_PORT: '0', BERTH_RUNTIME: 'process', BERTH_DATA_DIR: path.join(fs.dir, 'data') }));
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /^error E_CONFIG: data directory .*\/data is not writable: .*(EROFS|read-only)/im);
      assert.match(r.stderr, /hint: set BERTH_DATA_DIR to a directory this user can write/);
      assert.doesNotMatch(r.stderr, /\n\s+at /);
    } finally {
      await fs?.unmount();
    }
  });

  it('runs the daemon in the foreground and stops cleanly on SIGTERM', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'berth-cli-up-'));
    try {
      const up = spawnCli(['up'], { BERTH_PORT: '0', BERTH_RUNTIME: 'process', BERTH_DATA_DIR: dataDir, BERTH_LOG_LEVEL: 'warn' });
      const done = collect(up);
      const out = await waitForOutput(up, (o) => /Berth is running at http:\/\/\S+ /.test(o), 30_000);
      const url = /Berth is running at (http:\/\/[^\s]+) /.exec(out)![1]!;
      const status = await collect(spawnCli(['status', '--json'], { BERTH_URL: url, BERTH_DATA_DIR: dataDir }));
      assert.equal(status.code, 0, status.stderr);
      assert.equal(JSON.parse(status.stdout).status.runtime, 'process');
      up.kill('SIGTERM');
      const r = await done;
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /SIGTERM: stopping Berth/);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
