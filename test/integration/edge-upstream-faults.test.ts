// Proxied HTTP requests when the upstream is slow or goes away (connect timeout, a slow reader of a
// large body, a reset mid-body, a pool closed with requests waiting, a client that leaves), and the
// edge's own answers that need odd input (a Host header in capitals, workloads not running, an LLM
// access hook that throws, an upgrade with no WebSocket fallback). Real sockets on loopback.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import { loadConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/log.js';
import { createEdge } from '../../src/edge/server.js';
import { buildRouteTable } from '../../src/edge/route-table.js';
import type { RoutableWorkload } from '../../src/domain/route.js';
import { get, rawRequest, startEdge, startUpstream, waitFor, type EdgeHarness, type TestUpstream } from '../support/edge-harness.js';
import { startBlackhole } from '../support/raw-upstream.js';

const row = (id: string, port: number, state: RoutableWorkload['state'] = 'running'): RoutableWorkload => ({
  kind: 'workspace',
  id,
  name: `ws-${id}`,
  state,
  upstreamHost: '127.0.0.1',
  ports: [{ containerPort: 8000, hostPort: port }],
});
const path = (port: number, rest = ''): string => `/hosted/w${port}/${port}/${rest}`;

/** POSTs `body` through the edge (chunked unless `length`), resolving status and response text. */
function post(port: number, target: string, body: Buffer, length: boolean): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: target, method: 'POST', agent: false, headers: length ? { 'content-length': body.length } : {} }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    // Several writes, so the edge sees many chunks and has to honour back-pressure between them.
    for (let i = 0; i < body.length; i += 1 << 20) req.write(body.subarray(i, i + (1 << 20)));
    req.end();
  });
}

describe('edge upstream exchanges: fault paths', () => {
  let h: EdgeHarness;
  let up: TestUpstream;
  let release: () => void = () => {};

  before(async () => {
    up = await startUpstream((req, res) => {
      if (req.url?.endsWith('/hold')) {
        release = () => res.end('held');
        return;
      }
      if (req.url?.endsWith('/slow-reader')) {
        // Read nothing for a while: the edge's socket buffer fills and its writes return false.
        req.pause();
        const hash = createHash('sha256');
        let n = 0;
        setTimeout(() => {
          req.on('data', (c: Buffer) => {
            hash.update(c);
            n += c.length;
          });
          req.on('end', () => res.end(JSON.stringify({ n, sha: hash.digest('hex') })));
          req.resume();
        }, 300);
        return;
      }
      if (req.url?.endsWith('/reset')) return void req.socket.resetAndDestroy();
      if (req.url?.endsWith('/stream')) {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('first|');
        return; // never ends: the client leaves
      }
      res.end('ok');
    });
    h = await startEdge({}, { connectTimeoutMs: 300, connectionsPerUpstream: 1 });
    h.edge.setRoutes(buildRouteTable([row(`w${up.port}`, up.port)]));
  });
  after(async () => {
    release();
    await h.close();
    await up.close();
  });

  it('an upstream that never accepts: 504 E_UPSTREAM_TIMEOUT after the connect timeout', async () => {
    const hole = await startBlackhole();
    try {
      h.edge.setRoutes(buildRouteTable([row(`w${up.port}`, up.port), row(`w${hole.port}`, hole.port)]));
      const t0 = Date.now();
      const res = await get(h.port, path(hole.port), { Accept: 'application/json' });
      assert.equal(res.status, 504);
      assert.equal(JSON.parse(res.body).error.code, 'E_UPSTREAM_TIMEOUT');
      assert.ok(Date.now() - t0 >= 250, 'answered by the connect timeout');
    } finally {
      hole.close();
      h.edge.setRoutes(buildRouteTable([row(`w${up.port}`, up.port)]));
    }
  });

  for (const length of [true, false]) {
    it(`a 24 MiB ${length ? 'Content-Length' : 'chunked'} body to a slow reader arrives whole (back-pressure, drain)`, async () => {
      const body = Buffer.alloc(24 << 20);
      for (let i = 0; i < body.length; i += 4096) body.writeUInt32BE(i, i);
      const res = await post(h.port, path(up.port, 'slow-reader'), body, length);
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(JSON.parse(res.text), { n: body.length, sha: createHash('sha256').update(body).digest('hex') });
    });
  }

  it('the upstream resets while the body is still coming: 502, and the rest of the body goes nowhere', async () => {
    const before = up.requests.length;
    const res = await post(h.port, path(up.port, 'reset'), Buffer.alloc(8 << 20, 1), true).catch(() => ({ status: 0, text: '' }));
    // The edge may answer 502 before the client finished sending; a client that gets cut sees 0.
    assert.ok(res.status === 502 || res.status === 0, `status ${res.status}`);
    if (res.status === 502) assert.match(res.text, /not reachable|did not answer/);
    assert.equal(up.requests.length, before + 1, 'no retry of a request with a body');
    assert.equal((await get(h.port, path(up.port))).body, 'ok', 'the route still serves');
  });

  it('a pool closed with a request waiting for a connection: 502 for the waiter, which is never sent; the busy one finishes', async () => {
    const before = up.requests.length;
    const held = get(h.port, path(up.port, 'hold'));
    await waitFor(() => up.requests.length === before + 1, 3_000, 'held request at upstream');
    const waiting = get(h.port, path(up.port, 'waiting'), { Accept: 'application/json' });
    await new Promise((r) => setTimeout(r, 100)); // it is queued behind the one connection
    h.edge.setRoutes(buildRouteTable([])); // the route goes away: its pool closes
    const refused = await waiting;
    assert.equal(refused.status, 502);
    assert.equal(JSON.parse(refused.body).error.code, 'E_UPSTREAM_UNREACHABLE');
    assert.match(JSON.parse(refused.body).error.message, /ECONNREFUSED/);
    release();
    assert.equal((await held).body, 'held');
    assert.equal(up.requests.length, before + 1, 'the waiting request never reached the upstream');
    h.edge.setRoutes(buildRouteTable([row(`w${up.port}`, up.port)]));
  });

  it('a client that leaves mid-upload: the upstream request is cut, the rest of the body never sent', async () => {
    const seen = new Promise<{ closed: Promise<void>; bytes: () => number }>((resolve) =>
      up.server.once('request', (req: http.IncomingMessage) => {
        let n = 0;
        req.on('data', (c: Buffer) => (n += c.length));
        resolve({ closed: new Promise((r) => req.socket.once('close', () => r())), bytes: () => n });
      }),
    );
    const req = http.request({ host: '127.0.0.1', port: h.port, path: path(up.port, 'stream'), method: 'POST', agent: false, headers: { 'content-length': 1 << 20 } });
    req.on('error', () => {});
    req.write(Buffer.alloc(1000, 2));
    await new Promise<void>((resolve) => req.once('response', (res) => res.once('data', () => resolve())));
    req.destroy();
    const at = await seen;
    await at.closed;
    assert.ok(at.bytes() <= 1000, `upstream got ${at.bytes()} bytes`);
  });

  it('a client that leaves mid-response: the upstream request is cut (its socket closes)', async () => {
    const closed = new Promise<void>((resolve) => up.server.once('request', (req: http.IncomingMessage) => req.socket.once('close', () => resolve())));
    await new Promise<void>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port: h.port, path: path(up.port, 'stream'), agent: false }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', () => {});
      req.setTimeout(3_000, () => reject(new Error('no first chunk')));
    });
    await closed;
  });
});

describe('edge answers needing odd input', () => {
  let h: EdgeHarness;
  before(async () => {
    h = await startEdge({ appsDomain: 'apps.test', llmBaseUrl: 'http://127.0.0.1:9/v1' }, {}, {
      llmAccess: () => {
        throw new Error('store down');
      },
    });
  });
  after(() => h.close());

  it('a Host header spelled HOST still selects the host route (never falls through to the API)', async () => {
    const up = await startUpstream();
    try {
      h.edge.setRoutes(buildRouteTable([row('abc', up.port)], { appsDomain: 'apps.test' }));
      const res = await rawRequest(h.port, `GET /x HTTP/1.1\r\nHOST: ${up.port}--abc.apps.test\r\nConnection: close\r\n\r\n`);
      assert.equal(res.status, 200);
      assert.equal(res.headers['x-upstream'], 'yes');
      assert.equal(up.requests[0]?.url, '/x');
      assert.equal(h.fallbackRequests.length, 0);
    } finally {
      await up.close();
    }
  });

  for (const [state, wording] of [
    ['creating', /is still being created; try again in a moment\./],
    ['failed', /failed; check its status and logs, then start it again\./],
    ['deleting', /is being deleted\./],
  ] as const) {
    it(`a ${state} workload: 503 E_WORKLOAD_UNAVAILABLE saying so, with Retry-After`, async () => {
      h.edge.setRoutes(buildRouteTable([row('st', 4000, state)]));
      const res = await get(h.port, '/hosted/st/4000/', { Accept: 'application/json' });
      assert.equal(res.status, 503);
      assert.equal(res.headers['retry-after'], '5');
      const error = JSON.parse(res.body).error;
      assert.equal(error.code, 'E_WORKLOAD_UNAVAILABLE');
      assert.match(error.message, new RegExp(`^The workspace "ws-st" ${wording.source}$`));
    });
  }

  it('an LLM access hook that throws refuses (401 with a Bearer challenge), it does not forward', async () => {
    const res = await get(h.port, '/llm/chat/completions', { Authorization: 'Bearer whatever' });
    assert.equal(res.status, 401);
    assert.equal(res.headers['www-authenticate'], 'Bearer');
    assert.equal(JSON.parse(res.body).error.code, 'E_UNAUTHORIZED');
  });

  it('a fallback that throws after its answer began: cut when only the head is out, left alone when it ended', async () => {
    const edge = createEdge({
      config: loadConfig({}, { port: 0, host: '127.0.0.1' }),
      log: silentLogger(),
      fallback: (req, res) => {
        if (req.url === '/ended') res.end('done');
        else {
          res.writeHead(200, { 'content-length': '10' });
          res.write('abc');
        }
        throw new Error('after the answer began');
      },
      fallbackUpgrade: (_req, socket) => {
        socket.write('HTTP/1.1 101 Switching Protocols\r\n');
        throw new Error('mid-handshake');
      },
      limits: { drainMs: 100 },
    });
    const port = (await edge.listen(0, '127.0.0.1')).port;
    try {
      const cut = await get(port, '/head-out');
      // The connection is cut: the client sees nothing or a 200 short of its Content-Length, never a 500 glued on.
      assert.ok(cut.status === 0 || (cut.status === 200 && cut.body.length < 10), `got ${cut.status} ${JSON.stringify(cut.body)}`);
      assert.doesNotMatch(cut.body, /E_INTERNAL|500/);
      const ended = await get(port, '/ended');
      assert.equal(ended.status, 200);
      assert.equal(ended.body, 'done');
      const upgrade = await rawRequest(port, 'GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
      assert.equal(upgrade.status, 101, 'the bytes already written stay as they are');
      assert.doesNotMatch(upgrade.body, /500/, 'no error page after a started handshake: the socket is just closed');
      assert.equal((await get(port, '/ended')).body, 'done', 'still serving');
    } finally {
      await edge.close();
    }
  });

  it('an upgrade to the API side with no WebSocket fallback: 404 "No WebSocket endpoint here."', async () => {
    const edge = createEdge({ config: loadConfig({}, { port: 0, host: '127.0.0.1' }), log: silentLogger(), fallback: (_req, res) => void res.end('api'), limits: { drainMs: 100 } });
    const port = (await edge.listen(0, '127.0.0.1')).port;
    try {
      const res = await rawRequest(port, 'GET /api/events HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nAccept: application/json\r\n\r\n');
      assert.equal(res.status, 404);
      const error = JSON.parse(res.body).error;
      assert.equal(error.code, 'E_NOT_FOUND');
      assert.equal(error.message, 'No WebSocket endpoint here.');
    } finally {
      await edge.close();
    }
  });
});
