// Edge conformance suite, HTTP part: real sockets end to end (client → edge → loopback upstreams).
// Every data plane Berth grows (e.g. the nginx renderer) must pass the same cases.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { RoutableWorkload } from '../../src/domain/route.js';
import { buildRouteTable } from '../../src/edge/route-table.js';
import { assertStreamsBeforeEnd, freePort, gatedStream, get, rawRequest, startEdge, startUpstream, waitFor, type EdgeHarness, type TestUpstream } from '../support/edge-harness.js';

function row(id: string, name: string, ports: number[], state: RoutableWorkload['state'] = 'running'): RoutableWorkload {
  return { kind: 'workspace', id, name, state, upstreamHost: '127.0.0.1', ports: ports.map((hostPort, i) => ({ containerPort: 8000 + i, hostPort })) };
}

describe('edge (HTTP)', () => {
  let h: EdgeHarness;
  let alpha: TestUpstream; // abc, first port
  let alphaStream: TestUpstream; // abc, second port
  let delta: TestUpstream; // def
  let secret: TestUpstream; // a loopback service no workspace was allocated
  let hang: TestUpstream; // never answers
  let llm: TestUpstream;
  let refusedPort: number;
  let offPort: number;
  const stream = gatedStream();
  const sse = gatedStream();
  const llmStream = gatedStream();
  const rowsNow = (): RoutableWorkload[] => [
    row('abc', 'alpha', [alpha.port, alphaStream.port]),
    row('def', 'delta', [delta.port]),
    row('off', 'sleepy', [offPort], 'stopped'),
    row('dead', 'ghost', [refusedPort]),
    row('slow', 'sloth', [hang.port]),
  ];
  const counts = () => [alpha, alphaStream, delta, secret].map((u) => `${u.requests.length}/${u.connections}`).join(' ');

  before(async () => {
    alpha = await startUpstream();
    alphaStream = await startUpstream((req, res) => (req.url?.includes('sse') ? sse : stream).handler(req, res));
    delta = await startUpstream();
    secret = await startUpstream();
    hang = await startUpstream(() => {});
    llm = await startUpstream((req, res) => {
      if (req.url?.startsWith('/v1/stream')) return llmStream.handler(req, res);
      const body = JSON.stringify({ url: req.url, headers: req.headers });
      res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    });
    refusedPort = await freePort();
    offPort = await freePort();
    h = await startEdge(
      { appsDomain: 'apps.test', trustedProxies: '127.0.0.2/32', llmBaseUrl: `http://127.0.0.1:${llm.port}/v1`, llmApiKey: 'sk-test' },
      { upstreamTimeoutMs: 500, headersTimeoutMs: 500, requestTimeoutMs: 3_000, checkIntervalMs: 100 },
      // The daemon's gate is tested in llm-proxy.test.ts; here every /llm request is let through.
      { llmAccess: () => ({ ok: true, workspaceId: null }) },
    );
    h.edge.setRoutes(buildRouteTable(rowsNow(), { appsDomain: 'apps.test' }));
  });

  after(async () => {
    await h.close();
    for (const u of [alpha, alphaStream, delta, secret, hang, llm]) await u.close();
  });

  it('path route: strips the prefix and sets X-Forwarded-*', async () => {
    const res = await get(h.port, `/hosted/abc/${alpha.port}/some/path?x=1&y=%2F`);
    assert.equal(res.status, 200);
    const seen = JSON.parse(res.body);
    assert.equal(seen.url, '/some/path?x=1&y=%2F');
    assert.equal(seen.headers.host, `127.0.0.1:${h.port}`);
    assert.equal(seen.headers['x-forwarded-prefix'], `/hosted/abc/${alpha.port}`);
    assert.equal(seen.headers['x-forwarded-host'], `127.0.0.1:${h.port}`);
    assert.equal(seen.headers['x-forwarded-proto'], 'http');
    assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1');
    assert.equal(res.headers['x-upstream'], 'yes');
  });

  it('path route: request bodies (sized and chunked) reach the upstream', async () => {
    const sized = await rawRequest(h.port, `POST /hosted/abc/${alpha.port}/p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello`);
    assert.equal(JSON.parse(sized.body).body, 'hello');
    const chunked = await rawRequest(h.port, `POST /hosted/abc/${alpha.port}/p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n`);
    assert.equal(JSON.parse(chunked.body).body, 'abcde');
  });

  it('redirects /hosted/{id}/{port} to the slash form, keeping the query, without dialling', async () => {
    const before = alpha.requests.length;
    const res = await get(h.port, `/hosted/abc/${alpha.port}?q=1`);
    assert.equal(res.status, 308);
    assert.equal(res.headers.location, `${alpha.port}/?q=1`);
    assert.equal(new URL(res.headers.location!, `http://e/hosted/abc/${alpha.port}?q=1`).pathname, `/hosted/abc/${alpha.port}/`);
    assert.equal(alpha.requests.length, before);
  });

  it('subdomain route: path untouched, no prefix header', async () => {
    const res = await get(h.port, '/hosted/x/y?z=1', { Host: `${alpha.port}--abc.apps.test:${h.port}` });
    assert.equal(res.status, 200);
    const seen = JSON.parse(res.body);
    assert.equal(seen.url, '/hosted/x/y?z=1');
    assert.equal(seen.headers['x-forwarded-prefix'], undefined);
    assert.equal(seen.headers['x-forwarded-host'], `${alpha.port}--abc.apps.test:${h.port}`);
  });

  it('malicious, unknown and foreign paths answer 404 and never reach an upstream', async () => {
    const A = alpha.port;
    const paths = [
      `/hosted/abc/${A}/%2e%2e/%2e%2e/etc/passwd`,
      `/hosted/abc/${A}/%2E%2E/${delta.port}/`,
      `/hosted/abc/${A}/..%2f..%2fdef/${delta.port}/`,
      `/hosted/abc/${A}/%2e./x`,
      `/hosted/abc/${A}/.%2e/x`,
      `/hosted/abc/${A}/%252e%252e/x`,
      `/hosted/abc/${A}/..\\..\\x`,
      `/hosted/abc/${A}/%5c..%5cx`,
      `/hosted/abc\\${A}/`,
      `/hosted//abc/${A}/`,
      `//hosted/abc/${A}/`,
      `/hosted/abc//${A}/`,
      `/hosted/abc/${A}//evil.example`,
      `/hosted/abc/${A}/%00`,
      `/hosted/abc/${A}/..;/x`,
      `/hosted/abc/${A}x/`,
      `/hosted/abc/0${A}/`,
      `/hosted/abc/${A}.0/`,
      `/hosted/nobody/${A}/`,
      `/hosted/abc/${delta.port}/`, // a port of another workspace
      `/hosted/def/${A}/`,
      `/hosted/abc/${secret.port}/`, // a live loopback service outside the allocation
      `/hosted/abc/${A}/../../abc/${secret.port}/`,
      `/hosted/abc/`,
      `/hosted/`,
    ];
    const before = counts();
    for (const p of paths) {
      const res = await get(h.port, p);
      assert.equal(res.status, 404, `${p} → ${res.status}`);
    }
    for (const host of [`${secret.port}--abc.apps.test`, `x${A}--abc.apps.test`, `${delta.port}--abc.apps.test`, `${A}--nobody.apps.test`]) {
      const res = await get(h.port, '/', { Host: host });
      assert.equal(res.status, 404, `${host} → ${res.status}`);
    }
    // A raw NUL is refused by Node's parser itself (400); either way nothing is dialled.
    const nul = await rawRequest(h.port, `GET /hosted/abc/${A}/\0 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    assert.ok(nul.status === 400 || nul.status === 404, `NUL → ${nul.status}`);
    assert.equal(counts(), before, 'no upstream saw a request or a connection');
    assert.equal(h.fallbackRequests.filter((r) => r.url.includes('hosted')).length, 0, 'the API saw none either');
  });

  it('a host that only ends like an app host is not an app host', async () => {
    const before = counts();
    const res = await get(h.port, '/x', { Host: `${alpha.port}--abc.apps.test.evil.com` });
    assert.equal(res.status, 200);
    assert.equal(res.body, 'fallback /x');
    assert.equal(counts(), before);
  });

  it('a stopped workspace answers 503 naming it', async () => {
    const res = await get(h.port, `/hosted/off/${offPort}/`);
    assert.equal(res.status, 503);
    assert.match(res.body, /sleepy/);
    assert.match(res.body, /stopped/);
    assert.equal(res.headers['retry-after'], '5');
  });

  it('closes the keep-alive pool of an upstream that leaves the table', async () => {
    assert.equal((await get(h.port, `/hosted/def/${delta.port}/`)).status, 200);
    const open = () => new Promise<number>((resolve) => delta.server.getConnections((_e, n) => resolve(n)));
    assert.equal(await open(), 1, 'the edge keeps its upstream connection alive');
    h.edge.setRoutes(buildRouteTable(rowsNow().filter((r) => r.id !== 'def'), { appsDomain: 'apps.test' }));
    try {
      const end = Date.now() + 3_000;
      while ((await open()) > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      assert.equal(await open(), 0);
      assert.equal((await get(h.port, `/hosted/def/${delta.port}/`)).status, 404);
    } finally {
      h.edge.setRoutes(buildRouteTable(rowsNow(), { appsDomain: 'apps.test' }));
    }
  });

  it('a refused upstream answers 502 naming the workspace; JSON when Accept prefers it', async () => {
    const post = await rawRequest(h.port, `POST /hosted/dead/${refusedPort}/ HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello`);
    assert.equal(post.status, 502);
    const html = await get(h.port, `/hosted/dead/${refusedPort}/`);
    assert.equal(html.status, 502);
    assert.match(html.headers['content-type']!, /text\/html/);
    assert.match(html.body, /ghost/);
    const json = await get(h.port, `/hosted/dead/${refusedPort}/`, { Accept: 'application/json' });
    assert.equal(json.status, 502);
    assert.match(json.headers['content-type']!, /application\/json/);
    assert.equal(JSON.parse(json.body).error.code, 'E_UPSTREAM_UNREACHABLE');
    const notFound = await get(h.port, '/hosted/nobody/1/', { Accept: 'application/json, text/plain, */*' });
    assert.deepEqual(Object.keys(JSON.parse(notFound.body).error).sort(), ['code', 'message']);
    assert.equal(JSON.parse(notFound.body).error.code, 'E_NOT_FOUND');
  });

  it('an upstream that never answers gets 504', async () => {
    const started = Date.now();
    const res = await get(h.port, `/hosted/slow/${hang.port}/`, { Accept: 'application/json' });
    assert.equal(res.status, 504);
    assert.equal(JSON.parse(res.body).error.code, 'E_UPSTREAM_TIMEOUT');
    assert.ok(Date.now() - started < 3_000);
  });

  it('X-Forwarded-* from an untrusted peer are replaced', async () => {
    const spoof = { 'X-Forwarded-For': '6.6.6.6', 'X-Forwarded-Host': 'evil.example', 'X-Forwarded-Proto': 'https', 'X-Forwarded-Prefix': '/evil', Forwarded: 'for=6.6.6.6' };
    const seen = JSON.parse((await get(h.port, `/hosted/abc/${alpha.port}/`, spoof)).body);
    assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1');
    assert.equal(seen.headers['x-forwarded-host'], `127.0.0.1:${h.port}`);
    assert.equal(seen.headers['x-forwarded-proto'], 'http');
    assert.equal(seen.headers['x-forwarded-prefix'], `/hosted/abc/${alpha.port}`);
    assert.equal(seen.headers.forwarded, undefined);
  });

  it('X-Forwarded-* from a trusted peer are honoured (For appended, Prefix prepended)', async () => {
    const spoof = { 'X-Forwarded-For': '203.0.113.7', 'X-Forwarded-Host': 'public.example', 'X-Forwarded-Proto': 'https', 'X-Forwarded-Prefix': '/outer/' };
    const seen = JSON.parse((await get(h.port, `/hosted/abc/${alpha.port}/`, spoof, { localAddress: '127.0.0.2' })).body);
    assert.equal(seen.headers['x-forwarded-for'], '203.0.113.7, 127.0.0.2');
    assert.equal(seen.headers['x-forwarded-host'], 'public.example');
    assert.equal(seen.headers['x-forwarded-proto'], 'https');
    assert.equal(seen.headers['x-forwarded-prefix'], `/outer/hosted/abc/${alpha.port}`);
  });

  it('strips hop-by-hop headers and Berth credentials, keeps other cookies and app auth', async () => {
    const seen = JSON.parse(
      (
        await get(h.port, `/hosted/abc/${alpha.port}/`, {
          Connection: 'close, X-Hop',
          'X-Hop': 'secret',
          'Keep-Alive': 'timeout=5',
          TE: 'trailers',
          'Proxy-Authorization': 'Basic Zm9vOmJhcg==',
          Cookie: 'theme=dark; berth_session=s3cret; lang=en',
          Authorization: 'Bearer berth_0123456789',
        })
      ).body,
    );
    for (const h of ['x-hop', 'keep-alive', 'te', 'proxy-authorization', 'authorization']) assert.equal(seen.headers[h], undefined, h);
    assert.equal(seen.headers.cookie, 'theme=dark; lang=en');
    const app = JSON.parse((await get(h.port, `/hosted/abc/${alpha.port}/`, { Authorization: 'Bearer app-token', Cookie: 'berth_session=x' })).body);
    assert.equal(app.headers.authorization, 'Bearer app-token');
    assert.equal(app.headers.cookie, undefined);
  });

  it('streams chunked and SSE responses before the upstream finishes', async () => {
    await assertStreamsBeforeEnd(h.port, `/hosted/abc/${alphaStream.port}/chunked`, stream, 'one', 'two');
    await assertStreamsBeforeEnd(h.port, `/hosted/abc/${alphaStream.port}/sse`, sse, 'data: one', 'data: two');
  });

  it('relays a large body intact through a slow reader (backpressure)', async () => {
    const size = 16 * 1024 * 1024;
    const big = await startUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size });
      const chunk = Buffer.alloc(64 * 1024, 97);
      let sent = 0;
      const pump = (): void => {
        while (sent < size) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    });
    try {
      h.edge.setRoutes(buildRouteTable([...rowsNow(), row('big', 'bigbody', [big.port])], { appsDomain: 'apps.test' }));
      const received = await new Promise<number>((resolve, reject) => {
        http.get({ host: '127.0.0.1', port: h.port, path: `/hosted/big/${big.port}/`, agent: false }, (res) => {
          let n = 0;
          let paused = false;
          res.on('data', (d: Buffer) => {
            n += d.length;
            if (!paused && n > size / 4) {
              paused = true;
              res.pause();
              setTimeout(() => res.resume(), 300);
            }
          });
          res.on('end', () => resolve(n));
        }).on('error', reject);
      });
      assert.equal(received, size);
    } finally {
      h.edge.setRoutes(buildRouteTable(rowsNow(), { appsDomain: 'apps.test' }));
      await big.close();
    }
  });

  it('a client leaving mid-stream aborts the upstream request', async () => {
    let upstreamClosed = false;
    const endless = await startUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: hi\n\n');
      res.on('close', () => (upstreamClosed = true));
    });
    try {
      h.edge.setRoutes(buildRouteTable([...rowsNow(), row('end', 'endless', [endless.port])], { appsDomain: 'apps.test' }));
      await new Promise<void>((resolve, reject) => {
        const req = http.get({ host: '127.0.0.1', port: h.port, path: `/hosted/end/${endless.port}/`, agent: false }, (res) => {
          res.once('data', () => {
            req.destroy();
            resolve();
          });
        });
        req.on('error', () => {});
        req.on('timeout', reject);
      });
      await waitFor(() => upstreamClosed, 3_000, 'upstream request to be aborted');
    } finally {
      h.edge.setRoutes(buildRouteTable(rowsNow(), { appsDomain: 'apps.test' }));
      await endless.close();
    }
  });

  it('/llm forwards below the base URL with the key, without client credentials, streaming', async () => {
    const res = await get(h.port, '/llm/chat/completions?stream=true', { Authorization: 'Bearer client-key', Cookie: 'a=1; berth_session=x', 'X-Forwarded-For': '6.6.6.6' });
    assert.equal(res.status, 200);
    const seen = JSON.parse(res.body);
    assert.equal(seen.url, '/v1/chat/completions?stream=true');
    assert.equal(seen.headers.authorization, 'Bearer sk-test');
    assert.equal(seen.headers.cookie, undefined);
    assert.equal(seen.headers.host, `127.0.0.1:${llm.port}`);
    assert.equal(seen.headers['x-forwarded-for'], undefined);
    await assertStreamsBeforeEnd(h.port, '/llm/stream?sse', llmStream, 'data: one', 'data: two');
  });

  it('/llm without an access gate refuses everyone (401 JSON) and never dials the provider', async () => {
    const ungated = await startEdge({ llmBaseUrl: `http://127.0.0.1:${llm.port}/v1`, llmApiKey: 'sk-test' });
    try {
      const before = llm.requests.length;
      const res = await get(ungated.port, '/llm/models');
      assert.equal(res.status, 401);
      assert.equal(JSON.parse(res.body).error.code, 'E_UNAUTHORIZED');
      assert.equal(res.headers['www-authenticate'], 'Bearer');
      assert.equal(llm.requests.length, before);
    } finally {
      await ungated.close();
    }
  });

  it('/llm answers 404 with a clear message when not configured', async () => {
    const bare = await startEdge();
    try {
      const res = await get(bare.port, '/llm/chat', { Accept: 'application/json' });
      assert.equal(res.status, 404);
      const err = JSON.parse(res.body).error;
      assert.equal(err.code, 'E_LLM_NOT_CONFIGURED');
      assert.match(err.message, /BERTH_LLM_BASE_URL/);
    } finally {
      await bare.close();
    }
  });

  it('everything else reaches the fallback unchanged, Berth cookie included', async () => {
    const res = await get(h.port, '/api/workspaces?x=%2e%2e', { Cookie: 'berth_session=abc' });
    assert.equal(res.body, 'fallback /api/workspaces?x=%2e%2e');
    const seen = h.fallbackRequests.at(-1)!;
    assert.equal(seen.headers.cookie, 'berth_session=abc');
  });

  it('cuts a slowloris client whose headers never finish', async () => {
    const started = Date.now();
    const res = await rawRequest(h.port, 'GET /hosted/abc/1/ HTTP/1.1\r\nHost: x\r\nX-Slow: 1', { timeoutMs: 5_000 });
    const elapsed = Date.now() - started;
    assert.ok(res.status === 408 || res.status === 0, `status ${res.status}`);
    assert.ok(elapsed < 3_000, `closed after ${elapsed} ms`);
  });

  it('answers 431 to oversized headers', async () => {
    const res = await get(h.port, `/hosted/abc/${alpha.port}/`, { 'X-Big': 'a'.repeat(20 * 1024) });
    assert.equal(res.status, 431);
  });

  it('close() ends open streams and resolves', async () => {
    const e = await startEdge({}, { drainMs: 100 });
    const up = await startUpstream((_req, res) => res.writeHead(200, { 'content-type': 'text/event-stream' }).write('data: x\n\n'));
    e.edge.setRoutes(buildRouteTable([row('cls', 'closer', [up.port])]));
    let ended = false;
    await new Promise<void>((resolve) => {
      http.get({ host: '127.0.0.1', port: e.port, path: `/hosted/cls/${up.port}/`, agent: false }, (res) => {
        res.once('data', () => resolve());
        res.on('close', () => (ended = true));
        res.on('error', () => {});
      });
    });
    const started = Date.now();
    await e.close();
    assert.ok(Date.now() - started < 2_000);
    await waitFor(() => ended, 2_000, 'client stream end');
    assert.equal(e.edge.stats().sockets, 0);
    await up.close();
  });
});
