import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseTrustedProxies } from './forwarded.js';
import { clientResponseHeaders, isBerthBearer, LLM_HTTP, stripBerthCookie, upstreamRequestHeaders, WORKLOAD_HTTP, WORKLOAD_WS } from './headers.js';

const trusted = parseTrustedProxies(['10.0.0.0/8']);

function asMap(flat: string[]): Record<string, string> {
  const m: Record<string, string> = {};
  for (let i = 0; i < flat.length; i += 2) m[flat[i]!.toLowerCase()] = flat[i + 1]!;
  return m;
}

describe('stripBerthCookie / isBerthBearer', () => {
  const cookies: [string, string][] = [
    ['a=1; b=2', 'a=1; b=2'],
    ['a=1; berth_session=xyz; b=2', 'a=1; b=2'],
    ['berth_session=xyz', ''],
    ['xberth_session=1; berth_sessionx=2', 'xberth_session=1; berth_sessionx=2'],
    ['__Host-berth_session=1;a=2', 'a=2'],
  ];
  for (const [input, expected] of cookies) it(`${input} → ${JSON.stringify(expected)}`, () => assert.equal(stripBerthCookie(input), expected));

  it('recognizes Berth bearer tokens only', () => {
    assert.equal(isBerthBearer('Bearer berth_abc'), true);
    assert.equal(isBerthBearer('bearer   berth_abc'), true);
    assert.equal(isBerthBearer('Bearer other'), false);
    assert.equal(isBerthBearer('Basic berth_abc'), false);
  });
});

describe('upstreamRequestHeaders', () => {
  const raw = [
    'Host', 'berth.local:8995',
    'Connection', 'keep-alive, X-Secret',
    'X-Secret', 'hop',
    'Keep-Alive', 'timeout=5',
    'Proxy-Authorization', 'Basic x',
    'TE', 'trailers',
    'Upgrade', 'websocket',
    'Cookie', 'theme=dark; berth_session=s3cret',
    'Authorization', 'Bearer berth_tok',
    'X-Forwarded-For', '6.6.6.6',
    'X-Forwarded-Host', 'evil.com',
    'X-Forwarded-Proto', 'https',
    'X-Forwarded-Prefix', '/outer',
    'Forwarded', 'for=6.6.6.6',
    'Accept', 'text/html',
  ];

  it('from an untrusted peer: hop-by-hop, Berth credentials and spoofed forwarding replaced', () => {
    const { headers, hasBody } = upstreamRequestHeaders(raw, WORKLOAD_HTTP, { peer: '::ffff:127.0.0.1', encrypted: false, trusted, routePrefix: '/hosted/abc/9000' });
    assert.equal(hasBody, false);
    assert.deepEqual(asMap(headers), {
      host: 'berth.local:8995',
      cookie: 'theme=dark',
      accept: 'text/html',
      'x-forwarded-for': '127.0.0.1',
      'x-forwarded-host': 'berth.local:8995',
      'x-forwarded-proto': 'http',
      'x-forwarded-prefix': '/hosted/abc/9000',
    });
  });

  it('from a trusted peer: forwarding appended / honoured', () => {
    const { headers } = upstreamRequestHeaders(raw, WORKLOAD_HTTP, { peer: '10.0.0.2', encrypted: false, trusted, routePrefix: '/hosted/abc/9000' });
    const m = asMap(headers);
    assert.equal(m['x-forwarded-for'], '6.6.6.6, 10.0.0.2');
    assert.equal(m['x-forwarded-host'], 'evil.com');
    assert.equal(m['x-forwarded-proto'], 'https');
    assert.equal(m['x-forwarded-prefix'], '/outer/hosted/abc/9000');
    assert.equal(m.forwarded, 'for=6.6.6.6');
  });

  it('WebSocket keeps Upgrade with Connection: upgrade; host routes send no prefix', () => {
    const m = asMap(upstreamRequestHeaders(raw, WORKLOAD_WS, { peer: '127.0.0.1', encrypted: true, trusted, routePrefix: null }).headers);
    assert.equal(m.upgrade, 'websocket');
    assert.equal(m.connection, 'upgrade');
    assert.equal(m['x-forwarded-proto'], 'https');
    assert.equal('x-forwarded-prefix' in m, false);
  });

  it('LLM: no cookies, no client Authorization, no Host, no forwarding; key appended', () => {
    const m = asMap(upstreamRequestHeaders(raw, LLM_HTTP, { peer: '127.0.0.1', encrypted: false, trusted, routePrefix: null }, ['Authorization', 'Bearer sk-1']).headers);
    assert.deepEqual(m, { accept: 'text/html', authorization: 'Bearer sk-1' });
  });

  it('detects bodies by Content-Length or Transfer-Encoding and drops Transfer-Encoding', () => {
    const base = { peer: '127.0.0.1', encrypted: false, trusted, routePrefix: null };
    assert.equal(upstreamRequestHeaders(['Content-Length', '0'], WORKLOAD_HTTP, base).hasBody, false);
    assert.equal(upstreamRequestHeaders(['Content-Length', '5'], WORKLOAD_HTTP, base).hasBody, true);
    const chunked = upstreamRequestHeaders(['Transfer-Encoding', 'chunked'], WORKLOAD_HTTP, base);
    assert.equal(chunked.hasBody, true);
    assert.equal('transfer-encoding' in asMap(chunked.headers), false);
  });
});

describe('clientResponseHeaders', () => {
  it('drops hop-by-hop headers and Berth session cookies set by the app', () => {
    const raw = ['Content-Type', 'text/event-stream', 'Connection', 'keep-alive, X-Hop', 'X-Hop', '1', 'Transfer-Encoding', 'chunked', 'Keep-Alive', 'timeout=5', 'Set-Cookie', 'berth_session=planted; Path=/', 'Set-Cookie', 'app=1; Path=/', 'X-App', 'ok'];
    const { headers, contentType } = clientResponseHeaders(raw);
    assert.equal(contentType, 'text/event-stream');
    assert.deepEqual(headers, ['Content-Type', 'text/event-stream', 'Set-Cookie', 'app=1; Path=/', 'X-App', 'ok']);
  });

  it('drops Content-Length when Transfer-Encoding came too (RFC 9112 §6.3), before or after it', () => {
    assert.deepEqual(clientResponseHeaders(['Content-Length', '100', 'X-A', '1', 'Transfer-Encoding', 'chunked']).headers, ['X-A', '1']);
    assert.deepEqual(clientResponseHeaders(['transfer-encoding', 'gzip', 'content-length', '5']).headers, []);
    assert.deepEqual(clientResponseHeaders(['Content-Length', '5', 'X-A', '1']).headers, ['Content-Length', '5', 'X-A', '1']);
  });
});
