import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RoutableWorkload } from '../domain/route.js';
import { buildRouteTable, routeUnchanged, upstreamOrigin } from './route-table.js';

function ws(id: string, hostPorts: number[], extra: Partial<RoutableWorkload> = {}): RoutableWorkload {
  return {
    kind: 'workspace',
    id,
    name: `name-${id}`,
    state: 'running',
    upstreamHost: '127.0.0.1',
    ports: hostPorts.map((hostPort, i) => ({ containerPort: 8000 + i, hostPort })),
    ...extra,
  };
}

describe('buildRouteTable', () => {
  const cases: { name: string; rows: RoutableWorkload[]; appsDomain?: string; paths: string[]; hosts: string[]; rejected: string[] }[] = [
    { name: 'empty input gives an empty table', rows: [], paths: [], hosts: [], rejected: [] },
    {
      name: 'one path route per allocated port',
      rows: [ws('abc', [9000, 9001])],
      paths: ['/hosted/abc/9000/', '/hosted/abc/9001/'],
      hosts: [],
      rejected: [],
    },
    {
      name: 'host routes only with an apps domain, lowercased, port of the domain ignored',
      rows: [ws('abc', [9000])],
      appsDomain: 'Apps.Example.COM:8443',
      paths: ['/hosted/abc/9000/'],
      hosts: ['9000--abc.apps.example.com'],
      rejected: [],
    },
    {
      name: 'stopped, failed and creating workloads keep their routes (for the 503 page)',
      rows: [ws('s1', [9000], { state: 'stopped' }), ws('f1', [9001], { state: 'failed' }), ws('c1', [9002], { state: 'creating' })],
      paths: ['/hosted/s1/9000/', '/hosted/f1/9001/', '/hosted/c1/9002/'],
      hosts: [],
      rejected: [],
    },
    {
      name: 'an id that is not DNS-label safe is rejected',
      rows: [ws('../x', [9000]), ws('A-B', [9001]), ws('ok', [9002])],
      paths: ['/hosted/ok/9002/'],
      hosts: [],
      rejected: ['../x', 'A-B'],
    },
    {
      name: 'invalid ports are rejected, valid ones of the same workload kept',
      rows: [ws('abc', [9000, 0, 70000, 9001.5])],
      paths: ['/hosted/abc/9000/'],
      hosts: [],
      rejected: ['abc', 'abc', 'abc'],
    },
    {
      name: 'one upstream claimed by two workloads routes for neither',
      rows: [ws('aaa', [9000, 9001]), ws('bbb', [9001, 9002])],
      paths: ['/hosted/aaa/9000/', '/hosted/bbb/9002/'],
      hosts: [],
      rejected: ['aaa', 'bbb'],
    },
    {
      name: 'the same host port on different upstream hosts is fine',
      rows: [ws('aaa', [9000]), ws('bbb', [9000], { upstreamHost: '10.0.0.2' })],
      paths: ['/hosted/aaa/9000/', '/hosted/bbb/9000/'],
      hosts: [],
      rejected: [],
    },
    {
      name: 'a duplicated id routes for neither row',
      rows: [ws('abc', [9000]), ws('abc', [9001])],
      paths: [],
      hosts: [],
      rejected: ['abc', 'abc'],
    },
    {
      name: 'an upstream host that could smuggle into a URL is rejected',
      rows: [ws('abc', [9000], { upstreamHost: 'evil.com/x' }), ws('def', [9001], { upstreamHost: '' })],
      paths: [],
      hosts: [],
      rejected: ['abc', 'def'],
    },
  ];

  for (const c of cases) {
    it(c.name, () => {
      const t = buildRouteTable(c.rows, c.appsDomain ? { appsDomain: c.appsDomain } : {});
      assert.deepEqual([...t.pathRoutes.keys()].sort(), [...c.paths].sort());
      assert.deepEqual([...t.hostRoutes.keys()].sort(), [...c.hosts].sort());
      assert.deepEqual(t.rejected.map((r) => r.workloadId).sort(), [...c.rejected].sort());
    });
  }

  it('a route dials the allocated host port on the reported upstream host', () => {
    const t = buildRouteTable([ws('abc', [9000], { upstreamHost: '10.88.0.5', name: 'web' })], { appsDomain: 'apps.test' });
    const path = t.pathRoutes.get('/hosted/abc/9000/')!;
    assert.deepEqual(
      { ...path, upstream: { ...path.upstream } },
      {
        kind: 'workspace',
        workloadId: 'abc',
        workloadName: 'web',
        state: 'running',
        upstream: { host: '10.88.0.5', port: 9000, origin: 'http://10.88.0.5:9000' },
        hostPort: 9000,
        containerPort: 8000,
        stripPrefix: '/hosted/abc/9000',
        prependPath: '',
        forwardedPrefix: '/hosted/abc/9000',
        via: 'path',
        access: null,
      },
    );
    const host = t.hostRoutes.get('9000--abc.apps.test')!;
    assert.equal(host.stripPrefix, '');
    assert.equal(host.via, 'host');
    assert.equal(host.upstream.port, 9000);
  });

  it('names every claimant of a contested upstream, once each', () => {
    const t = buildRouteTable([ws('bbb', [9001]), ws('aaa', [9000, 9001]), ws('ccc', [9001])]);
    assert.deepEqual(
      t.rejected.map((r) => r.reason),
      Array(3).fill('upstream http://127.0.0.1:9001 is claimed by aaa, bbb, ccc'),
    );
    assert.deepEqual([...t.pathRoutes.keys()], ['/hosted/aaa/9000/']);
  });

  it('a keepPrefix port strips nothing on its path route', () => {
    const t = buildRouteTable([{ ...ws('abc', []), ports: [{ containerPort: 8000, hostPort: 9000, keepPrefix: true }] }]);
    assert.equal(t.pathRoutes.get('/hosted/abc/9000/')?.stripPrefix, '');
  });

  it('the table and its routes are frozen', () => {
    const t = buildRouteTable([ws('abc', [9000])]);
    assert.ok(Object.isFrozen(t));
    assert.ok(Object.isFrozen(t.pathRoutes.get('/hosted/abc/9000/')));
    assert.throws(() => {
      (t as { hostSuffix: string | null }).hostSuffix = 'x';
    });
  });

  it('is pure: the same input gives equal tables, the input is not modified', () => {
    const rows = [ws('abc', [9000, 9001])];
    const before = JSON.stringify(rows);
    const a = buildRouteTable(rows, { appsDomain: 'apps.test' });
    const b = buildRouteTable(rows, { appsDomain: 'apps.test' });
    assert.deepEqual([...a.pathRoutes.entries()], [...b.pathRoutes.entries()]);
    assert.equal(JSON.stringify(rows), before);
  });

  it('brackets IPv6 upstream hosts in origins', () => {
    assert.equal(upstreamOrigin('::1', 9000), 'http://[::1]:9000');
    const t = buildRouteTable([ws('abc', [9000], { upstreamHost: '::1' })]);
    assert.equal(t.pathRoutes.get('/hosted/abc/9000/')?.upstream.origin, 'http://[::1]:9000');
  });
});

describe('routeUnchanged', () => {
  const before = buildRouteTable([ws('aaa', [9000]), ws('bbb', [9001])]);
  const route = before.pathRoutes.get('/hosted/aaa/9000/')!;

  it('holds when another workload changes', () => {
    const after = buildRouteTable([ws('aaa', [9000]), ws('ccc', [9002])]);
    assert.equal(routeUnchanged(after, '/hosted/aaa/9000/', route), true);
  });

  it('fails when the route is gone, stopped, or moved to another upstream', () => {
    assert.equal(routeUnchanged(buildRouteTable([ws('bbb', [9001])]), '/hosted/aaa/9000/', route), false);
    assert.equal(routeUnchanged(buildRouteTable([ws('aaa', [9000], { state: 'stopped' })]), '/hosted/aaa/9000/', route), false);
    assert.equal(routeUnchanged(buildRouteTable([ws('aaa', [9000], { upstreamHost: '10.0.0.9' })]), '/hosted/aaa/9000/', route), false);
  });
});

describe('access', () => {
  const access = { visibility: 'private' as const, ownerId: 'u1', dashboardUrl: 'http://berth.test' };
  it('keeps the access rule of private workloads on every route, and none for public ones', () => {
    const t = buildRouteTable(
      [
        { kind: 'workspace', id: 'priv', name: 'p', state: 'running', upstreamHost: '127.0.0.1', ports: [{ containerPort: 8000, hostPort: 9000 }], access },
        { kind: 'workspace', id: 'pub', name: 'q', state: 'running', upstreamHost: '127.0.0.1', ports: [{ containerPort: 8000, hostPort: 9001 }], access: { ...access, visibility: 'public' } },
      ],
      { appsDomain: 'apps.test' },
    );
    assert.deepEqual(t.pathRoutes.get('/hosted/priv/9000/')?.access, access);
    assert.deepEqual(t.hostRoutes.get('9000--priv.apps.test')?.access, access);
    assert.equal(t.pathRoutes.get('/hosted/pub/9001/')?.access, null);
  });
});
