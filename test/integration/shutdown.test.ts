import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { once } from 'node:events';
import WebSocket from 'ws';
import { randomPortRange, startTestDaemon } from '../support/daemon.js';

const root = path.resolve(import.meta.dirname, '../..');
/** Answers /slow after 1.5 s, everything else at once. */
const SLOW_APP = [
  process.execPath,
  '-e',
  `require('http').createServer((q, s) => q.url === '/slow' ? setTimeout(() => s.end('slow-done'), 1500) : s.end('ok'))
     .listen(Number(process.env.PORT), '127.0.0.1');`,
];

describe('graceful shutdown', () => {
  it('SIGTERM lets an in-flight request finish, refuses new connections, exits 0, and leaves workloads running', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'berth-shutdown-'));
    const range = randomPortRange();
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'test/support/daemon-main.ts')], {
      cwd: root,
      env: {
        ...process.env,
        BERTH_DATA_DIR: dataDir,
        BERTH_PORT: '0',
        BERTH_RUNTIME: 'process',
        BERTH_PORT_RANGE_START: String(range.portRangeStart),
        BERTH_PORT_RANGE_END: String(range.portRangeEnd),
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const url = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).on('line', (l) => {
        const m = /^READY (\S+)/.exec(l);
        if (m) resolve(m[1]!);
      });
      child.once('exit', (c) => reject(new Error(`daemon exited with ${c}`)));
    });
    const token = readFileSync(path.join(dataDir, 'token'), 'utf8').trim();
    try {
      const created = await fetch(`${url}/api/workspaces`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'slow', visibility: 'public', command: SLOW_APP }),
      }).then((r) => r.json() as Promise<any>);
      const hosted = created.ports[0].url as string;
      for (let i = 0; i < 50 && (await fetch(hosted).then((r) => r.status, () => 0)) !== 200; i++) await new Promise((r) => setTimeout(r, 100));

      const inFlight = fetch(`${hosted}slow`).then(async (r) => ({ status: r.status, body: await r.text() }));
      await new Promise((r) => setTimeout(r, 300));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 200));
      const refused = await fetch(`${url}/api/health`).then(() => 'answered', () => 'refused');
      assert.equal(refused, 'refused', 'new connections are still accepted while draining');
      assert.deepEqual(await inFlight, { status: 200, body: 'slow-done' });
      assert.equal(await exited, 0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }

    // The workload outlived the daemon: a new daemon finds it running and serves it.
    const t = await startTestDaemon({ dataDir, ...range });
    try {
      const list = (await t.api('GET', '/api/workspaces')).body.workspaces;
      assert.equal(list.length, 1);
      assert.equal(list[0].state, 'running');
      assert.equal(await fetch(`${t.daemon.appsUrl}/hosted/${list[0].id}/${list[0].ports[0].hostPort}/`).then((r) => r.text()), 'ok');
    } finally {
      await t.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('closes exec shells with a close frame (1001) and ends event streams, without waiting out the drain', async () => {
    const t = await startTestDaemon();
    let stopped = false;
    try {
      const created = await t.api('POST', '/api/workspaces', { name: 'shelly', command: SLOW_APP });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const ws = new WebSocket(`${t.daemon.url.replace('http', 'ws')}/api/workspaces/shelly/exec?tty=1&cmd=/bin/sh`, {
        headers: { authorization: `Bearer ${t.daemon.token}` },
      });
      await once(ws, 'open');
      const closed = once(ws, 'close') as Promise<[number, Buffer]>;
      // The shell answers: the session is live before the daemon stops.
      const output = new Promise<string>((resolve) => ws.on('message', (d: Buffer, bin: boolean) => bin && d.toString().includes('alive') && resolve('alive')));
      ws.send(Buffer.from('echo alive\n'));
      assert.equal(await output, 'alive');
      // A live dashboard's event stream, open and delivering.
      const events = await fetch(`${t.daemon.url}/api/events`, { headers: { authorization: `Bearer ${t.daemon.token}` } });
      const reader = events.body!.getReader();
      assert.match(new TextDecoder().decode((await reader.read()).value), /retry: 3000/);
      const streamEnded = (async () => {
        for (;;) if ((await reader.read()).done) return true;
      })().catch(() => false);
      const t0 = Date.now();
      await t.stop();
      stopped = true;
      const took = Date.now() - t0;
      assert.ok(took < 3_000, `stop took ${took} ms: a WebSocket or an event stream held the ${'drain'} period`);
      assert.equal(await streamEnded, true, 'the event stream ended cleanly');
      const [code, reason] = await closed;
      assert.equal(code, 1001);
      assert.equal(reason.toString(), 'Berth is shutting down');
    } finally {
      if (!stopped) await t.stop();
    }
  });
});
