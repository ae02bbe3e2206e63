/**
 * Usage on the process runtime, read from /proc: a workspace running a CPU burner (and a child of
 * it holding memory) shows CPU, memory and processes summed over its process tree; limits are
 * refused (this runtime cannot enforce them) rather than silently ignored.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { runCli } from '../support/usage-suite.js';

// The shell forks a node child that holds ~64 MB resident, then burns CPU itself: both count.
const HOLDER = `${process.execPath} -e "globalThis.b=Buffer.alloc(64*1024*1024,1);setInterval(()=>{},1e6)"`;
const BURNER = ['sh', '-c', `${HOLDER} & while :; do :; done`];

describe('usage on the process runtime', () => {
  let t: TestDaemon;
  let id: string;
  before(async () => {
    // Members may run workloads here, so one can own a workspace beside the admin's.
    t = await startTestDaemon({ processRuntimeMembers: 'allow' });
  });
  after(async () => {
    await t?.stop();
  });

  it('sums CPU, memory and processes of the workspace\'s process tree from /proc', { timeout: 60_000 }, async () => {
    const res = await t.api('POST', '/api/workspaces', { name: 'burner', command: BURNER });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    id = res.body.id;
    let u: any = null;
    for (let i = 0; i < 30; i++) {
      u = (await t.api('GET', `/api/workspaces/${id}`)).body.usage;
      if (u && u.cpuPercent > 10 && u.memoryBytes > 64 * 1024 * 1024 && u.pids >= 2) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    assert.ok(u.cpuPercent > 10, `a busy loop shows: ${JSON.stringify(u)}`);
    assert.ok(u.cpuSeconds > 0);
    // The node child's 64 MB buffer is resident: the sum covers the whole tree, not just PID 1.
    assert.ok(u.memoryBytes > 64 * 1024 * 1024, JSON.stringify(u));
    assert.ok(u.pids >= 2, `sh and node: ${JSON.stringify(u)}`);
    // Berth's own supervisor (a node process of ~40 MB) is not the workload's.
    assert.ok(u.pids < 4, JSON.stringify(u));
    assert.equal(typeof u.diskBytes, 'number');
    // What tells a busy workspace from an idle one on this (shared, loaded) host.
    const idle = await t.api('POST', '/api/workspaces', { name: 'idle', command: ['sleep', '600'] });
    assert.equal(idle.status, 201, JSON.stringify(idle.body));
    const i = (await t.api('GET', `/api/workspaces/${idle.body.id}`)).body.usage;
    assert.ok(i.cpuPercent !== null && i.cpuPercent < 5, `sleep is idle: ${JSON.stringify(i)}`);
    assert.equal(i.pids, 1);
    assert.equal((await t.api('DELETE', `/api/workspaces/${idle.body.id}`)).status, 204);
  });

  it('/metrics shows a member the usage of their own workspaces only (as the API does)', { timeout: 60_000 }, async () => {
    assert.equal((await t.api('POST', '/api/users', { username: 'mia', password: 'mia-password-123', role: 'member' })).status, 201);
    const login = await fetch(`${t.daemon.url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'mia', password: 'mia-password-123' }),
    });
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
    const csrf = ((await login.json()) as { csrfToken: string }).csrfToken;
    const asMia = { token: null, headers: { cookie, 'x-csrf-token': csrf } };
    const own = await t.api('POST', '/api/workspaces', { name: 'mias', command: ['sleep', '600'] }, asMia);
    assert.equal(own.status, 201, JSON.stringify(own.body));
    const seenBy = async (opts?: typeof asMia): Promise<string> => {
      const res = await t.api('GET', '/metrics', undefined, opts);
      assert.equal(res.status, 200);
      return String(res.body);
    };
    const mia = await seenBy(asMia);
    assert.match(mia, new RegExp(`^berth_workspace_memory_bytes\\{name="mias",workspace="${own.body.id}"\\} \\d+$`, 'm'));
    assert.doesNotMatch(mia, /name="burner"/, 'the admin\'s workspace is not a member\'s business');
    const admin = await seenBy();
    assert.match(admin, /name="burner"/);
    assert.match(admin, /name="mias"/);
    assert.equal((await t.api('DELETE', `/api/workspaces/${own.body.id}`)).status, 204);
  });

  it('`berth ws top --once` prints it', { timeout: 60_000 }, async () => {
    const r = await runCli(t, ['ws', 'top', '--once']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^burner\s+\S+\s+\d+\.\d%\s+-\s+\d+ MiB\s+-\s+-\s+\d+\s/m);
  });

  it('has no usage once stopped, and zero processes left behind', { timeout: 60_000 }, async () => {
    assert.equal((await t.api('POST', `/api/workspaces/${id}/stop`)).status, 200);
    assert.equal((await t.api('GET', `/api/workspaces/${id}`)).body.usage, null);
    const stats = await t.daemon.workspaces.usage.usage(t.daemon.workspaces.list());
    assert.equal(stats.size, 0);
  });

  it('refuses cpus and memory with E_LIMITS_UNSUPPORTED and a hint, from the API and the CLI', { timeout: 60_000 }, async () => {
    for (const limits of [{ cpus: 1 }, { memory: '512m' }]) {
      const res = await t.api('POST', '/api/workspaces', { name: 'capped', command: ['sleep', '60'], ...limits });
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.equal(res.body.error.code, 'E_LIMITS_UNSUPPORTED');
      assert.match(res.body.error.hint, /podman or docker/);
    }
    const cli = await runCli(t, ['ws', 'create', 'capped', '--memory', '512m', '--', 'sleep', '60']);
    assert.notEqual(cli.code, 0);
    assert.match(cli.stderr, /cannot limit CPU or memory/);
    const bad = await runCli(t, ['ws', 'create', 'capped', '--cpus', '0', '--', 'sleep', '60']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /at least 0\.01/);
    assert.equal((await t.api('GET', '/api/workspaces/capped')).status, 404);
  });
});
