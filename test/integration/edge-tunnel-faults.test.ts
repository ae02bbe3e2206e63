// WebSocket tunnels when something goes wrong: the upstream never accepts, the status line comes
// in pieces, either side resets, the edge shuts down before the switch, and a
// client that reads slower than the upstream writes. Real sockets on loopback throughout.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { buildRouteTable } from '../../src/edge/route-table.js';
import type { RoutableWorkload } from '../../src/domain/route.js';
import { startEdge, waitFor, type EdgeHarness } from '../support/edge-harness.js';
import { bigServerFrame, rawClient, startBlackhole, startRawUpstream, SWITCH, textFrame, upgradeRequest, type RawUpstream } from '../support/raw-upstream.js';

const row = (id: string, port: number): RoutableWorkload => ({
  kind: 'workspace',
  id,
  name: `ws-${id}`,
  state: 'running',
  upstreamHost: '127.0.0.1',
  ports: [{ containerPort: 8000, hostPort: port }],
});

const headEnd = (b: Buffer): number => b.indexOf('\r\n\r\n') + 4;

describe('edge tunnels: fault paths', () => {
  let h: EdgeHarness;
  const ups: RawUpstream[] = [];

  before(async () => {
    h = await startEdge({}, { connectTimeoutMs: 300 });
  });
  after(async () => {
    await h.close();
    for (const u of ups) await u.close();
  });

  async function upstream(onConnection: Parameters<typeof startRawUpstream>[0]): Promise<RawUpstream> {
    const up = await startRawUpstream(onConnection);
    ups.push(up);
    h.edge.setRoutes(buildRouteTable(ups.map((u) => row(`t${u.port}`, u.port))));
    return up;
  }
  const path = (up: { port: number }): string => `/hosted/t${up.port}/${up.port}/`;

  it('an upstream that never accepts: the client gets 504 E_UPSTREAM_TIMEOUT after the connect timeout', async () => {
    const hole = await startBlackhole();
    try {
      h.edge.setRoutes(buildRouteTable([row(`t${hole.port}`, hole.port)]));
      const c = rawClient(h.port);
      const t0 = Date.now();
      c.socket.write(upgradeRequest(path(hole), `127.0.0.1:${h.port}`).replace('\r\n\r\n', '\r\nAccept: application/json\r\n\r\n'));
      await c.closed;
      const text = c.received().toString('latin1');
      assert.match(text, /^HTTP\/1\.1 504 /);
      assert.equal(JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)).error.code, 'E_UPSTREAM_TIMEOUT');
      assert.ok(Date.now() - t0 >= 250, 'answered by the connect timeout, not at once');
      await waitFor(() => h.edge.stats().tunnels === 0, 2_000, 'tunnel gone');
    } finally {
      hole.close();
    }
  });

  it('a status line split across reads still switches; bytes the client sent early reach the upstream only after 101', async () => {
    let receivedBeforeSwitch = -1;
    const up = await upstream((s) => {
      s.once('data', () => {
        s.write('HTTP/1.');
        setTimeout(() => {
          receivedBeforeSwitch = up.conns[0]!.received().length;
          s.write(SWITCH.slice('HTTP/1.'.length));
          s.write(textFrame('from upstream', false));
        }, 150);
      });
    });
    const c = rawClient(h.port);
    const request = upgradeRequest(path(up), `127.0.0.1:${h.port}`);
    const early = textFrame('early', true);
    c.socket.write(Buffer.concat([Buffer.from(request), early])); // the frame rides in the upgrade's `head`
    await waitFor(() => c.received().includes('from upstream'), 3_000, 'frame through the tunnel');
    assert.match(c.received().toString('latin1'), /^HTTP\/1\.1 101 /);
    const seen = up.conns[0]!.received();
    assert.equal(receivedBeforeSwitch, headEnd(seen), 'only the request head before the switch');
    await waitFor(() => up.conns[0]!.received().length === headEnd(seen) + early.length, 3_000, 'early frame relayed');
    assert.deepEqual(up.conns[0]!.received().subarray(headEnd(seen)), early);
    c.socket.destroy();
    await waitFor(() => h.edge.stats().tunnels === 0, 2_000, 'tunnel gone');
  });

  it('the upstream resets after 101: the client is cut at once (no 2 s grace) and the tunnel forgotten', async () => {
    const up = await upstream((s) => s.once('data', () => s.write(SWITCH, () => setTimeout(() => s.resetAndDestroy(), 50))));
    const c = rawClient(h.port);
    c.socket.write(upgradeRequest(path(up), `127.0.0.1:${h.port}`));
    await waitFor(() => c.received().includes('101'), 3_000, '101');
    const t0 = Date.now();
    await c.closed;
    assert.ok(Date.now() - t0 < 1_500, `client closed after ${Date.now() - t0} ms`);
    await waitFor(() => h.edge.stats().tunnels === 0, 2_000, 'tunnel gone');
  });

  it('the client resets mid-tunnel: the upstream connection is closed too', async () => {
    const up = await upstream((s) => s.once('data', () => s.write(SWITCH)));
    const c = rawClient(h.port);
    c.socket.write(upgradeRequest(path(up), `127.0.0.1:${h.port}`));
    await waitFor(() => c.received().includes('101'), 3_000, '101');
    c.socket.resetAndDestroy();
    await up.conns[0]!.closed;
    await waitFor(() => h.edge.stats().tunnels === 0, 2_000, 'tunnel gone');
  });

  it('a slow client: the upstream is paused (back-pressure) and every byte of a 16 MiB frame arrives intact', async () => {
    const frame = bigServerFrame(16 * 1024 * 1024);
    const up = await upstream((s) => s.once('data', () => s.write(SWITCH + '') && s.write(frame)));
    const c = rawClient(h.port);
    c.socket.write(upgradeRequest(path(up), `127.0.0.1:${h.port}`));
    await waitFor(() => c.received().length > 0, 3_000, 'first bytes');
    c.socket.pause();
    await new Promise((r) => setTimeout(r, 300));
    c.socket.resume();
    await waitFor(() => c.received().length >= SWITCH.length + frame.length, 10_000, 'whole frame');
    const got = c.received();
    assert.equal(got.length, SWITCH.length + frame.length);
    assert.ok(got.subarray(SWITCH.length).equals(frame), 'frame bytes unchanged');
    c.socket.destroy();
    await waitFor(() => h.edge.stats().tunnels === 0, 2_000, 'tunnel gone');
  });

  it('shutdown with a tunnel not yet switched: no close frame to wait for, both sockets cut at once', async () => {
    const edge = await startEdge({}, { drainMs: 5_000 });
    const up = await startRawUpstream(() => {}); // never answers
    try {
      edge.edge.setRoutes(buildRouteTable([row(`t${up.port}`, up.port)]));
      const c = rawClient(edge.port);
      c.socket.write(upgradeRequest(path(up), `127.0.0.1:${edge.port}`));
      await waitFor(() => up.conns.length === 1 && up.conns[0]!.received().length > 0, 3_000, 'upgrade at upstream');
      assert.equal(edge.edge.stats().tunnels, 1);
      const t0 = Date.now();
      await edge.close();
      assert.ok(Date.now() - t0 < 900, `close took ${Date.now() - t0} ms (a switched tunnel may take up to 1 s)`);
      await c.closed;
      await up.conns[0]!.closed;
      assert.equal(c.received().length, 0);
    } finally {
      await up.close();
    }
  });
});
