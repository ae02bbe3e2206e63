import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { forwardedInfo, normalizePrefix, parseTrustedProxies, unmapIPv4 } from './forwarded.js';

function fakeReq(peer: string, headers: Record<string, string>, encrypted = false): IncomingMessage {
  return { headers, socket: { remoteAddress: peer, encrypted, localAddress: '127.0.0.1', localPort: 8995 } } as unknown as IncomingMessage;
}

describe('parseTrustedProxies', () => {
  const t = parseTrustedProxies(['10.0.0.0/8', '192.168.1.7', 'fd00::/8', '::1']);
  const cases: [string, boolean][] = [
    ['10.1.2.3', true],
    ['11.0.0.1', false],
    ['192.168.1.7', true],
    ['192.168.1.8', false],
    ['::ffff:10.9.9.9', true],
    ['::FFFF:0a00:0001', true],
    ['::ffff:11.0.0.1', false],
    ['fd12::1', true],
    ['fe80::1', false],
    ['::1', true],
    ['not-an-ip', false],
    ['', false],
  ];
  for (const [ip, expected] of cases) it(`${ip || '(empty)'} → ${expected}`, () => assert.equal(t.contains(ip), expected));

  it('rejects invalid entries with E_CONFIG', () => {
    for (const bad of ['10.0.0.0/33', 'fd00::/129', 'nope', '10.0.0.0/x', '10.0.0.0/']) {
      assert.throws(() => parseTrustedProxies([bad]), { code: 'E_CONFIG' }, bad);
    }
  });

  it('an empty list trusts nobody', () => {
    const none = parseTrustedProxies([]);
    assert.equal(none.empty, true);
    assert.equal(none.contains('127.0.0.1'), false);
  });

  it('unmaps IPv4-mapped IPv6', () => {
    assert.equal(unmapIPv4('::ffff:127.0.0.1'), '127.0.0.1');
    assert.equal(unmapIPv4('::1'), '::1');
  });
});

describe('normalizePrefix', () => {
  const cases: [string | undefined, string][] = [
    [undefined, ''],
    ['', ''],
    ['/', ''],
    ['/berth', '/berth'],
    ['berth/', '/berth'],
    ['//a//b/', '/a/b'],
    ['/a, /b', '/a'],
    ['/a/../b', ''],
    ['/a"><script>', ''],
    ['/a b', ''],
    ['/%2e%2e', ''],
  ];
  for (const [input, expected] of cases) it(`${JSON.stringify(input)} → ${JSON.stringify(expected)}`, () => assert.equal(normalizePrefix(input), expected));
});

describe('forwardedInfo', () => {
  const trusted = parseTrustedProxies(['10.0.0.0/8']);
  const spoof = { 'x-forwarded-host': 'evil.com', 'x-forwarded-proto': 'https', 'x-forwarded-prefix': '/evil', 'x-forwarded-for': '6.6.6.6' };

  it('ignores X-Forwarded-* from an untrusted peer', () => {
    assert.deepEqual(forwardedInfo(fakeReq('203.0.113.9', { host: 'berth.local:8995', ...spoof }), trusted), {
      proto: 'http',
      host: 'berth.local:8995',
      prefix: '',
      clientIp: '203.0.113.9',
    });
  });

  it('honours X-Forwarded-* from a trusted peer (also IPv4-mapped)', () => {
    assert.deepEqual(forwardedInfo(fakeReq('::ffff:10.0.0.2', { host: 'inner:8995', ...spoof }), trusted), {
      proto: 'https',
      host: 'evil.com',
      prefix: '/evil',
      clientIp: '6.6.6.6',
    });
  });

  it('walks X-Forwarded-For from the right, skipping trusted hops', () => {
    const req = fakeReq('10.0.0.2', { host: 'h', 'x-forwarded-for': '6.6.6.6, 198.51.100.1, 10.0.0.9' });
    assert.equal(forwardedInfo(req, trusted).clientIp, '198.51.100.1');
  });

  it('falls back to its own values for invalid forwarded values', () => {
    const req = fakeReq('10.0.0.2', { host: 'inner:8995', 'x-forwarded-proto': 'gopher', 'x-forwarded-host': 'a b', 'x-forwarded-for': 'junk' });
    assert.deepEqual(forwardedInfo(req, trusted), { proto: 'http', host: 'inner:8995', prefix: '', clientIp: '10.0.0.2' });
  });

  it('uses https for TLS sockets and the local address without a Host header', () => {
    assert.deepEqual(forwardedInfo(fakeReq('203.0.113.9', {}, true), trusted), { proto: 'https', host: '127.0.0.1:8995', prefix: '', clientIp: '203.0.113.9' });
  });
});
