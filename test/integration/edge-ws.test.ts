// Edge conformance suite, WebSocket part: upgrade tunnels through path and subdomain routes,
// refusals without a dial, and tunnels surviving route-table swaps that do not concern them.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import WebSocket from 'ws';
import type { RoutableWorkload } from '../../src/domain/route.js';
import { buildRouteTable } from '../../src/edge/route-table.js';
import { createServer, type AddressInfo } from 'node:net';
import { freePort, rawRequest, startEdge, startWsEcho, waitFor, type EdgeHarness, type WsUpstream } from '../support/edge-harness.js';

function row(id: string, name: string, ports: number[], state: RoutableWorkload['state'] = 'running'): RoutableWorkload {
  return { kind: 'workspace', id, name, state, upstreamHost: '127.0.0.1', ports: ports.map((hostPort, i) => ({ containerPort: 8000 + i, hostPort })) };
}

/** Opens a WebSocket and resolves once open; rejects with the HTTP status if refused. */
async function open(url: string, headers: Record<string, string> = {}): Promise<WebSocket> {
  const ws = new WebSocket(url, { headers });
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode })));
    ws.once('error', reject);
  });
}

async function echo(ws: WebSocket, msg: string | Buffer): Promise<string | Buffer> {
  ws.send(msg);
  const [data, isBinary] = (await once(ws, 'message')) as [Buffer, boolean];
  return isBinary ? data : data.toString();
}

async function refusedStatus(url: string, headers: Record<string, string> = {}): Promise<number> {
  try {
    const ws = await open(url, headers);
    ws.terminate();
    return 101;
  } catch (err) {
    return (err as { status?: number }).status ?? -1;
  }
}

describe('edge (WebSocket)', () => {
  let h: EdgeHarness;
  let alpha: WsUpstream;
  let zed: WsUpstream;
  let other: WsUpstream;
  let refusedPort: number;
  const rows = () => [row('abc', 'alpha', [alpha.port]), row('zed', 'zeta', [zed.port]), row('dead', 'ghost', [refusedPort]), row('off', 'sleepy', [other.port], 'stopped')];

  before(async () => {
    alpha = await startWsEcho();
    zed = await startWsEcho();
    other = await startWsEcho();
    refusedPort = await freePort();
    h = await startEdge({ appsDomain: 'apps.test' });
    h.edge.setRoutes(buildRouteTable(rows(), { appsDomain: 'apps.test' }));
  });

  after(async () => {
    await h.close();
    for (const u of [alpha, zed, other]) await u.close();
  });

  it('echoes through a path route, prefix stripped, Berth credentials removed', async () => {
    const ws = await open(`ws://127.0.0.1:${h.port}/hosted/abc/${alpha.port}/echo?x=1`, {
      Cookie: 'berth_session=s; app=1',
      Authorization: 'Bearer berth_tok',
      'X-Forwarded-For': '6.6.6.6',
    });
    assert.equal(await echo(ws, 'hello'), 'hello');
    const big = Buffer.alloc(512 * 1024, 7);
    assert.deepEqual(await echo(ws, big), big);
    const seen = alpha.upgrades.at(-1)!;
    assert.equal(seen.url, '/echo?x=1');
    assert.equal(seen.headers.cookie, 'app=1');
    assert.equal(seen.headers.authorization, undefined);
    assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1');
    assert.equal(seen.headers['x-forwarded-prefix'], `/hosted/abc/${alpha.port}`);
    ws.close();
  });

  it('echoes through a subdomain route with the path untouched', async () => {
    const ws = await open(`ws://127.0.0.1:${h.port}/some/socket`, { Host: `${alpha.port}--abc.apps.test` });
    assert.equal(await echo(ws, 'sub'), 'sub');
    assert.equal(alpha.upgrades.at(-1)!.url, '/some/socket');
    ws.close();
  });

  it('refuses upgrades to foreign, unknown or malformed targets with 404 and no dial', async () => {
    const before = `${zed.connections}/${other.connections}`;
    for (const path of [`/hosted/abc/${zed.port}/`, `/hosted/abc/${other.port}/`, `/hosted/nobody/${zed.port}/`, `/hosted/abc/${alpha.port}/%2e%2e/`, `/hosted/abc/${alpha.port}`]) {
      assert.equal(await refusedStatus(`ws://127.0.0.1:${h.port}${path}`), 404, path);
    }
    assert.equal(await refusedStatus(`ws://127.0.0.1:${h.port}/`, { Host: `${zed.port}--abc.apps.test` }), 404);
    assert.equal(`${zed.connections}/${other.connections}`, before);
  });

  it('answers 503 for a stopped workload and 502 for a refused upstream', async () => {
    assert.equal(await refusedStatus(`ws://127.0.0.1:${h.port}/hosted/off/${other.port}/`), 503);
    assert.equal(await refusedStatus(`ws://127.0.0.1:${h.port}/hosted/dead/${refusedPort}/`), 502);
  });

  it('does not pass client bytes upstream unless the upstream switched protocols', async () => {
    let received = '';
    const plain = createServer((sock) => {
      sock.on('data', (d) => {
        received += d.toString('latin1');
        if (received.includes('\r\n\r\n')) sock.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nno');
      });
    });
    await new Promise<void>((r) => plain.listen(0, '127.0.0.1', () => r()));
    const port = (plain.address() as AddressInfo).port;
    h.edge.setRoutes(buildRouteTable([...rows(), row('pln', 'plain', [port])], { appsDomain: 'apps.test' }));
    try {
      const smuggle = `GET /hosted/pln/${port}/ HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\nGET /../../admin HTTP/1.1\r\nHost: x\r\n\r\n`;
      const res = await rawRequest(h.port, smuggle);
      assert.equal(res.status, 200);
      assert.equal(res.body, 'no');
      assert.ok(!received.includes('admin'), received);
    } finally {
      h.edge.setRoutes(buildRouteTable(rows(), { appsDomain: 'apps.test' }));
      await new Promise<void>((r) => plain.close(() => r()));
    }
  });

  // Only the hand-over is tested here: what the daemon's exec handler does with it (who may open
  // a shell) runs through the daemon in exec-socket.test.ts.
  it('hands upgrades that match no route to the fallback, target untouched', async () => {
    assert.equal(await refusedStatus(`ws://127.0.0.1:${h.port}/not/a/route?x=1`), 418);
    assert.deepEqual(h.fallbackUpgrades.at(-1), '/not/a/route?x=1');
  });

  it('keeps a WebSocket open across a swap that does not touch its route, closes one whose route went away', async () => {
    const kept = await open(`ws://127.0.0.1:${h.port}/hosted/abc/${alpha.port}/`);
    const dropped = await open(`ws://127.0.0.1:${h.port}/hosted/zed/${zed.port}/`);
    assert.equal(await echo(dropped, 'z'), 'z');
    const droppedClosed = once(dropped, 'close');
    const fresh = await startWsEcho();
    try {
      // Twice: a new workload appears and zed disappears; then an unrelated state change.
      h.edge.setRoutes(buildRouteTable([row('abc', 'alpha', [alpha.port]), row('new', 'newbie', [fresh.port])], { appsDomain: 'apps.test' }));
      h.edge.setRoutes(buildRouteTable([row('abc', 'alpha', [alpha.port]), row('new', 'newbie', [fresh.port], 'stopped')], { appsDomain: 'apps.test' }));
      await droppedClosed;
      assert.equal(kept.readyState, WebSocket.OPEN);
      assert.equal(await echo(kept, 'still here'), 'still here');
      assert.equal(await refusedStatus(`ws://127.0.0.1:${h.port}/hosted/zed/${zed.port}/`), 404);
      kept.close();
      await waitFor(() => h.edge.stats().tunnels === 0, 2_000, 'tunnels to close');
    } finally {
      h.edge.setRoutes(buildRouteTable(rows(), { appsDomain: 'apps.test' }));
      await fresh.close();
    }
  });

  it('closing the upstream closes the client, and the other way round', async () => {
    const a = await open(`ws://127.0.0.1:${h.port}/hosted/abc/${alpha.port}/`);
    const closed = once(a, 'close');
    await waitFor(() => alpha.upgrades.length > 0);
    a.terminate();
    await closed;
    await waitFor(() => h.edge.stats().tunnels === 0, 2_000, 'tunnel cleanup after client close');

    const b = await open(`ws://127.0.0.1:${h.port}/hosted/zed/${zed.port}/`);
    const bClosed = once(b, 'close');
    await zed.close(); // kills the server side of every socket
    await bClosed;
    await waitFor(() => h.edge.stats().tunnels === 0, 2_000, 'tunnel cleanup after upstream close');
    zed = await startWsEcho();
    h.edge.setRoutes(buildRouteTable(rows(), { appsDomain: 'apps.test' }));
  });
});
