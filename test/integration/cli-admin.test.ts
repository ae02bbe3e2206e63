import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { startTestDaemon, type TestDaemon } from '../support/daemon.js';

const root = path.resolve(import.meta.dirname, '../..');
const CLI = path.join(root, 'src/cli/index.ts');

function cli(env: Record<string, string>, args: string[], stdin = ''): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BERTH_')));
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: root, env: { ...base, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d));
  child.stderr.on('data', (d: Buffer) => (stderr += d));
  child.stdin.end(stdin);
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

describe('berth user / token / audit', () => {
  let t: TestDaemon;
  let env: Record<string, string>;
  before(async () => {
    t = await startTestDaemon();
    env = { BERTH_URL: t.daemon.url, BERTH_DATA_DIR: t.dataDir };
  });
  after(async () => {
    await t.stop();
  });

  it('adds a member with a password from stdin, who can then log in; lists and removes it', async () => {
    const add = await cli(env, ['user', 'add', 'carol'], 'carol-password-1\n');
    assert.equal(add.code, 0, add.stderr);
    const login = await fetch(`${t.daemon.url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'carol', password: 'carol-password-1' }),
    });
    assert.equal(login.status, 200);
    const ls = await cli(env, ['user', 'ls', '--json']);
    assert.ok(JSON.parse(ls.stdout).some((u: any) => u.username === 'carol' && u.role === 'member'));
    const weak = await cli(env, ['user', 'add', 'dave'], 'short\n');
    assert.equal(weak.code, 1);
    assert.match(weak.stderr, /at least 10 characters/);
    assert.equal((await cli(env, ['user', 'rm', 'carol'])).code, 0);
    assert.ok(!JSON.parse((await cli(env, ['user', 'ls', '--json'])).stdout).some((u: any) => u.username === 'carol'));
  });

  it('creates a token shown once, lists it without its value, revokes it', async () => {
    const created = await cli(env, ['token', 'create', 'deploy', '--scope', 'read']);
    assert.equal(created.code, 0, created.stderr);
    const token = created.stdout.trim();
    assert.match(token, /^berth_/);
    const ls = await cli(env, ['token', 'ls']);
    assert.match(ls.stdout, /deploy/);
    assert.ok(!ls.stdout.includes(token));
    const id = JSON.parse((await cli(env, ['token', 'ls', '--json'])).stdout)[0].id as string;
    assert.equal((await fetch(`${t.daemon.url}/api/workspaces`, { headers: { authorization: `Bearer ${token}` } })).status, 200);
    assert.equal((await cli(env, ['token', 'revoke', id])).code, 0);
    assert.equal((await fetch(`${t.daemon.url}/api/workspaces`, { headers: { authorization: `Bearer ${token}` } })).status, 401);
  });

  it('shows the audit log', async () => {
    const r = await cli(env, ['audit', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const actions = JSON.parse(r.stdout).map((e: any) => e.action);
    for (const a of ['user.add', 'user.remove', 'token.create', 'token.revoke', 'auth.login']) assert.ok(actions.includes(a), `missing ${a}`);
  });
});
