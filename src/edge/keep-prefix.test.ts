// Keep-prefix workspace ports: the full public path goes upstream (outer prefix included), and no
// path trick on a keep route reaches another workspace, an unallocated port, or leaves the base.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RoutableWorkload } from '../domain/route.js';
import { buildRouteTable, routeUnchanged } from './route-table.js';
import { matchRequest, type MatchResult } from './match.js';

function ws(id: string, ports: [hostPort: number, keep: boolean][], outerPrefix?: string): RoutableWorkload {
  return {
    kind: 'workspace',
    id,
    name: `n-${id}`,
    state: 'running',
    upstreamHost: '127.0.0.1',
    ...(outerPrefix !== undefined ? { outerPrefix } : {}),
    ports: ports.map(([hostPort, keepPrefix], i) => ({ containerPort: 8000 + i, hostPort, keepPrefix })),
  };
}

function summary(m: MatchResult): string {
  if (m.type === 'route') return `route ${m.route.workloadId}:${m.route.upstream.port} ${m.path}`;
  if (m.type === 'redirect') return `redirect ${m.location}`;
  return m.type;
}

describe('keep-prefix workspace routes', () => {
  // abc: 9000 keep, 9001 strip; def: 9005 keep; both told the outer prefix /berth.
  const table = buildRouteTable([ws('abc', [[9000, true], [9001, false]], '/berth'), ws('def', [[9005, true]], '/berth'), ws('root', [[9010, true]])]);

  it('forwards the full public path, outer prefix included; strip ports are unchanged', () => {
    assert.equal(summary(matchRequest(table, '/hosted/abc/9000/tree?x=1', undefined)), 'route abc:9000 /berth/hosted/abc/9000/tree?x=1');
    assert.equal(summary(matchRequest(table, '/hosted/abc/9001/tree?x=1', undefined)), 'route abc:9001 /tree?x=1');
    assert.equal(summary(matchRequest(table, '/hosted/root/9010/', undefined)), 'route root:9010 /hosted/root/9010/');
    assert.equal(summary(matchRequest(table, '/hosted/abc/9000', undefined)), 'redirect 9000/');
  });

  it('still names the base in X-Forwarded-Prefix (route part), and prepends nothing to strip routes', () => {
    const keep = table.pathRoutes.get('/hosted/abc/9000/')!;
    const strip = table.pathRoutes.get('/hosted/abc/9001/')!;
    assert.deepEqual([keep.stripPrefix, keep.prependPath, keep.forwardedPrefix], ['', '/berth', '/hosted/abc/9000']);
    assert.deepEqual([strip.stripPrefix, strip.prependPath, strip.forwardedPrefix], ['/hosted/abc/9001', '', '/hosted/abc/9001']);
  });

  // Attacks: each must either stay on the same route with a path under its base, or be refused.
  const attacks: [url: string, expected: string][] = [
    // Dot segments are resolved before matching: what is left is authorized as whatever it names.
    ['/hosted/abc/9000/../9001/x', 'route abc:9001 /x'],
    ['/hosted/abc/9000/../../def/9005/x', 'route def:9005 /berth/hosted/def/9005/x'],
    ['/hosted/abc/9000/a/../../x', 'not-found'],
    ['/hosted/abc/9000/a/../b', 'route abc:9000 /berth/hosted/abc/9000/b'],
    // Escaped dots and separators that an upstream might decode are refused outright.
    ['/hosted/abc/9000/%2e%2e/%2e%2e/def/9005/', 'not-found'],
    ['/hosted/abc/9000/%2E%2E/9001/', 'not-found'],
    ['/hosted/abc/9000/..%2f..%2fdef%2f9005/', 'not-found'],
    ['/hosted/abc/9000/%252e%252e/x', 'not-found'],
    ['/hosted/abc/9000/..;/x', 'not-found'],
    ['/hosted/abc/9000/%5c..%5cx', 'not-found'],
    // `//` inside the kept path stays inside the base; `//` in the route prefix is refused.
    ['/hosted/abc/9000//etc/passwd', 'not-found'],
    ['/hosted/abc/9000//../../def/9005/', 'not-found'],
    ['/hosted/abc/9000/a//etc/passwd', 'route abc:9000 /berth/hosted/abc/9000/a//etc/passwd'],
    ['/hosted/abc/9000/a//../../../def/9005/', 'not-found'],
    ['/hosted/abc/9000/a//../x', 'route abc:9000 /berth/hosted/abc/9000/a/x'],
    ['//hosted/abc/9000/', 'not-found'],
    ['/hosted//abc/9000/', 'not-found'],
    ['/hosted/abc//9000/', 'not-found'],
    // Unallocated ports and other workspaces' ports never match a keep route.
    ['/hosted/abc/9002/', 'not-found'],
    ['/hosted/abc/9005/', 'not-found'],
    ['/hosted/def/9000/', 'not-found'],
    ['/hosted/abc/09000/', 'not-found'],
    ['/hosted/abc/9000%2f/', 'not-found'],
    // The outer prefix is never taken from the request.
    ['/berth/hosted/abc/9000/', 'none'],
  ];
  for (const [url, expected] of attacks) {
    it(`${url} → ${expected}`, () => {
      const m = matchRequest(table, url, undefined);
      assert.equal(summary(m), expected);
      if (m.type === 'route') {
        // The forwarded path starts with the matched route's own public base, never another's.
        const base = m.route.prependPath + m.key;
        assert.ok(m.route.stripPrefix !== '' || m.path.startsWith(base), `${m.path} escapes ${base}`);
        assert.equal(m.route.upstream.port, Number(m.key.split('/')[3]));
      }
    });
  }

  it('a prefix mode change is a route change: open WebSockets on it are closed', () => {
    const before = table.pathRoutes.get('/hosted/abc/9000/')!;
    const after = buildRouteTable([ws('abc', [[9000, false], [9001, false]], '/berth')]);
    assert.equal(routeUnchanged(after, '/hosted/abc/9000/', before), false);
    const same = buildRouteTable([ws('abc', [[9000, true], [9001, false]], '/berth')]);
    assert.equal(routeUnchanged(same, '/hosted/abc/9000/', before), true);
  });

  it('refuses a workload whose outer prefix could break the request line or hide traversal', () => {
    for (const bad of ['berth', '/a b', '/a\r\nX: y', '/a/../b', '/a//b', '/./a', '/a/', '/%2e%2e', '/a?b', '/a#b']) {
      const t = buildRouteTable([ws('bad', [[9100, true]], bad)]);
      assert.equal(t.pathRoutes.size, 0, JSON.stringify(bad));
      assert.match(t.rejected[0]!.reason, /invalid outer prefix/);
    }
    for (const good of ['', '/berth', '/a/b-c_d.e~f', '/x']) {
      assert.equal(buildRouteTable([ws('ok', [[9100, true]], good)]).pathRoutes.size, 1, JSON.stringify(good));
    }
  });
});
