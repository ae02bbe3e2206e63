// Edge WebSocket tunnels end with close frames, never a cut connection: on shutdown and when the
// route goes away, the client gets 1001 and the upstream gets a masked 1001, each written between
// two frames (a frame in flight is finished first).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createHash } from 'node:crypto';
import { createServer, type Socket } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { buildRouteTable } from '../../src/edge/route-table.js';
import { FrameCursor } from '../../src/edge/ws-frames.js';
import type { RoutableWorkload } from '../../src/domain/route.js';
import { startEdge, startUpstream } from '../support/edge-harness.js';

function row(id: string, port: number): RoutableWorkload {
  return { kind: 'workspace', id, name: id, state: 'running', upstreamHost: '127.0.0.1', ports: [{ containerPort: 8000, hostPort: port }] };
}

async function openWs(url: string): Promise<WebSocket> {
  const ws = new WebSocket(url);
  await once(ws, 'open');
  return ws;
}

/** Upstream `ws` server recording the close code each connection received. */
async function closeRecordingUpstream() {
  const up = await startUpstream();
  const codes: number[] = [];
  const wss = new WebSocketServer({ server: up.server });
  wss.on('connection', (ws) => {
    ws.on('message', (d, bin) => ws.send(d, { binary: bin }));
    ws.on('close', (code) => codes.push(code));
  });
  return { port: up.port, codes, close: async () => (wss.close(), up.close()) };
}

/** A raw upstream that accepts the upgrade and gives the test the socket, to send frames by hand. */
async function rawWsUpstream(): Promise<{ port: number; socket: Promise<Socket>; received: Buffer[]; close: () => Promise<void> }> {
  const server = createServer();
  const received: Buffer[] = [];
  const socket = new Promise<Socket>((resolve) => {
    server.on('connection', (s) => {
      let head = '';
      const onData = (d: Buffer): void => {
        head += d.toString('latin1');
        const end = head.indexOf('\r\n\r\n');
        if (end === -1) return;
        s.off('data', onData);
        s.on('data', (more: Buffer) => received.push(more));
        const key = /sec-websocket-key: (\S+)/i.exec(head)![1]!;
        const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
        s.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
        resolve(s);
      };
      s.on('data', onData);
      s.on('error', () => {});
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  return { port, socket, received, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe('edge WebSocket close frames', () => {
  it('on shutdown: client gets 1001, upstream gets a masked 1001, and the edge exits promptly', async () => {
    const up = await closeRecordingUpstream();
    const h = await startEdge({}, { drainMs: 5_000 });
    try {
      h.edge.setRoutes(buildRouteTable([row('ws1', up.port)]));
      const clients = await Promise.all([1, 2, 3].map(() => openWs(`ws://127.0.0.1:${h.port}/hosted/ws1/${up.port}/`)));
      const closes = clients.map((c) => once(c, 'close') as Promise<[number, Buffer]>);
      const t0 = Date.now();
      await h.close();
      const elapsed = Date.now() - t0;
      for (const [code, reason] of await Promise.all(closes)) {
        assert.equal(code, 1001);
        assert.equal(reason.toString(), 'Berth is shutting down');
      }
      const until = Date.now() + 2_000;
      while (up.codes.length < 3 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(up.codes, [1001, 1001, 1001], 'the upstream saw a proper close, not 1006');
      assert.ok(elapsed < 2_500, `shutdown waited ${elapsed} ms; WebSockets must not hold the drain period`);
    } finally {
      await up.close();
    }
  });

  it('a frame in flight is finished before the close frame (no frame is cut in half)', async () => {
    const up = await rawWsUpstream();
    const h = await startEdge({}, { drainMs: 5_000 });
    try {
      h.edge.setRoutes(buildRouteTable([row('ws2', up.port)]));
      const client = await openWs(`ws://127.0.0.1:${h.port}/hosted/ws2/${up.port}/`);
      const messages: Buffer[] = [];
      client.on('message', (d: Buffer) => messages.push(d));
      const closed = once(client, 'close') as Promise<[number, Buffer]>;
      const socket = await up.socket;
      // A 100 000-byte binary frame: header (127 → 64-bit length) and the first half now…
      const payload = Buffer.alloc(100_000, 7);
      const header = Buffer.alloc(10);
      header[0] = 0x82;
      header[1] = 127;
      header.writeBigUInt64BE(BigInt(payload.length), 2);
      socket.write(Buffer.concat([header, payload.subarray(0, 50_000)]));
      await new Promise((r) => setTimeout(r, 100));
      const closing = h.close();
      // …the second half after the edge decided to go away.
      await new Promise((r) => setTimeout(r, 100));
      socket.write(payload.subarray(50_000));
      const [code] = await closed;
      await closing;
      assert.equal(messages.length, 1, 'the message in flight arrived whole');
      assert.equal(messages[0]!.length, payload.length);
      assert.equal(code, 1001);
      // What the upstream received after the handshake: exactly one masked close frame with 1001.
      const bytes = Buffer.concat(up.received);
      assert.equal(bytes[0], 0x88, 'a close frame');
      assert.ok((bytes[1]! & 0x80) !== 0, 'masked, as a client must');
      const len = bytes[1]! & 0x7f;
      const mask = bytes.subarray(2, 6);
      const body = Buffer.from(bytes.subarray(6, 6 + len).map((b, i) => b ^ mask[i & 3]!));
      assert.equal(body.readUInt16BE(0), 1001);
      assert.equal(bytes.length, 6 + len, 'nothing after the close frame');
      const cursor = new FrameCursor();
      assert.equal(cursor.advance(bytes), bytes.length);
      assert.ok(cursor.atBoundary);
    } finally {
      await up.close();
    }
  });

  it('when its route goes away the client gets 1001 "route changed"', async () => {
    const up = await closeRecordingUpstream();
    const other = await startUpstream();
    const h = await startEdge();
    try {
      h.edge.setRoutes(buildRouteTable([row('ws3', up.port)]));
      const client = await openWs(`ws://127.0.0.1:${h.port}/hosted/ws3/${up.port}/`);
      const closed = once(client, 'close') as Promise<[number, Buffer]>;
      h.edge.setRoutes(buildRouteTable([row('ws4', other.port)]));
      const [code, reason] = await closed;
      assert.equal(code, 1001);
      assert.equal(reason.toString(), 'route changed');
    } finally {
      await h.close();
      await up.close();
      await other.close();
    }
  });
});
