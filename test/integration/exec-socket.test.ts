// The exec WebSocket (`berth ws shell`, the dashboard's terminal) through the daemon's real wiring:
// the edge hands every upgrade that matches no route to the daemon's exec handler, which decides
// who may open a shell where. Refusals are read off the raw handshake answer; sessions run real
// processes in a process-runtime workspace.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { rawRequest } from '../support/edge-harness.js';
import { login, type Session } from '../support/origins.js';

const SLEEP = [process.execPath, '-e', 'setInterval(() => {}, 1 << 30)'];

interface Transcript {
  output: string;
  exit: number | null;
  close: number;
}

describe('exec WebSocket through the daemon', () => {
  let t: TestDaemon;
  let readOnly: string;
  let member: Session;
  let wsBase: string;

  /** The raw handshake answer to an exec upgrade for `target` with `headers`. */
  const raw = (target: string, headers: Record<string, string>) => {
    const lines = Object.entries({ Host: `127.0.0.1:${t.daemon.port}`, ...headers }).map(([k, v]) => `${k}: ${v}\r\n`).join('');
    return rawRequest(
      t.daemon.port,
      `GET ${target} HTTP/1.1\r\n${lines}Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`,
    );
  };
  const handshake = async (target: string, headers: Record<string, string>): Promise<{ status: number; code: string; message: string }> => {
    const res = await raw(target, headers);
    const body = JSON.parse(res.body) as { error: { code: string; message: string } };
    return { status: res.status, ...body.error };
  };

  /** Runs one exec session as the admin: sends `frames` once open, collects output until close. */
  const session = async (query: string, frames: (Buffer | string)[] = [], name = 'box'): Promise<Transcript> => {
    const ws = new WebSocket(`${wsBase}/api/workspaces/${name}/exec${query}`, { headers: { authorization: `Bearer ${t.daemon.token}` } });
    const out: Transcript = { output: '', exit: null, close: 0 };
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) out.output += data.toString();
      else out.exit = (JSON.parse(data.toString()) as { code: number }).code;
    });
    const closed = once(ws, 'close') as Promise<[number, Buffer]>;
    await once(ws, 'open');
    for (const f of frames) ws.send(f, { binary: Buffer.isBuffer(f) });
    out.close = (await closed)[0];
    return out;
  };

  before(async () => {
    t = await startTestDaemon();
    wsBase = t.daemon.url.replace('http', 'ws');
    assert.equal((await t.api('POST', '/api/workspaces', { name: 'box', command: SLEEP })).status, 201);
    const token = await t.api('POST', '/api/tokens', { name: 'ro', scopes: ['read'] });
    assert.equal(token.status, 201, JSON.stringify(token.body));
    readOnly = token.body.token;
    assert.equal((await t.api('POST', '/api/users', { username: 'mo', password: 'mo-password-123', role: 'member' })).status, 201);
    member = await login(t, 'mo', 'mo-password-123');
  });
  after(async () => {
    await t.stop();
  });

  it('refuses without a credential (401), with a read-only token (403), for unknown or undecodable names (404)', async () => {
    assert.deepEqual(await handshake('/api/workspaces/box/exec', {}), { status: 401, code: 'E_UNAUTHORIZED', message: 'log in or send Authorization: Bearer <token>' });
    const ro = await handshake('/api/workspaces/box/exec?cmd=id', { Authorization: `Bearer ${readOnly}` });
    // The message tells this refusal from mayRun's (the token lacks the admin scope too).
    assert.deepEqual(ro, { status: 403, code: 'E_FORBIDDEN', message: 'this token may only read' });
    const admin = { Authorization: `Bearer ${t.daemon.token}` };
    const unknown = await handshake('/api/workspaces/nope/exec', admin);
    assert.deepEqual([unknown.status, unknown.message], [404, 'workspace not found']);
    // Malformed %-escapes never get past the edge's own path check.
    const bad = await raw('/api/workspaces/%zz/exec', admin);
    assert.equal(bad.status, 404);
    assert.match(bad.body, /Nothing is served at this address/);
    const other = await handshake('/api/workspaces/box/exec/more', admin);
    assert.deepEqual([other.status, other.message], [404, 'no WebSocket endpoint here']);
  });

  it('a session cookie counts only from the dashboard’s own Origin, and a member never reaches the admin’s workspace', async () => {
    const origin = new URL(t.daemon.url).origin;
    assert.equal((await handshake('/api/workspaces/box/exec', { Cookie: member.cookie })).status, 401, 'no Origin');
    assert.equal((await handshake('/api/workspaces/box/exec', { Cookie: member.cookie, Origin: 'http://evil.example' })).status, 401, 'a foreign Origin');
    const own = await handshake('/api/workspaces/box/exec', { Cookie: member.cookie, Origin: origin });
    assert.deepEqual([own.status, own.message], [404, 'workspace "box" not found'], 'the member is known but may not see it');
  });

  it('a piped command: output, then its exit code, then a normal close', async () => {
    const q = `?cmd=/bin/sh&cmd=-c&cmd=${encodeURIComponent('echo out; echo err >&2; exit 3')}`;
    assert.deepEqual(await session(q), { output: 'out\nerr\n', exit: 3, close: 1000 });
  });

  it('without a query it runs /bin/sh with its input closed', async () => {
    assert.deepEqual(await session(''), { output: '', exit: 0, close: 1000 });
  });

  it('an interactive session relays stdin, survives malformed and resize control frames, and ends on eof', async () => {
    const frames = [Buffer.from('hello\n'), 'not json', JSON.stringify({ type: 'resize', cols: 100, rows: 30 }), Buffer.from('world\n'), JSON.stringify({ type: 'eof' })];
    const res = await session('?tty=1&cmd=cat', frames);
    assert.match(res.output, /hello\r?\n[^]*world/);
    assert.equal(res.exit, 0);
    assert.equal(res.close, 1000);
  });

  it('input sent once the command runs reaches it too (not only what was queued before)', async () => {
    const ws = new WebSocket(`${wsBase}/api/workspaces/box/exec?tty=1&cmd=cat`, { headers: { authorization: `Bearer ${t.daemon.token}` } });
    let output = '';
    const seen = (text: string): Promise<void> =>
      new Promise((resolve) => {
        const check = (): void => void (output.includes(text) && resolve());
        ws.on('message', (d: Buffer, isBinary: boolean) => {
          if (isBinary) output += d.toString();
          check();
        });
        check();
      });
    await once(ws, 'open');
    ws.send(Buffer.from('first\n'));
    await seen('first');
    ws.send(Buffer.from('second\n'));
    await seen('second');
    const closed = once(ws, 'close') as Promise<[number, Buffer]>;
    ws.send(JSON.stringify({ type: 'eof' }));
    assert.equal((await closed)[0], 1000);
  });

  it('a client that leaves at once ends the command’s input: nothing is left waiting on it', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'berth-exec-'));
    try {
      const marker = path.join(dir, 'stdin-ended');
      const script = `cat >/dev/null; echo ended > '${marker}'`;
      const ws = new WebSocket(`${wsBase}/api/workspaces/box/exec?tty=1&cmd=/bin/sh&cmd=-c&cmd=${encodeURIComponent(script)}`, {
        headers: { authorization: `Bearer ${t.daemon.token}` },
      });
      await once(ws, 'open');
      ws.terminate();
      for (let i = 0; i < 100 && !existsSync(marker); i++) await new Promise((r) => setTimeout(r, 50));
      assert.equal(existsSync(marker), true, 'the command still waits for input from a client that is gone');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a stopped workspace: the session says why, exits 126 and closes with 1011', async () => {
    assert.equal((await t.api('POST', '/api/workspaces', { name: 'idle', command: SLEEP })).status, 201);
    assert.equal((await t.api('POST', '/api/workspaces/idle/stop')).status, 200);
    const res = await session('?cmd=true', [], 'idle');
    assert.equal(res.output, 'berth: workspace "idle" is stopped\r\n');
    assert.deepEqual([res.exit, res.close], [126, 1011]);
  });
});
