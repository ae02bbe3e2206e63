// Crash-proof entry points, the class and not the case: whatever a hook or handler throws, the edge
// answers that one request 500 (or closes that one socket) with a request id, and keeps serving.
// Without the guards each throw below escapes Node's `request`/`upgrade` emit as an uncaught
// exception (the daemon exits; under node:test the request just hangs).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/log.js';
import { createEdge } from '../../src/edge/server.js';
import type { Edge } from '../../src/edge/edge-contract.js';
import { buildRouteTable } from '../../src/edge/route-table.js';
import { get, rawRequest, startUpstream, type TestUpstream } from '../support/edge-harness.js';

const boom = (): never => {
  throw new Error('boom');
};

describe('edge entry points are guarded', () => {
  let edge: Edge;
  let port: number;
  let up: TestUpstream;
  let responses = 0;

  before(async () => {
    up = await startUpstream();
    edge = createEdge({
      config: loadConfig({}, { port: 0, host: '127.0.0.1', appsDomain: 'apps.test' }),
      log: silentLogger(),
      fallback: (req, res) => {
        if (req.url === '/api/health') return void res.end('ok');
        if (req.url === '/async') return Promise.reject(new Error('async boom'));
        boom();
      },
      fallbackUpgrade: boom,
      authorize: boom,
      redeemHandoff: boom,
      onResponse: () => {
        responses++;
        boom();
      },
      limits: { drainMs: 100 },
    });
    const access = { visibility: 'private' as const, ownerId: 'u1', dashboardUrl: 'http://berth.test' };
    edge.setRoutes(
      buildRouteTable(
        [{ kind: 'workspace', id: 'abc', name: 'alpha', state: 'running', upstreamHost: '127.0.0.1', ports: [{ containerPort: 8000, hostPort: up.port }], access }],
        { appsDomain: 'apps.test' },
      ),
    );
    port = (await edge.listen(0, '127.0.0.1')).port;
  });
  after(async () => {
    await edge.close();
    await up.close();
  });

  it('a throwing fallback (sync or async) answers 500 with a request id', async () => {
    const sync = await get(port, '/boom', { 'X-Request-Id': 'trace-1', Accept: 'application/json' });
    assert.equal(sync.status, 500);
    assert.equal(sync.headers['x-request-id'], 'trace-1');
    assert.equal(JSON.parse(sync.body).error.code, 'E_INTERNAL');
    assert.match(sync.body, /trace-1/);
    const async = await get(port, '/async', { 'X-Request-Id': 'bad id with spaces' });
    assert.equal(async.status, 500);
    assert.match(async.headers['x-request-id'] ?? '', /^[0-9a-f-]{36}$/, 'an unsafe given id is replaced by a UUID');
  });

  it('a throwing authorize hook answers 500 on HTTP and never dials the private upstream', async () => {
    const res = await get(port, `/hosted/abc/${up.port}/`);
    assert.equal(res.status, 500);
    assert.equal(up.connections, 0);
  });

  it('a throwing hand-off hook answers 500', async () => {
    const res = await get(port, '/__berth/handoff?ticket=x&next=/', { Host: `${up.port}--abc.apps.test` });
    assert.equal(res.status, 500);
  });

  it('throwing upgrade hooks (authorize, fallbackUpgrade) answer HTTP/1.1 500 and close that socket only', async () => {
    const upgrade = (target: string) => rawRequest(port, `GET ${target} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n`);
    assert.equal((await upgrade(`/hosted/abc/${up.port}/`)).status, 500);
    assert.equal((await upgrade('/api/workspaces/x/exec')).status, 500);
    assert.equal(up.connections, 0);
  });

  it('keeps serving after all of the above, and counted every response despite the throwing hook', async () => {
    const health = await get(port, '/api/health');
    assert.equal(health.status, 200);
    assert.ok(responses >= 5, `onResponse ran ${responses} times`);
  });
});

// The guards log before they answer. A logger with a synchronous destination throws when the log
// cannot be written (pino + `/dev/full`: ENOSPC from write(2)), so the guard's own last resort
// runs: that one request or socket is cut, never answered half-way, and the edge keeps serving.
describe('edge entry points when the log cannot be written (disk full)', () => {
  let edge: Edge;
  let port: number;

  before(async () => {
    edge = createEdge({
      config: loadConfig({}, { port: 0, host: '127.0.0.1' }),
      log: pino({ level: 'debug' }, pino.destination({ dest: '/dev/full', sync: true })),
      fallback: (req, res) => {
        if (req.url === '/ok') return void res.end('ok');
        boom();
      },
      fallbackUpgrade: boom,
      limits: { drainMs: 100 },
    });
    port = (await edge.listen(0, '127.0.0.1')).port;
  });
  after(async () => {
    await edge.close();
  });

  it('the logger really throws here (or the cases below would test nothing)', () => {
    const log = pino({}, pino.destination({ dest: '/dev/full', sync: true }));
    assert.throws(() => log.error('x'), /ENOSPC/);
  });

  it('a throwing request handler: the connection is cut without an answer; the next request is served', async () => {
    assert.equal((await get(port, '/boom')).status, 0);
    assert.equal((await get(port, '/ok')).status, 200);
  });

  it('a throwing upgrade handler: that socket is closed without an answer', async () => {
    const res = await rawRequest(port, 'GET /api/workspaces/x/exec HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    assert.equal(res.status, 0);
    assert.equal((await get(port, '/ok')).status, 200);
  });

  it('malformed HTTP: the socket is closed instead of answering 400', async () => {
    assert.equal((await rawRequest(port, 'NOT HTTP AT ALL\r\n\r\n')).status, 0);
    assert.equal((await get(port, '/ok')).status, 200);
  });
});
