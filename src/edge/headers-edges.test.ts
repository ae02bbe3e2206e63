// Edge cases of the header rewrite that the table tests in headers.test.ts let through (found by
// mutation testing, bench/mutation.mjs): the app-session cookie, cookie pairs without a value or
// with spaces, duplicate Host / Content-Length / X-Forwarded-For, Authorization per policy, and
// the Set-Cookie and Upgrade filtering of responses.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseTrustedProxies } from './forwarded.js';
import {
  BERTH_APP_SESSION_COOKIE, BERTH_SESSION_COOKIE, clientResponseHeaders, isBerthBearer, LLM_HTTP, stripBerthCookie, upstreamRequestHeaders, WORKLOAD_HTTP, WORKLOAD_WS,
} from './headers.js';

const trusted = parseTrustedProxies(['10.0.0.0/8']);
const facts = (peer: string, routePrefix: string | null = null) => ({ peer, encrypted: false, trusted, routePrefix });
const pairs = (flat: readonly string[]): string[] => {
  const out: string[] = [];
  for (let i = 0; i < flat.length; i += 2) out.push(`${flat[i]}: ${flat[i + 1]}`);
  return out;
};

describe('Berth cookies never reach a workload', () => {
  it('the cookie names', () => {
    assert.equal(BERTH_SESSION_COOKIE, 'berth_session');
    assert.equal(BERTH_APP_SESSION_COOKIE, 'berth_app_session');
  });
  const cases: [string, string][] = [
    ['berth_app_session=x; a=1', 'a=1'],
    ['a=1; __Host-berth_app_session=x', 'a=1'],
    ['__Secure-berth_session=x; a=1', 'a=1'],
    ['a=1; __Secure-berth_app_session=y', 'a=1'],
    ['berth_session; a=1', 'a=1'],
    ['a=1; berth_session =x', 'a=1'],
    ['a=1;; berth_session=x', 'a=1'],
    ['a=1;b=2', 'a=1;b=2'], // no Berth cookie: passed through byte for byte
    ['x__Secure-berth_session=1', 'x__Secure-berth_session=1'],
  ];
  for (const [input, want] of cases) it(`${input} → ${JSON.stringify(want)}`, () => assert.equal(stripBerthCookie(input), want));

  it('a Cookie header with only Berth cookies is dropped, not sent empty', () => {
    const { headers } = upstreamRequestHeaders(['Host', 'h', 'Cookie', 'berth_session=x'], WORKLOAD_HTTP, facts('127.0.0.1'));
    assert.ok(!headers.some((h) => h.toLowerCase() === 'cookie'), JSON.stringify(headers));
  });
});

describe('isBerthBearer', () => {
  const cases: [string, boolean][] = [
    ['  Bearer berth_x', true],
    ['berth_x bearer y', false],
    ['berth_bearer x', false],
    ['Bearer  berth_x', true],
  ];
  for (const [v, want] of cases) it(`${JSON.stringify(v)} → ${want}`, () => assert.equal(isBerthBearer(v), want));
});

describe('upstreamRequestHeaders: duplicates and policies', () => {
  it('a second Host is dropped (the first is what the matcher used)', () => {
    const { headers } = upstreamRequestHeaders(['Host', 'a.example.com', 'Host', 'b.example.com'], WORKLOAD_HTTP, facts('127.0.0.1'));
    assert.deepEqual(pairs(headers).filter((h) => /^host:/i.test(h)), ['Host: a.example.com']);
    assert.ok(pairs(headers).includes('X-Forwarded-Host: a.example.com'));
  });

  it('a second Content-Length is dropped', () => {
    const r = upstreamRequestHeaders(['Host', 'h', 'Content-Length', '5', 'Content-Length', '50'], WORKLOAD_HTTP, facts('127.0.0.1'));
    assert.deepEqual(pairs(r.headers).filter((h) => /^content-length:/i.test(h)), ['Content-Length: 5']);
    assert.equal(r.hasBody, true);
  });

  it('several X-Forwarded-For headers from a trusted proxy are joined in order', () => {
    const { headers } = upstreamRequestHeaders(['Host', 'h', 'X-Forwarded-For', '1.1.1.1', 'X-Forwarded-For', '2.2.2.2'], WORKLOAD_HTTP, facts('10.0.0.1'));
    assert.ok(pairs(headers).includes('X-Forwarded-For: 1.1.1.1, 2.2.2.2, 10.0.0.1'), JSON.stringify(headers));
  });

  it("a workload gets the client's own Authorization; the LLM provider gets none", () => {
    const raw = ['Host', 'h', 'Authorization', 'Basic dTpw'];
    assert.ok(pairs(upstreamRequestHeaders(raw, WORKLOAD_HTTP, facts('127.0.0.1')).headers).includes('Authorization: Basic dTpw'));
    assert.ok(!upstreamRequestHeaders(['Authorization', 'Bearer sk-client'], LLM_HTTP, facts('127.0.0.1')).headers.some((h) => /^authorization$/i.test(h)));
  });

  it('no Upgrade asked for: no Connection: upgrade even on the WebSocket policy', () => {
    const { headers } = upstreamRequestHeaders(['Host', 'h'], WORKLOAD_WS, facts('127.0.0.1'));
    assert.ok(!headers.some((h) => /^(connection|upgrade)$/i.test(h)), JSON.stringify(headers));
  });

  it('without a Host header X-Forwarded-Host is empty; an empty prefix is not sent', () => {
    const { headers } = upstreamRequestHeaders([], WORKLOAD_HTTP, facts('127.0.0.1', ''));
    assert.ok(pairs(headers).includes('X-Forwarded-Host: '), JSON.stringify(headers));
    assert.ok(!headers.includes('X-Forwarded-Prefix'));
  });

  it('a header named in Connection is removed also when it comes first', () => {
    const { headers } = upstreamRequestHeaders(['X-Secret', 's', 'Host', 'h', 'Connection', 'x-secret'], WORKLOAD_HTTP, facts('127.0.0.1'));
    assert.ok(!headers.includes('X-Secret'), JSON.stringify(headers));
  });

  it('the tokens every client sends (keep-alive, close, upgrade) name no header to remove', () => {
    const { headers } = upstreamRequestHeaders(['Close', '1', 'Host', 'h', 'Connection', 'keep-alive, close, upgrade, '], WORKLOAD_HTTP, facts('127.0.0.1'));
    assert.ok(headers.includes('Close'), JSON.stringify(headers));
  });
});

describe('clientResponseHeaders', () => {
  it('no Set-Cookie for either Berth cookie, with or without attributes or a value', () => {
    const { headers } = clientResponseHeaders([
      'Set-Cookie', 'berth_session=x; Path=/',
      'Set-Cookie', 'berth_app_session=y',
      'Set-Cookie', 'berth_session',
      'Set-Cookie', '__Host-berth_session=z; Secure',
      'Set-Cookie', 'a=1; Path=/',
    ]);
    assert.deepEqual(pairs(headers), ['Set-Cookie: a=1; Path=/']);
  });

  it('Upgrade never reaches the client on a plain response', () => {
    assert.deepEqual(pairs(clientResponseHeaders(['Upgrade', 'h2c', 'X-A', '1']).headers), ['X-A: 1']);
  });

  it('a header named in Connection is removed also when it comes first', () => {
    assert.deepEqual(pairs(clientResponseHeaders(['X-Secret', 's', 'Connection', 'x-secret', 'X-A', '1']).headers), ['X-A: 1']);
  });
});
