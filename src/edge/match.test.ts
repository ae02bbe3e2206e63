import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RoutableWorkload } from '../domain/route.js';
import { buildRouteTable } from './route-table.js';
import { hostnameOf, matchRequest, normalizePath, type MatchResult } from './match.js';

function ws(id: string, hostPorts: number[], state: RoutableWorkload['state'] = 'running'): RoutableWorkload {
  return { kind: 'workspace', id, name: `n-${id}`, state, upstreamHost: '127.0.0.1', ports: hostPorts.map((hostPort, i) => ({ containerPort: 8000 + i, hostPort })) };
}

const table = buildRouteTable([ws('abc', [9000, 9001]), ws('def', [9005]), ws('off', [9010], 'stopped')], { appsDomain: 'apps.example.com' });

function summary(m: MatchResult): string {
  switch (m.type) {
    case 'route':
      return `route ${m.route.workloadId}:${m.route.upstream.port} ${m.path}`;
    case 'redirect':
      return `redirect ${m.location}`;
    case 'unavailable':
      return `unavailable ${m.route.workloadId}`;
    case 'llm':
      return `llm ${m.path}`;
    default:
      return m.type;
  }
}

describe('normalizePath', () => {
  const cases: [string, string | null][] = [
    ['/a/b/c', '/a/b/c'],
    ['/a/./b/../c', '/a/c'],
    ['/a/b/..', '/a/'],
    ['/a/b/.', '/a/b/'],
    ['/../../a', '/a'],
    ['/a%2Fb/c', '/a%2Fb/c'],
    ['/file%2ename.txt', '/file%2ename.txt'],
    ['/a/%2e%2e/b', null],
    ['/a/%2E%2E/b', null],
    ['/a/%2e/b', null],
    ['/a/..%2fb', null],
    ['/a/..%2Fb', null],
    ['/a/%2e./b', null],
    ['/a/.%2e/b', null],
    ['/a/%252e%252e/b', null],
    ['/a\\b', null],
    ['/a/%5cb', null],
    ['/a/%5C..', null],
    ['/a/%00', null],
    ['/a/\0', null],
    ['/a/%zz', null],
    ['/a/..;/b', null],
    ['relative', null],
  ];
  for (const [input, expected] of cases) {
    it(`${JSON.stringify(input)} → ${JSON.stringify(expected)}`, () => assert.equal(normalizePath(input), expected));
  }
});

describe('matchRequest: paths', () => {
  const cases: [url: string, expected: string][] = [
    ['/hosted/abc/9000/', 'route abc:9000 /'],
    ['/hosted/abc/9000/x/y?q=1&r=%2F', 'route abc:9000 /x/y?q=1&r=%2F'],
    ['/hosted/abc/9001/a%2Fb', 'route abc:9001 /a%2Fb'],
    ['/hosted/abc/9000/a/../b', 'route abc:9000 /b'],
    ['/x/../hosted/abc/9000/', 'route abc:9000 /'],
    ['/hosted/abc/9000', 'redirect 9000/'],
    ['/hosted/abc/9000?x=1', 'redirect 9000/?x=1'],
    ['/hosted/off/9010/', 'unavailable off'],
    ['/api/workspaces', 'none'],
    ['/', 'none'],
    ['/hostedx/abc/9000/', 'none'],
    ['*', 'none'],
    ['/llm/v1/chat?stream=1', 'llm /v1/chat?stream=1'],
    ['/llm', 'llm '],
    ['/llmx', 'none'],
  ];
  for (const [url, expected] of cases) {
    it(`${url} → ${expected}`, () => assert.equal(summary(matchRequest(table, url, '127.0.0.1:8995')), expected));
  }
});

describe('matchRequest: keepPrefix ports', () => {
  const keep = buildRouteTable([{ ...ws('vit', []), ports: [{ containerPort: 8000, hostPort: 9100, keepPrefix: true }] }]);
  it('forwards the whole normalized path', () => {
    assert.equal(summary(matchRequest(keep, '/hosted/vit/9100/src/../main.js?t=1', 'h')), 'route vit:9100 /hosted/vit/9100/main.js?t=1');
  });
  it('still refuses what a stripping route refuses', () => {
    assert.equal(matchRequest(keep, '/hosted/vit/9100/%2e%2e/x', 'h').type, 'not-found');
    assert.equal(matchRequest(keep, '/hosted/vit/9101/', 'h').type, 'not-found');
  });
});

describe('matchRequest: malicious and unknown paths are 404 without a route', () => {
  const malicious = [
    '/hosted/abc/9000/%2e%2e/%2e%2e/etc/passwd',
    '/hosted/abc/9000/%2E%2E/',
    '/hosted/abc/9000/..%2f..%2f9005/',
    '/hosted/abc/9000/%2e./x',
    '/hosted/abc/9000/.%2e/x',
    '/hosted/abc/%2e%2e/9000/',
    '/hosted/abc/9000/%252e%252e/x',
    '/hosted/abc/9000/..\\x',
    '/hosted/abc/9000/%5c..%5cx',
    '/hosted/abc\\9000/',
    '/hosted//abc/9000/',
    '//hosted/abc/9000/',
    '/hosted/abc//9000/',
    '/hosted/abc/9000//evil.com',
    '/hosted/abc/9000/%00',
    '/hosted/abc/90a0/',
    '/hosted/abc/09000/',
    '/hosted/abc/-9000/',
    '/hosted/abc/9000.0/',
    '/hosted/abc/+9000/',
    '/hosted/abc/99999999999/',
    '/hosted/abc/ 9000/',
    '/hosted/zzz/9000/',
    '/hosted/abc/9005/',
    '/hosted/def/9000/',
    '/hosted/abc/9002/',
    '/hosted/abc/22/',
    '/hosted/abc/',
    '/hosted/abc',
    '/hosted/',
    '/hosted',
    '/hosted/ABC/9000/',
    '/hosted/abc/9005',
    '/hosted/abc/9000/..;/x',
    '/llm//evil',
  ];
  for (const url of malicious) {
    it(url, () => assert.equal(matchRequest(table, url, '127.0.0.1').type, 'not-found'));
  }
});

describe('matchRequest: hosts', () => {
  const cases: [host: string, url: string, expected: string][] = [
    ['9000--abc.apps.example.com', '/x/y?z', 'route abc:9000 /x/y?z'],
    ['9000--ABC.Apps.Example.com:8995', '/', 'route abc:9000 /'],
    ['9000--abc.apps.example.com.', '/', 'route abc:9000 /'],
    ['9000--abc.apps.example.com', '/hosted/def/9005/', 'route abc:9000 /hosted/def/9005/'],
    ['9010--off.apps.example.com', '/', 'unavailable off'],
    ['9000--abc.apps.example.com', '/%2e%2e/x', 'not-found'],
    ['9000--abc.apps.example.com.evil.com', '/', 'none'],
    ['x9000--abc.apps.example.com', '/', 'not-found'],
    ['9005--abc.apps.example.com', '/', 'not-found'],
    ['9000--abc.apps.example.comx', '/', 'none'],
    ['evil.com', '/hosted/abc/9000/', 'route abc:9000 /'],
    ['apps.example.com', '/', 'none'],
    ['9000--abc.apps.example.com', 'http://9000--abc.apps.example.com/', 'not-found'],
  ];
  for (const [host, url, expected] of cases) {
    it(`${host} ${url} → ${expected}`, () => assert.equal(summary(matchRequest(table, url, host)), expected));
  }

  it('without an apps domain, hosts are ignored', () => {
    const t = buildRouteTable([ws('abc', [9000])]);
    assert.equal(matchRequest(t, '/', '9000--abc.apps.example.com').type, 'none');
  });

  it('hostnameOf strips the port, the trailing dot and case; keeps IPv6 brackets', () => {
    assert.equal(hostnameOf('A.B:80'), 'a.b');
    assert.equal(hostnameOf('a.b.'), 'a.b');
    assert.equal(hostnameOf('[::1]:8995'), '[::1]');
    assert.equal(hostnameOf('[::1]'), '[::1]');
  });
});
