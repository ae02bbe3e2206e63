// Property-based fuzzing of the API in-process through Hono (`app.request()`): every route the
// daemon registers (enumerated from `daemon.api.routes`, so a new route is fuzzed without editing
// this file) gets garbage path parameters, query strings, content types and bodies (broken JSON,
// wrong types, deep nesting, huge strings), with and without credentials. No answer may be a 500:
// client input must come back as a 4xx with a stable code, never as a throw.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import fc from 'fast-check';
import { startTestDaemon, type TestDaemon } from '../support/daemon.js';

const CASES = Number(process.env.BERTH_FUZZ_API_CASES ?? 2_000);

/** Starts real database servers (PostgreSQL, Redis) on this host: not for a fuzzer holding the admin token. */
const NOT_WITH_ADMIN = new Set(['POST /api/infra/up', 'POST /api/infra/down']);

interface HonoLike {
  request(input: string, init: RequestInit, env: unknown): Response | Promise<Response>;
}

/** A request body: JSON-shaped garbage aimed at the schemas' fields, or no JSON at all. */
const FIELDS = ['name', 'image', 'env', 'visibility', 'restart', 'username', 'password', 'role', 'scopes', 'token', 'repo', 'ref', 'settings', 'app', 'label', 'ports', 'expiresInDays', '__proto__', 'constructor'];
const body = fc.oneof(
  { weight: 3, arbitrary: fc.dictionary(fc.constantFrom(...FIELDS), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 5 }).map((o) => JSON.stringify(o)) },
  { weight: 2, arbitrary: fc.json({ maxDepth: 4 }) },
  { weight: 1, arbitrary: fc.constantFrom('{', '{"name":', 'null', '[]', '""', '1e999', '{"name":"\\ud800"}', '\u0000', '{"a":' + '['.repeat(5000)) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 300 }) },
  { weight: 1, arbitrary: fc.constant('') },
);
/** The workspace made in `before`, so that parameters and hand-off targets also name real things. */
const real = { id: 'nope', port: 0 };
const param = fc.oneof(fc.constant('real').map(() => real.id), fc.constantFrom('nope', '%zz', '%', '..', '%2e%2e', '%00', 'a'.repeat(3000), '-1', '0', '1e3', '%E0%A4%A', "';--", 'admin'), fc.string({ maxLength: 20 }).map(encodeURIComponent));
const query = fc.oneof(fc.constant(''), { weight: 2, arbitrary: fc.constant('real').map(() => `?to=${encodeURIComponent(`http://${real.port}--${real.id}.apps.test/x?y=%zz`)}`) }, fc.constantFrom('?to=%zz', '?to=http://[', '?to=javascript:alert(1)', '?tail=-1', '?tail=1e9', '?lines=%zz', '?follow=1&tail=x'), fc.string({ maxLength: 30 }).map((s) => '?' + s));
const contentType = fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', '', 'application/json; charset=bogus');
const credential = fc.constantFrom('admin', 'admin', 'none', 'garbage');

describe('API fuzz (in-process, every route)', () => {
  let t: TestDaemon;
  let app: HonoLike;
  let routes: { method: string; path: string }[];

  before(async () => {
    t = await startTestDaemon({ appsDomain: 'apps.test' });
    const ws = await t.api('POST', '/api/workspaces', { name: 'target', command: [process.execPath, '-e', 'setInterval(() => {}, 1 << 30)'] });
    assert.equal(ws.status, 201, JSON.stringify(ws.body));
    Object.assign(real, { id: ws.body.id, port: ws.body.ports[0].hostPort });
    app = t.daemon.api as unknown as HonoLike;
    routes = t.daemon.api.routes.filter((r) => r.method !== 'ALL');
  });
  after(async () => {
    await t.stop();
  });

  it(`answers ${CASES} garbage requests over every route without a 500`, async (ctx) => {
    assert.ok(routes.length >= 30, `only ${routes.length} routes enumerated`);
    const statuses = new Map<number, number>();
    const seenRoutes = new Set<string>();
    const failures: string[] = [];
    const seed = Number(process.env.BERTH_FUZZ_SEED ?? Date.now() % 2 ** 31);
    const cookie = fc.constantFrom('berth_session=%zz', 'berth_session=%', 'a=1; berth_session=%E0%A4%A', 'berth_session=' + 'x'.repeat(5000));
    const cases = fc.sample(fc.record({ cookie, route: fc.constantFrom(...routes), params: fc.array(param, { minLength: 3, maxLength: 3 }), query, body, contentType, credential }), { numRuns: CASES, seed });
    for (const c of cases) {
      const key = `${c.route.method} ${c.route.path}`;
      const cred = c.credential === 'admin' && NOT_WITH_ADMIN.has(key) ? 'none' : c.credential;
      let i = 0;
      const path = c.route.path.replace(/:[A-Za-z_]+(\{[^}]*\})?/g, () => c.params[i++ % 3]!) + c.query;
      const headers: Record<string, string> = {};
      if (c.contentType) headers['content-type'] = c.contentType;
      // Cookies with broken %-encoding ride along with the admin token too: some routes read both.
      if (cred === 'admin') Object.assign(headers, { authorization: `Bearer ${t.daemon.token}`, cookie: c.cookie });
      if (cred === 'garbage') Object.assign(headers, { authorization: 'Bearer %zz', cookie: c.cookie });
      const incoming = new IncomingMessage(new Socket());
      incoming.headers = { host: '127.0.0.1', ...headers };
      const hasBody = c.route.method !== 'GET' && c.route.method !== 'HEAD';
      const outgoing = new ServerResponse(incoming);
      const res = await app.request(`http://127.0.0.1${path}`, { method: c.route.method, headers, ...(hasBody ? { body: c.body } : {}) }, { incoming, outgoing });
      // Streams (events, logs) stay open: the status is all we need; 'close' ends a log follow.
      await res.body?.cancel().catch(() => {});
      outgoing.emit('close');
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      seenRoutes.add(key);
      if (res.status >= 500 && res.status !== 503) failures.push(`${res.status} ${c.route.method} ${path} ${JSON.stringify(c.body).slice(0, 200)} (${cred})`);
    }
    const summary = [...statuses].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}:${n}`).join(' ');
    ctx.diagnostic(`seed ${seed}; ${seenRoutes.size}/${routes.length} routes; statuses ${summary}`);
    assert.deepEqual(failures.slice(0, 10), [], `seed ${seed}; statuses ${summary}`);
    assert.equal(seenRoutes.size, new Set(routes.map((r) => `${r.method} ${r.path}`)).size, 'every route was fuzzed');
    // The daemon is still fine over a real socket.
    assert.equal((await t.api('GET', '/api/health')).status, 200);
  });
});
