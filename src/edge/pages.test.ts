import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request } from 'node:http';
import { connect, createServer as createTcpServer, type AddressInfo } from 'node:net';
import { prefersJson, renderError, sendError, sendSocketError, type EdgeError } from './pages.js';

const GONE: EdgeError = { status: 503, code: 'E_WORKLOAD_UNAVAILABLE', message: 'workspace <b>"x"</b> & co is stopped' };

describe('prefersJson', () => {
  const cases: [string | undefined, boolean][] = [
    [undefined, false],
    ['', false],
    ['text/html', false],
    ['application/json', true],
    ['application/*', false], // JSON is not named: HTML
    ['application/*;q=1, application/json;q=0.5, text/html;q=0.8', true],
    ['application/json, text/html', false],
    ['text/html, application/json', false],
    ['text/html;q=0.9, application/json', true],
    ['application/json;q=0.5, text/html;q=0.9', false],
    ['application/json, */*', true], // a tie, and only JSON is named
    ['application/json, */*;q=0.1', true],
    ['application/json;q=0, text/plain', false],
    ['application/json;q=abc', false],
    ['application/json;level=1', true],
    ['application/json;q=0.8, text/*;q=0.8', true],
    ['application/json;q=0.8, text/html;q=0.8', false], // a tie with HTML named: HTML
    ['application/*, */*', false],
    ['application/*;q=1, text/html;q=0.5', false],
    ['text/json', false],
  ];
  for (const [accept, want] of cases) it(`${JSON.stringify(accept)} → ${want}`, () => assert.equal(prefersJson(accept), want));
});

describe('renderError', () => {
  it('JSON carries code and message only', () => {
    const r = renderError(GONE, 'application/json');
    assert.equal(r.type, 'application/json; charset=utf-8');
    assert.deepEqual(JSON.parse(r.body), { error: { code: 'E_WORKLOAD_UNAVAILABLE', message: GONE.message } });
  });

  it('HTML names the status and escapes the message', () => {
    const r = renderError(GONE, 'text/html');
    assert.equal(r.type, 'text/html; charset=utf-8');
    assert.match(r.body, /<title>503 Service Unavailable<\/title>/);
    assert.match(r.body, /<h1>503 Service Unavailable<\/h1>/);
    assert.ok(r.body.includes('workspace &#60;b&#62;&#34;x&#34;&#60;/b&#62; &#38; co is stopped'), r.body);
    assert.ok(!r.body.includes('<b>'));
    assert.ok(renderError({ ...GONE, message: "it's" }, undefined).body.includes('it&#39;s'));
    for (const [status, title] of [[401, 'Unauthorized'], [403, 'Forbidden'], [404, 'Not Found'], [429, 'Too Many Requests'], [502, 'Bad Gateway'], [504, 'Gateway Timeout'], [418, 'Error']] as const) {
      assert.match(renderError({ ...GONE, status }, undefined).body, new RegExp(`<title>${status} ${title}</title>`));
    }
  });
});

/** One request against a real server whose handler is `handle`; the answer or the socket error. */
async function roundTrip(handle: Parameters<typeof createServer>[1], accept: string): Promise<{ status?: number; headers?: Record<string, unknown>; body?: string; error?: string }> {
  const server = createServer(handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    return await new Promise((resolve) => {
      const req = request({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, headers: { accept } }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
        res.on('error', (e) => resolve({ error: e.message }));
      });
      req.on('error', (e) => resolve({ error: e.message }));
      req.end();
    });
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}

describe('sendError (real HTTP server)', () => {
  it('answers with status, no-store, nosniff, exact length and extra headers', async () => {
    const r = await roundTrip((_req, res) => sendError(res, GONE, _req.headers.accept, { 'retry-after': '5' }), 'application/json');
    assert.equal(r.status, 503);
    assert.equal(r.headers!['cache-control'], 'no-store');
    assert.equal(r.headers!['x-content-type-options'], 'nosniff');
    assert.equal(r.headers!['retry-after'], '5');
    assert.equal(Number(r.headers!['content-length']), Buffer.byteLength(r.body!));
    assert.equal(JSON.parse(r.body!).error.code, 'E_WORKLOAD_UNAVAILABLE');
  });

  it('once headers are out it cuts the response instead of writing a second head', async () => {
    const r = await roundTrip((req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('partial');
      sendError(res, GONE, req.headers.accept);
    }, 'text/html');
    // The client sees the 200 and then a cut, never a 503 page spliced into the body.
    assert.ok(r.error || (r.status === 200 && !r.body!.includes('503')), JSON.stringify(r));
  });
});

describe('sendSocketError (real TCP socket)', () => {
  async function viaSocket(act: (s: import('node:net').Socket) => void): Promise<string> {
    const server = createTcpServer(act);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      return await new Promise((resolve) => {
        const c = connect((server.address() as AddressInfo).port, '127.0.0.1');
        let got = '';
        c.setEncoding('utf8');
        c.on('data', (d: string) => (got += d));
        c.on('close', () => resolve(got));
        c.on('error', () => undefined);
      });
    } finally {
      await new Promise((r) => server.close(r));
    }
  }

  it('writes a complete HTTP response and closes', async () => {
    const raw = await viaSocket((s) => sendSocketError(s, { status: 403, code: 'E_FORBIDDEN', message: 'no' }, 'application/json'));
    const [head, body] = raw.split('\r\n\r\n');
    assert.equal(head!.split('\r\n')[0], 'HTTP/1.1 403 Forbidden');
    assert.match(head!, /\r\nConnection: close(\r\n|$)/);
    assert.match(head!, /\r\nCache-Control: no-store(\r\n|$)/);
    assert.match(head!, new RegExp(`\\r\\nContent-Length: ${Buffer.byteLength(body!)}(\\r\\n|$)`));
    assert.match(head!, /\r\nContent-Type: application\/json; charset=utf-8(\r\n|$)/);
    assert.deepEqual(JSON.parse(body!), { error: { code: 'E_FORBIDDEN', message: 'no' } });
    const other = await viaSocket((s) => sendSocketError(s, { ...GONE, status: 499 }, undefined));
    assert.equal(other.split('\r\n')[0], 'HTTP/1.1 499 Error');
  });

  it('does nothing (and does not throw) on a socket already destroyed', async () => {
    const raw = await viaSocket((s) => {
      s.destroy();
      sendSocketError(s, GONE, undefined);
    });
    assert.equal(raw, '');
  });
});
