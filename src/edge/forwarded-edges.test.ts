// Edge cases of forwarded.ts that forwarded.test.ts leaves open, pinned to exact values so that a
// changed regex anchor, quantifier, bit count or fallback shows up (mutation testing found them
// surviving: docs/testing.md). Each case names the input that tells the right code from the wrong.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { BerthError } from '../errors.js';
import { forwardedInfo, normalizePrefix, parseTrustedProxies, resolveForwarded, unmapIPv4, type ForwardedInputs } from './forwarded.js';

describe('unmapIPv4', () => {
  const cases: [string, string][] = [
    ['::ffff:1.2.3.4', '1.2.3.4'],
    ['::ffff:192.168.10.200', '192.168.10.200'], // more than one digit per octet
    ['::FFFF:1.2.3.4', '1.2.3.4'], // the prefix is case-insensitive
    ['::ffff:102:304', '1.2.3.4'], // hex form: high and low byte of each group
    ['::ffff:c0a8:0107', '192.168.1.7'], // four hex digits, letters
    ['::FFFF:C0A8:107', '192.168.1.7'],
    ['::ffff:1:2', '0.1.0.2'], // one hex digit per group
    // Not IPv4-mapped: left alone.
    ['1::ffff:1.2.3.4', '1::ffff:1.2.3.4'], // anchored at the start
    ['::ffff:1.2.3.4:80', '::ffff:1.2.3.4:80'], // anchored at the end
    ['::ffff:1.2.3.4x', '::ffff:1.2.3.4x'],
    ['1::ffff:102:304', '1::ffff:102:304'],
    ['::ffff:102:304:5', '::ffff:102:304:5'],
    ['::ffff:10203:4', '::ffff:10203:4'], // five hex digits are not a group
    ['::ffff:1:20304', '::ffff:1:20304'],
    ['::ffff::304', '::ffff::304'], // an empty group
    ['::ffff:1.2.3', '::ffff:1.2.3'],
    ['::ffff:a.b.c.d', '::ffff:a.b.c.d'],
    ['::ffff:g:1', '::ffff:g:1'],
    ['fd00::1', 'fd00::1'],
    ['10.0.0.1', '10.0.0.1'],
  ];
  for (const [input, expected] of cases) it(`${input} → ${expected}`, () => assert.equal(unmapIPv4(input), expected));
});

function configError(entries: string[]): BerthError {
  try {
    parseTrustedProxies(entries);
  } catch (err) {
    assert.ok(err instanceof BerthError, `not a BerthError: ${String(err)}`);
    return err;
  }
  assert.fail(`accepted ${JSON.stringify(entries)}`);
}

describe('parseTrustedProxies: entries', () => {
  it('skips blank entries and trims the others', () => {
    const t = parseTrustedProxies(['', '   ', ' 10.0.0.0/8 ', '\t::1\t']);
    assert.equal(t.empty, false);
    assert.equal(t.contains('10.200.0.1'), true);
    assert.equal(t.contains('::1'), true);
    assert.equal(t.contains('11.0.0.1'), false);
  });

  it('a list of blanks trusts nobody', () => {
    const t = parseTrustedProxies(['', ' ', '\t']);
    assert.equal(t.empty, true);
    assert.equal(t.contains('127.0.0.1'), false);
  });

  it('one entry is not empty', () => assert.equal(parseTrustedProxies(['127.0.0.1']).empty, false));

  it('bit counts of two digits, /0 and the full length', () => {
    const t = parseTrustedProxies(['172.16.0.0/12', '192.0.2.1/32', 'fd00::/64', '2001:db8::1/128']);
    assert.equal(t.contains('172.31.255.255'), true);
    assert.equal(t.contains('172.32.0.0'), false);
    assert.equal(t.contains('192.0.2.1'), true);
    assert.equal(t.contains('192.0.2.2'), false);
    assert.equal(t.contains('fd00::ffff:1'), true);
    assert.equal(t.contains('fd00:0:0:1::1'), false);
    assert.equal(t.contains('2001:db8::1'), true);
    assert.equal(t.contains('2001:db8::2'), false);
    const all = parseTrustedProxies(['0.0.0.0/0']);
    assert.equal(all.contains('203.0.113.9'), true);
    assert.equal(all.contains('::1'), false); // an IPv4 range never matches IPv6
  });

  it('a bare IPv6 address is a /128, a bare IPv4 address a /32', () => {
    const t = parseTrustedProxies(['::1', '10.0.0.1']);
    assert.equal(t.contains('::1'), true);
    assert.equal(t.contains('::2'), false);
    assert.equal(t.contains('::1:0:0:0:1'), false);
    assert.equal(t.contains('10.0.0.1'), true);
    assert.equal(t.contains('10.0.0.0'), false);
  });

  it('an IPv4-mapped entry is an IPv4 range', () => {
    const t = parseTrustedProxies(['::ffff:10.0.0.0/8', '::ffff:c0a8:0107']);
    assert.equal(t.contains('10.1.1.1'), true);
    assert.equal(t.contains('::ffff:10.1.1.1'), true);
    assert.equal(t.contains('192.168.1.7'), true);
    assert.equal(t.contains('192.168.1.8'), false);
  });

  it('names the first invalid entry, with a hint', () => {
    const err = configError(['10.0.0.0/8', ' nope ', 'also-bad']);
    assert.equal(err.code, 'E_CONFIG');
    assert.equal(err.message, 'invalid trusted proxy "nope"');
    assert.equal(err.hint, 'BERTH_TRUSTED_PROXIES takes comma-separated CIDRs such as 10.0.0.0/8,::1/128');
  });

  it('refuses bit counts that are not plain decimal digits or out of range', () => {
    for (const bad of ['10.0.0.0/ 8', '10.0.0.0/0x8', '10.0.0.0/1e1', '10.0.0.0/8.0', '10.0.0.0/-1', '10.0.0.0/+8', '10.0.0.0/33', '::/129', '10.0.0.0/8/8', '/8', '10.0.0/8']) {
      const err = configError([bad]);
      assert.equal(err.code, 'E_CONFIG', bad);
      assert.equal(err.message, `invalid trusted proxy ${JSON.stringify(bad)}`, bad);
    }
  });
});

describe('parseTrustedProxies: contains', () => {
  const t = parseTrustedProxies(['10.0.0.0/8', 'fd00::/8']);
  it('a missing peer is not trusted', () => assert.equal(t.contains(undefined), false));
  it('an empty peer is not trusted', () => assert.equal(t.contains(''), false));
  it('an empty list trusts no address, IPv4 or IPv6', () => {
    const none = parseTrustedProxies([]);
    for (const ip of ['10.0.0.1', '::1', '::ffff:10.0.0.1', 'junk', '', undefined]) assert.equal(none.contains(ip), false, String(ip));
  });
  it('IPv6 peers are looked up as IPv6, mapped ones as IPv4', () => {
    assert.equal(t.contains('fd00::1'), true);
    assert.equal(t.contains('::ffff:a00:1'), true);
    assert.equal(t.contains('::ffff:b00:1'), false);
  });
  it('a catch-all range still refuses what is not an address', () => {
    const all = parseTrustedProxies(['0.0.0.0/0', '::/0']);
    for (const ip of ['10.1', '010.0.0.1', '0x0a.0.0.1', ' 10.0.0.1', '167772161', '10.0.0.1/8', '[::1]', 'junk']) assert.equal(all.contains(ip), false, ip);
    assert.equal(all.contains('fe80::1%eth0'), true);
  });
});

describe('normalizePrefix: first value and dot segments', () => {
  const cases: [string, string][] = [
    [' /a , /b', '/a'], // the first value is trimmed on both sides
    ['  /outer/app  ', '/outer/app'],
    ['/a/./b', ''], // a single-dot segment is refused like '..'
    ['/.', ''],
    ['./a', ''],
    ['/a/..', ''],
    ['/.well-known', '/.well-known'], // dots inside a segment are fine
    ['/a..b', '/a..b'],
    [', /a', ''],
  ];
  for (const [input, expected] of cases) it(`${JSON.stringify(input)} → ${JSON.stringify(expected)}`, () => assert.equal(normalizePrefix(input), expected));
});

const base: ForwardedInputs = {
  peer: '10.0.0.2',
  encrypted: false,
  host: 'inner:8995',
  xfHost: undefined,
  xfProto: undefined,
  xfPrefix: undefined,
  xfFor: undefined,
  localHost: '127.0.0.1:8995',
};

describe('resolveForwarded', () => {
  const trusted = parseTrustedProxies(['10.0.0.0/8']);
  const resolve = (over: Partial<ForwardedInputs>) => resolveForwarded({ ...base, ...over }, trusted);

  it('a trusted peer without X-Forwarded-* keeps its own values', () => {
    assert.deepEqual(resolve({}), { proto: 'http', host: 'inner:8995', prefix: '', clientIp: '10.0.0.2' });
    assert.deepEqual(resolve({ encrypted: true }), { proto: 'https', host: 'inner:8995', prefix: '', clientIp: '10.0.0.2' });
  });

  it('no peer at all: untrusted, client IP empty', () => {
    assert.deepEqual(resolve({ peer: undefined, xfHost: 'evil.com' }), { proto: 'http', host: 'inner:8995', prefix: '', clientIp: '' });
  });

  it('an untrusted IPv4-mapped peer is reported unmapped', () => {
    assert.equal(resolve({ peer: '::ffff:203.0.113.9' }).clientIp, '203.0.113.9');
    assert.equal(resolve({ peer: '2001:db8::9' }).clientIp, '2001:db8::9');
  });

  it('X-Forwarded-Proto: the first value, any case; other values fall back', () => {
    const proto = (xfProto: string, encrypted = false) => resolve({ xfProto, encrypted }).proto;
    assert.equal(proto('https'), 'https');
    assert.equal(proto('http', true), 'http');
    assert.equal(proto('HTTPS'), 'https');
    assert.equal(proto('Http', true), 'http');
    assert.equal(proto('https, http'), 'https');
    assert.equal(proto('http,https', true), 'http');
    assert.equal(proto(' https , http'), 'https');
    assert.equal(proto('gopher', true), 'https');
    assert.equal(proto('gopher'), 'http');
    assert.equal(proto('ws'), 'http');
    assert.equal(proto('wss', true), 'https');
    assert.equal(proto('', true), 'https');
    assert.equal(proto(', https'), 'http'); // a blank first value is not skipped
    assert.equal(proto('httpsx'), 'http');
  });

  it('X-Forwarded-Host: the first value, trimmed, checked', () => {
    const host = (xfHost: string) => resolve({ xfHost }).host;
    assert.equal(host('public.example'), 'public.example');
    assert.equal(host('a.example, b.example'), 'a.example');
    assert.equal(host(' a.example , b.example'), 'a.example');
    assert.equal(host('a.example:8443,b.example'), 'a.example:8443');
    assert.equal(host(', b.example'), 'inner:8995'); // a blank first value is not skipped
    assert.equal(host(''), 'inner:8995');
    assert.equal(host('evil com'), 'inner:8995');
  });

  // The same check guards the request's own Host (untrusted peer) and X-Forwarded-Host.
  const hosts: [string, boolean][] = [
    ['berth.local', true],
    ['Berth.Example', true],
    ['b', true],
    ['berth.local:8', true],
    ['berth.local:8995', true],
    ['berth.local:65535', true],
    ['berth.local:123456', false],
    ['berth.local:', false],
    ['berth.local:x', false],
    ['[::1]', true],
    ['[::1]:8995', true],
    ['[FD00::A]:1', true],
    ['[::ffff:1.2.3.4]', true],
    ['[]', false],
    ['[::1', false],
    ['[::g]', false],
    ['a b', false],
    ['x y.example', false],
    ['evil.com/path', false],
    ['evil.com:80/x', false],
    ['user@evil.com', false],
    ['évil.com', false],
    ['', false],
  ];
  for (const [h, ok] of hosts) {
    it(`Host ${JSON.stringify(h)} ${ok ? 'is used' : 'falls back'}`, () => {
      assert.equal(resolve({ peer: '203.0.113.9', host: h, xfHost: 'x.example' }).host, ok ? h : '127.0.0.1:8995');
      assert.equal(resolve({ xfHost: h }).host, ok ? h : 'inner:8995');
    });
  }

  it('X-Forwarded-For: mapped hops are unmapped, the walk stops at garbage', () => {
    assert.equal(resolve({ xfFor: '::ffff:198.51.100.1' }).clientIp, '198.51.100.1');
    assert.equal(resolve({ xfFor: '198.51.100.1, ::ffff:10.0.0.3' }).clientIp, '198.51.100.1');
    assert.equal(resolve({ xfFor: '198.51.100.1,evil,10.0.0.3' }).clientIp, '10.0.0.3');
    assert.equal(resolve({ xfFor: '' }).clientIp, '10.0.0.2');
    assert.equal(resolve({ peer: '::ffff:10.0.0.2', xfFor: '10.0.0.4,10.0.0.3' }).clientIp, '10.0.0.4');
  });
});

function req(socket: Record<string, unknown>, headers: Record<string, string | string[]> = {}): IncomingMessage {
  return { headers, socket } as unknown as IncomingMessage;
}

describe('forwardedInfo: socket and header details', () => {
  const trusted = parseTrustedProxies(['10.0.0.0/8']);

  it('repeated X-Forwarded-* headers are read as one comma-separated list', () => {
    const r = req({ remoteAddress: '10.0.0.2', localAddress: '127.0.0.1', localPort: 8995 }, {
      host: 'inner',
      'x-forwarded-for': ['203.0.113.1', '198.51.100.1'],
      'x-forwarded-host': ['a.example', 'b.example'],
      'x-forwarded-proto': ['https', 'http'],
      'x-forwarded-prefix': ['/outer', '/other'],
    });
    assert.deepEqual(forwardedInfo(r, trusted), { proto: 'https', host: 'a.example', prefix: '/outer', clientIp: '198.51.100.1' });
  });

  it('the local address stands in for a missing Host: IPv6 in brackets, mapped unmapped, defaults', () => {
    const local = (socket: Record<string, unknown>) => forwardedInfo(req({ remoteAddress: '203.0.113.9', ...socket }), trusted).host;
    assert.equal(local({ localAddress: '::1', localPort: 8995 }), '[::1]:8995');
    assert.equal(local({ localAddress: '::ffff:10.0.0.5', localPort: 443 }), '10.0.0.5:443');
    assert.equal(local({ localAddress: '192.0.2.4' }), '192.0.2.4:80');
    assert.equal(local({}), '127.0.0.1:80');
  });

  it('only a socket whose encrypted is true counts as TLS', () => {
    const proto = (encrypted: unknown) => forwardedInfo(req({ remoteAddress: '203.0.113.9', encrypted }, { host: 'h' }), trusted).proto;
    assert.equal(proto(true), 'https');
    assert.equal(proto(undefined), 'http');
    assert.equal(proto('yes'), 'http');
  });
});
