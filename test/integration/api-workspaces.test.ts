import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { ECHO_SERVER } from '../support/workloads.js';


async function waitFor<T>(fn: () => Promise<T | undefined>, what: string, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('workspaces API (process runtime)', () => {
  let t: TestDaemon;
  before(async () => {
    t = await startTestDaemon();
  });
  after(async () => {
    await t.stop();
  });

  it('answers health without a token and refuses every other route without one', async () => {
    const health = await t.api('GET', '/api/health', undefined, { token: null });
    assert.equal(health.status, 200);
    assert.deepEqual(Object.keys(health.body).sort(), ['runtime', 'status', 'version']);
    assert.equal(health.body.runtime, 'process');
    for (const [method, p] of [['GET', '/api/workspaces'], ['POST', '/api/workspaces'], ['GET', '/api/status'], ['DELETE', '/api/workspaces/x']]) {
      const res = await t.api(method!, p!, undefined, { token: null });
      assert.equal(res.status, 401, `${method} ${p}`);
      assert.equal(res.body.error.code, 'E_UNAUTHORIZED');
      const wrong = await t.api(method!, p!, undefined, { token: 'berth_wrong' });
      assert.equal(wrong.status, 401, `${method} ${p} with a wrong token`);
    }
  });

  it('creates a running workspace whose app is reachable at its hosted URL with the injected env', async () => {
    const res = await t.api('POST', '/api/workspaces', { name: 'echo', visibility: 'public', command: ECHO_SERVER, env: { GREETING: 'hi', BERTH_WORKSPACE_ID: 'spoofed' } });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const ws = res.body;
    assert.equal(ws.state, 'running');
    assert.equal(ws.ports.length, 5);
    const first = ws.ports[0];
    assert.equal(first.url, `${t.daemon.appsUrl}/hosted/${ws.id}/${first.hostPort}/`);
    const page = await waitFor(async () => {
      const r = await fetch(`${first.url}some/path?q=1`);
      return r.status === 200 ? ((await r.json()) as any) : undefined;
    }, 'the hosted app');
    assert.equal(page.url, '/some/path?q=1');
    assert.equal(page.env.GREETING, 'hi');
    assert.equal(page.env.BERTH_WORKSPACE_ID, ws.id, 'injected variables win over user env');
    assert.equal(page.env.PORT, String(first.containerPort));
    assert.equal(page.env.BERTH_PORT_MAPPINGS, ws.ports.map((p: any) => `${p.containerPort}:${p.hostPort}`).join(','));
    assert.equal(page.env.BERTH_HOSTING_HOSTNAME, new URL(t.daemon.appsUrl).host, 'hosted apps are linked on the apps origin');
    assert.equal(page.env.BERTH_HOSTING_PROTO, 'http');
    assert.equal(page.env.BERTH_HOSTING_BASE_PATH, '');
    assert.equal(page.headers['x-forwarded-prefix'], `/hosted/${ws.id}/${first.hostPort}`);
  });

  it('refuses bad input with 4xx and a stable error code, changing nothing', async () => {
    const before = (await t.api('GET', '/api/workspaces')).body.workspaces.length;
    const cases: [unknown, number, string][] = [
      [{ name: 'Bad Name' }, 400, 'E_INVALID_NAME'],
      [{ name: '' }, 400, 'E_INVALID_NAME'],
      [{ name: 'x'.repeat(41) }, 400, 'E_INVALID_NAME'],
      [{ name: 'ünïcode' }, 400, 'E_INVALID_NAME'],
      [{ name: 'ok', command: 'not-an-array' }, 400, 'E_BAD_REQUEST'],
      [{ name: 'ok', env: { 'BAD-KEY': 'v' } }, 400, 'E_BAD_REQUEST'],
      [{ name: 'ok', extra: true }, 400, 'E_BAD_REQUEST'],
      ['{not json', 400, 'E_BAD_REQUEST'],
      [{ name: 'echo' }, 409, 'E_NAME_TAKEN'],
    ];
    for (const [body, status, code] of cases) {
      const res = await t.api('POST', '/api/workspaces', body);
      assert.equal(res.status, status, `${JSON.stringify(body)} → ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error.code, code);
      assert.ok(res.body.error.message.length > 0);
    }
    assert.equal((await t.api('GET', '/api/workspaces')).body.workspaces.length, before);
    const missing = await t.api('GET', '/api/workspaces/nosuchthing');
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.code, 'E_NOT_FOUND');
    assert.equal((await t.api('POST', '/api/workspaces/nosuchthing/stop')).status, 404);
    assert.equal((await t.api('DELETE', '/api/workspaces/nosuchthing')).status, 404);
    assert.equal((await t.api('GET', '/api/nope')).status, 404);
  });

  it('stops and starts a workspace; the hosted URL answers 503 while stopped', async () => {
    const ws = (await t.api('GET', '/api/workspaces/echo')).body;
    const stopped = await t.api('POST', `/api/workspaces/${ws.id}/stop`);
    assert.equal(stopped.status, 200);
    assert.equal(stopped.body.state, 'stopped');
    const page = await fetch(ws.ports[0].url);
    assert.equal(page.status, 503);
    assert.match(await page.text(), /echo/);
    const started = await t.api('POST', `/api/workspaces/echo/start`);
    assert.equal(started.body.state, 'running');
    await waitFor(async () => ((await fetch(ws.ports[0].url)).status === 200 ? true : undefined), 'restarted app');
  });

  it('streams logs, and follows them', async () => {
    const logs = await t.api('GET', '/api/workspaces/echo/logs');
    assert.equal(logs.status, 200);
    assert.match(logs.body, /echo listening on/);
    const ac = new AbortController();
    const res = await fetch(`${t.daemon.url}/api/workspaces/echo/logs?follow=1`, {
      headers: { authorization: `Bearer ${t.daemon.token}` },
      signal: ac.signal,
    });
    const reader = res.body!.getReader();
    const { value } = await reader.read();
    assert.match(Buffer.from(value!).toString(), /echo listening on/);
    ac.abort();
  });

  it('reports status counts and port usage', async () => {
    const s = await t.api('GET', '/api/status');
    assert.equal(s.status, 200);
    assert.equal(s.body.runtime, 'process');
    assert.ok(s.body.workspaces.running >= 1);
    assert.equal(s.body.ports.used, 5 * (await t.api('GET', '/api/workspaces')).body.workspaces.length);
  });

  it('deletes a workspace, releasing its ports and route', async () => {
    const ws = (await t.api('GET', '/api/workspaces/echo')).body;
    const del = await t.api('DELETE', `/api/workspaces/${ws.id}`);
    assert.equal(del.status, 204);
    assert.equal((await t.api('GET', `/api/workspaces/${ws.id}`)).status, 404);
    assert.equal((await fetch(ws.ports[0].url)).status, 404);
    assert.equal((await t.api('GET', '/api/status')).body.ports.used, 0);
  });
});

describe('port allocation', () => {
  it('20 concurrent creates never share a port, and every port is released on delete', async () => {
    const t = await startTestDaemon();
    try {
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => t.api('POST', '/api/workspaces', { name: `c${i}` })),
      );
      for (const r of results) assert.equal(r.status, 201, JSON.stringify(r.body));
      const ports = results.flatMap((r) => r.body.ports.map((p: any) => p.hostPort as number));
      assert.equal(ports.length, 100);
      assert.equal(new Set(ports).size, 100, 'a host port was allocated twice');
      assert.equal((await t.api('GET', '/api/status')).body.ports.used, 100);
      const dels = await Promise.all(results.map((r) => t.api('DELETE', `/api/workspaces/${r.body.id}`)));
      for (const d of dels) assert.equal(d.status, 204);
      assert.equal((await t.api('GET', '/api/status')).body.ports.used, 0);
    } finally {
      await t.stop();
    }
  });

  it('answers 409 E_PORTS_EXHAUSTED when the range is full, leaving nothing behind', async () => {
    const t = await startTestDaemon({ portRangeStart: 31000, portRangeEnd: 31009 });
    try {
      assert.equal((await t.api('POST', '/api/workspaces', { name: 'a' })).status, 201);
      assert.equal((await t.api('POST', '/api/workspaces', { name: 'b' })).status, 201);
      const c = await t.api('POST', '/api/workspaces', { name: 'c' });
      assert.equal(c.status, 409);
      assert.equal(c.body.error.code, 'E_PORTS_EXHAUSTED');
      assert.equal((await t.api('GET', '/api/workspaces')).body.workspaces.length, 2);
    } finally {
      await t.stop();
    }
  });
});

describe('live events', () => {
  it('streams workspace changes as server-sent events', async () => {
    const t = await startTestDaemon();
    const ac = new AbortController();
    try {
      const res = await fetch(`${t.daemon.url}/api/events`, { headers: { authorization: `Bearer ${t.daemon.token}` }, signal: ac.signal });
      assert.equal(res.headers.get('content-type')?.split(';')[0], 'text/event-stream');
      const reader = res.body!.getReader();
      let text = '';
      const readUntil = async (re: RegExp) => {
        while (!re.test(text)) {
          const { value, done } = await reader.read();
          if (done) throw new Error(`stream ended before ${re}: ${text}`);
          text += Buffer.from(value).toString();
        }
      };
      const created = await t.api('POST', '/api/workspaces', { name: 'live' });
      await readUntil(/"state":"running"/);
      assert.match(text, new RegExp(`"id":"${created.body.id}"`));
      await t.api('DELETE', `/api/workspaces/${created.body.id}`);
      await readUntil(/workspace-removed/);
    } finally {
      ac.abort();
      await t.stop();
    }
  });
});

describe('metrics', () => {
  it('serves Prometheus metrics to token holders only: requests by kind and status, workloads, WebSockets, reconciles', async () => {
    const t = await startTestDaemon();
    try {
      assert.equal((await fetch(`${t.daemon.url}/metrics`)).status, 401);
      const ws = (await t.api('POST', '/api/workspaces', { name: 'm', visibility: 'public', command: ECHO_SERVER })).body;
      for (let i = 0; i < 50 && (await fetch(ws.ports[0].url).then((r) => r.status, () => 0)) !== 200; i++) await new Promise((r) => setTimeout(r, 100));
      await fetch(`${t.daemon.appsUrl}/hosted/${ws.id}/1/`);
      await t.daemon.reconcile();
      const text = await fetch(`${t.daemon.url}/metrics`, { headers: { authorization: `Bearer ${t.daemon.token}` } }).then((r) => r.text());
      assert.match(text, /^berth_http_requests_total\{kind="workspace",status="200"\} [1-9]\d*$/m);
      assert.match(text, /^berth_http_requests_total\{kind="refused",status="404"\} [1-9]\d*$/m);
      assert.match(text, /^berth_http_requests_total\{kind="api",status="201"\} 1$/m);
      assert.match(text, /^berth_http_request_duration_seconds_count\{kind="workspace"\} \d+$/m);
      assert.match(text, /^berth_workloads\{kind="workspace",state="running"\} 1$/m);
      assert.match(text, /^berth_websockets_active 0$/m);
      assert.match(text, /^berth_reconcile_passes_total [1-9]\d*$/m);
    } finally {
      await t.stop();
    }
  });
});
