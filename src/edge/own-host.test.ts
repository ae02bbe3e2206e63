/** Which Host headers name this Berth (edge/own-host.ts): a table over the rules. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isOwnHost, localHostOf, splitHost } from './own-host.js';

const v4 = { address: '192.168.1.5', port: 8995, encrypted: false };
const mapped = { address: '::ffff:192.168.1.5', port: 8995, encrypted: false };
const v6 = { address: 'fd00::5', port: 8995, encrypted: false };

describe('isOwnHost', () => {
  const cases: [string | undefined, typeof v4, boolean, string][] = [
    ['localhost:8995', v4, true, 'localhost'],
    ['LOCALHOST:8995', v4, true, 'case-insensitive'],
    ['app.localhost:8995', v4, true, '*.localhost is loopback (RFC 6761)'],
    ['127.0.0.1:8995', v4, true, 'loopback v4'],
    ['127.8.9.10:8995', v4, true, 'all of 127/8'],
    ['[::1]:8995', v4, true, 'loopback v6'],
    ['192.168.1.5:8995', v4, true, 'the address the connection arrived at'],
    ['192.168.1.5:8995', mapped, true, 'a dual-stack listener reports it mapped'],
    ['[fd00::5]:8995', v6, true, 'v6 local address'],
    ['berth-box:8995', v4, true, "this machine's host name"],
    ['evil.example:8995', v4, false, 'a foreign name'],
    ['evil.localhost.example:8995', v4, false, 'localhost only as the last label'],
    ['192.168.1.6:8995', v4, false, 'another address'],
    ['localhost:8996', v4, false, 'another port'],
    ['localhost', v4, false, 'no port means 80'],
    ['localhost', { ...v4, port: 80 }, true, 'no port on a port-80 listener'],
    ['localhost', { ...v4, port: 443, encrypted: true }, true, 'no port on TLS means 443'],
    [undefined, v4, false, 'no Host'],
    ['local host:8995', v4, false, 'malformed'],
    ['localhost:8995@evil.example', v4, false, 'userinfo tricks'],
    ['', v4, false, 'empty'],
  ];
  for (const [host, local, want, why] of cases) {
    it(`${JSON.stringify(host)} → ${want} (${why})`, () => assert.equal(isOwnHost(host, local, 'berth-box'), want));
  }
});

describe('splitHost and localHostOf', () => {
  it('splits names and bracketed addresses', () => {
    assert.deepEqual(splitHost('Example.COM.:81'), ['example.com', 81]);
    assert.deepEqual(splitHost('[::1]'), ['::1', null]);
    assert.equal(splitHost('a b'), null);
  });
  it('writes the listener end as ip:port', () => {
    assert.equal(localHostOf(mapped), '192.168.1.5:8995');
    assert.equal(localHostOf(v6), '[fd00::5]:8995');
  });
});
