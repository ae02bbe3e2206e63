import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import WebSocket from 'ws';
import { startTestDaemon } from '../support/daemon.js';

const root = path.resolve(import.meta.dirname, '../..');
/** HTTP "ok" + WebSocket echo on $PORT. */
const STABLE_APP = [
  process.execPath,
  '-e',
  `const { WebSocketServer } = require(${JSON.stringify(path.join(root, 'node_modules/ws'))});
   const srv = require('http').createServer((q, s) => s.end('ok'));
   new WebSocketServer({ server: srv }).on('connection', (ws) => ws.on('message', (m) => ws.send(m)));
   srv.listen(Number(process.env.PORT), '127.0.0.1');`,
];

describe('load: churn next to steady traffic', () => {
  it('50 concurrent creates/deletes while 5 stable apps take steady traffic and 20 WebSockets stay open: no failed request, no dropped socket, every port released', { timeout: 180_000 }, async () => {
    const t = await startTestDaemon({ portRangeStart: 25000, portRangeEnd: 25999 });
    try {
      const stable = [];
      for (let i = 0; i < 5; i++) {
        const r = await t.api('POST', '/api/workspaces', { name: `stable${i}`, visibility: 'public', command: STABLE_APP });
        assert.equal(r.status, 201, JSON.stringify(r.body));
        stable.push(r.body);
      }
      const urls = stable.map((w) => w.ports[0].url as string);
      for (const u of urls) {
        for (let i = 0; i < 100 && (await fetch(u).then((r) => r.status, () => 0)) !== 200; i++) await new Promise((r) => setTimeout(r, 100));
      }

      // 20 WebSockets, 4 per stable app, echoing every 200 ms throughout.
      let wsErrors = 0;
      let echoes = 0;
      const sockets = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          new Promise<WebSocket>((resolve, reject) => {
            const s = new WebSocket(urls[i % 5]!.replace('http', 'ws'));
            s.on('open', () => resolve(s));
            s.on('error', reject);
          }),
        ),
      );
      let closedEarly = 0;
      for (const s of sockets) {
        s.on('message', () => echoes++);
        s.on('close', () => closedEarly++);
        s.on('error', () => wsErrors++);
      }
      const pinger = setInterval(() => sockets.forEach((s) => s.readyState === s.OPEN && s.send('ping')), 200);

      // Steady HTTP load: 8 concurrent loops over the stable apps until churn ends.
      let stop = false;
      let ok = 0;
      const failures: string[] = [];
      const loops = Array.from({ length: 8 }, async (_, i) => {
        let n = i;
        while (!stop) {
          const u = urls[n++ % 5]!;
          const r = await fetch(u).then(async (res) => `${res.status}:${await res.text()}`, (e: Error) => `error:${e.message}`);
          if (r === '200:ok') ok++;
          else failures.push(r);
        }
      });

      // Churn: 50 creates and deletes, 10 at a time.
      const churnPorts: number[] = [];
      for (let batch = 0; batch < 5; batch++) {
        const created = await Promise.all(
          Array.from({ length: 10 }, (_, i) => t.api('POST', '/api/workspaces', { name: `churn-${batch}-${i}`, command: STABLE_APP })),
        );
        for (const c of created) {
          assert.equal(c.status, 201, JSON.stringify(c.body));
          churnPorts.push(...c.body.ports.map((p: any) => p.hostPort as number));
        }
        const deleted = await Promise.all(created.map((c) => t.api('DELETE', `/api/workspaces/${c.body.id}`)));
        for (const d of deleted) assert.equal(d.status, 204);
      }
      stop = true;
      await Promise.all(loops);
      clearInterval(pinger);
      await new Promise((r) => setTimeout(r, 300));

      assert.deepEqual(failures.slice(0, 5), [], `${failures.length} failed requests on stable apps`);
      assert.ok(ok > 200, `only ${ok} requests made`);
      assert.equal(closedEarly, 0, 'a WebSocket was dropped');
      assert.equal(wsErrors, 0);
      assert.ok(echoes > 100, `only ${echoes} echoes`);
      const status = (await t.api('GET', '/api/status')).body;
      assert.equal(status.ports.used, 25, 'churned ports were not all released');
      assert.equal(status.workspaces.running, 5);
      for (const s of sockets) s.close();
      console.error(`load: ${ok} requests ok, ${echoes} echoes, ${churnPorts.length / 5} churned workspaces`);
    } finally {
      await t.stop();
    }
  });
});
