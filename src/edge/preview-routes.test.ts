import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildRouteTable } from './route-table.js';
import { matchRequest } from './match.js';
import { previewSuffixOf, withPreviewRoutes } from './preview-routes.js';

const preview = {
  id: 'pv1',
  name: 'octo/app#12',
  host: '12.preview.example.com',
  routes: [
    { prefix: '/api/v2', upstreamHost: '127.0.0.1', hostPort: 9903 },
    { prefix: '/api', upstreamHost: '127.0.0.1', hostPort: 9902 },
    { prefix: '/', upstreamHost: '127.0.0.1', hostPort: 9901 },
  ],
};

const where = (table: ReturnType<typeof withPreviewRoutes>, url: string, host: string | undefined): string => {
  const m = matchRequest(table, url, host);
  return m.type === 'route' ? `${m.route.kind}:${m.route.upstream.port} ${m.path}` : m.type;
};

describe('preview routes', () => {
  const base = buildRouteTable([], { appsDomain: 'apps.example.com' });
  const table = withPreviewRoutes(base, [preview], 'preview.example.com:8995');

  it('routes {pr}.{domain} by longest path prefix on whole segments, forwarding the path unchanged', () => {
    assert.equal(where(table, '/', '12.preview.example.com'), 'preview:9901 /');
    assert.equal(where(table, '/api', '12.preview.example.com:8995'), 'preview:9902 /api');
    assert.equal(where(table, '/api/users?x=1', '12.preview.example.com'), 'preview:9902 /api/users?x=1');
    assert.equal(where(table, '/api/v2/x', '12.preview.example.com'), 'preview:9903 /api/v2/x');
    assert.equal(where(table, '/apix', '12.preview.example.com'), 'preview:9901 /apix');
  });

  it('answers 404 for unknown preview hosts instead of reaching the API, and leaves other hosts alone', () => {
    assert.equal(where(table, '/', '13.preview.example.com'), 'not-found');
    assert.equal(where(table, '/api/health', '127.0.0.1:8995'), 'none');
    assert.equal(where(table, '/', 'x.apps.example.com'), 'not-found');
  });

  it('works without an apps domain and keeps previews public', () => {
    const t = withPreviewRoutes(buildRouteTable([]), [preview], 'preview.example.com');
    const m = matchRequest(t, '/', '12.preview.example.com');
    assert.equal(m.type, 'route');
    assert.equal(m.type === 'route' && m.route.access, null);
  });

  it('refuses hosts outside the domain or claimed twice, and is a no-op without a domain', () => {
    const t = withPreviewRoutes(base, [preview, { ...preview, id: 'pv2' }, { ...preview, id: 'pv3', host: 'a.b.preview.example.com' }], 'preview.example.com');
    assert.deepEqual(t.rejected.map((r) => r.workloadId), ['pv2', 'pv3']);
    assert.equal(withPreviewRoutes(base, [preview], undefined), base);
    assert.equal(previewSuffixOf('Preview.Example.com.:80'), '.preview.example.com');
  });

  it('a preview without a / route is refused; one route needs no prefix list; an empty domain adds nothing', () => {
    const noRoot = { ...preview, id: 'pv4', host: '14.preview.example.com', routes: [{ prefix: '/api', upstreamHost: '127.0.0.1', hostPort: 9904 }] };
    const single = { ...preview, id: 'pv5', host: '15.Preview.Example.com', routes: [{ prefix: '/', upstreamHost: '127.0.0.1', hostPort: 9905 }] };
    const t = withPreviewRoutes(base, [noRoot, single], 'preview.example.com');
    assert.deepEqual(t.rejected, [{ workloadId: 'pv4', reason: 'preview has no route for /' }]);
    const route = t.hostRoutes.get('15.preview.example.com');
    assert.equal(route?.upstream.port, 9905);
    assert.equal(route?.prefixRoutes, undefined);
    assert.equal(where(t, '/anything', '15.preview.example.com'), 'preview:9905 /anything');
    assert.equal(withPreviewRoutes(base, [preview], '.'), base);
    assert.equal(withPreviewRoutes(base, [preview], ''), base);
    assert.equal(previewSuffixOf(' . '), null);
  });

  it('names why a host is refused', () => {
    const t = withPreviewRoutes(base, [{ ...preview, id: 'out', host: '12.other.example.com' }, { ...preview, id: 'deep', host: 'a.12.preview.example.com' }], 'preview.example.com');
    assert.deepEqual(t.rejected, [
      { workloadId: 'out', reason: 'preview host 12.other.example.com is not directly under preview.example.com' },
      { workloadId: 'deep', reason: 'preview host a.12.preview.example.com is not directly under preview.example.com' },
    ]);
  });
});
