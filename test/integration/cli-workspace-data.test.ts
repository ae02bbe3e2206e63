/**
 * `berth ws create --data-path`, `ws recreate`, `ws rm --keep-data`, `volume ls|rm` as a user runs
 * them (child processes against a real daemon, process runtime), and who sees a kept volume: its
 * owner and admins, not another member.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { startTestDaemon, type TestDaemon } from '../support/daemon.js';

const root = path.resolve(import.meta.dirname, '../..');
const CLI = path.join(root, 'src/cli/index.ts');
const IDLE = ['sh', '-c', 'trap "exit 0" TERM; while :; do sleep 1; done'];

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(env: Record<string, string>, ...args: string[]): Promise<Run> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BERTH_')));
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: root, env: { ...clean, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d));
  child.stderr.on('data', (d: Buffer) => (stderr += d));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

describe('berth ws/volume data commands against a running daemon', () => {
  let t: TestDaemon;
  let env: Record<string, string>;
  const run = (...args: string[]): Promise<Run> => cli(env, ...args);

  before(async () => {
    t = await startTestDaemon({ processRuntimeMembers: 'allow' });
    env = { BERTH_URL: t.daemon.url, BERTH_DATA_DIR: t.dataDir };
  });
  after(async () => {
    for (const v of await t.daemon.workspaces.volumes.list(null).catch(() => [])) await t.daemon.workspaces.volumes.remove(v.name, null).catch(() => {});
    await t.stop();
  });

  it('create --data-path, show, recreate, rm --keep-data, volume ls, create --data-volume, volume rm', async () => {
    const created = await run('ws', 'create', 'notes', '--data-path', '/home/dev', '--', ...IDLE);
    assert.equal(created.code, 0, created.stderr);
    const ws = t.daemon.workspaces.get('notes');
    assert.match(created.stdout, new RegExp(`^data\\s+/home/dev \\(volume ${ws.dataVolume}\\)$`, 'm'));
    const r = await t.daemon.workspaces.exec(ws.id, ['sh', '-c', 'echo from-cli > "$BERTH_DATA_PATH/n.txt"'], {});
    assert.equal(r.kind === 'result' && r.exitCode, 0);

    const recreated = await run('ws', 'recreate', 'notes');
    assert.equal(recreated.code, 0, recreated.stderr);
    assert.match(recreated.stdout, new RegExp(`^workspace notes recreated from .*; data kept at /home/dev \\(volume ${ws.dataVolume}\\)$`, 'm'));

    const bad = await run('ws', 'create', 'evil', '--data-path', '/proc', '--', ...IDLE);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /E_BAD_DATA_PATH|under \/proc/);
    assert.match(bad.stderr, /absolute directory like \/workspace/, 'the hint is shown');

    const rm = await run('ws', 'rm', 'notes', '--keep-data');
    assert.equal(rm.code, 0, rm.stderr);
    assert.match(rm.stdout, new RegExp(`data is kept in volume ${ws.dataVolume}`));

    const ls = await run('volume', 'ls');
    assert.equal(ls.code, 0, ls.stderr);
    assert.match(ls.stdout, /^NAME\s+SIZE\s+KIND\s+USED BY$/m);
    assert.match(ls.stdout, new RegExp(`^${ws.dataVolume}\\s+\\d[\\d.]* (B|KiB)\\s+workspace\\s+- \\(kept; was notes\\)$`, 'm'));

    const again = await run('ws', 'create', 'notes2', '--data-volume', ws.dataVolume!, '--json', '--', ...IDLE);
    assert.equal(again.code, 0, again.stderr);
    const ws2 = JSON.parse(again.stdout);
    const read = await t.daemon.workspaces.exec(ws2.id, ['sh', '-c', 'cat "$BERTH_DATA_PATH/n.txt"'], {});
    assert.equal(read.kind === 'result' && read.stdout, 'from-cli\n');
    assert.equal((await run('ws', 'rm', 'notes2', '--keep-data')).code, 0);

    const vrm = await run('volume', 'rm', ws.dataVolume!);
    assert.equal(vrm.code, 0, vrm.stderr);
    assert.match(vrm.stdout, new RegExp(`^volume ${ws.dataVolume} removed`, 'm'));
    assert.doesNotMatch((await run('volume', 'ls')).stdout, new RegExp(ws.dataVolume!));
  });

  it("a member's kept volume: the member and admins see it, another member neither sees, removes nor mounts it", async () => {
    const member = async (username: string): Promise<{ cookie: string; csrf: string }> => {
      assert.equal((await t.api('POST', '/api/users', { username, password: `${username}-password-123`, role: 'member' })).status, 201);
      const tok = await fetch(`${t.daemon.url}/api/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username, password: `${username}-password-123` }),
      });
      assert.equal(tok.status, 200);
      return { cookie: (tok.headers.get('set-cookie') ?? '').split(';')[0]!, csrf: ((await tok.json()) as { csrfToken: string }).csrfToken };
    };
    const as = (s: { cookie: string; csrf: string }, method: string, url: string, body?: unknown) =>
      t.api(method, url, body, { token: null, headers: { cookie: s.cookie, 'x-csrf-token': s.csrf } });
    const mia = await member('mia');
    const bob = await member('bob');
    const made = await as(mia, 'POST', '/api/workspaces', { name: 'mia-ws', command: IDLE });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const volume = made.body.dataVolume as string;
    assert.equal((await as(mia, 'DELETE', `/api/workspaces/${made.body.id}?keepData=1`)).status, 204);

    const names = async (who: { cookie: string; csrf: string } | null): Promise<string[]> =>
      (who ? await as(who, 'GET', '/api/volumes') : await t.api('GET', '/api/volumes')).body.volumes.map((v: { name: string }) => v.name);
    assert.ok((await names(mia)).includes(volume), 'the owner sees it (owner label on the kept volume)');
    assert.ok((await names(null)).includes(volume), 'an admin sees it');
    assert.ok(!(await names(bob)).includes(volume), 'another member does not');
    assert.equal((await as(bob, 'DELETE', `/api/volumes/${volume}`)).status, 404);
    const steal = await as(bob, 'POST', '/api/workspaces', { name: 'bob-ws', dataVolume: volume, command: IDLE });
    assert.equal(steal.status, 404, JSON.stringify(steal.body));
    assert.equal((await as(mia, 'DELETE', `/api/volumes/${volume}`)).status, 200);
    assert.equal(t.daemon.workspaces.list().some((w) => w.name === 'bob-ws'), false);
  });
});
