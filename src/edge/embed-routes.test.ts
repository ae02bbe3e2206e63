import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appWorkloads } from '../services/app-routes.js';
import type { InstalledApp } from '../store/apps-repo.js';
import { buildRouteTable } from './route-table.js';
import { matchRequest, type MatchResult } from './match.js';

function app(name: string, hostPort: number, over: Partial<InstalledApp> = {}): InstalledApp {
  return {
    name,
    state: 'running',
    reason: null,
    settings: {},
    hosting: { proto: 'https', host: 'berth.example.com', basePath: '/outer' },
    embed: { subpath: true, stripPrefix: true },
    runtimeRef: 'ref',
    upstreamHost: '127.0.0.1',
    ports: [
      { name: 'http', containerPort: 8080, hostPort },
      { name: 'ssh', containerPort: 22, hostPort: hostPort + 1 },
    ],
    volumes: [],
    restartPolicy: 'always',
    restartCount: 0,
    nextRestartAt: null,
    exitCode: null,
    createdAt: '',
    updatedAt: '',
    ...over,
  };
}

const table = buildRouteTable(
  [
    ...appWorkloads([
      app('gitea', 9100),
      app('miniflux', 9110, { embed: { subpath: true, stripPrefix: false } }),
      app('slow', 9120, { state: 'installing' }),
      // A failed install keeps no ports; a crash after it ran keeps them (the app may be restarted).
      app('broken', 9130, { state: 'failed', runtimeRef: null, ports: [] }),
      app('crashed', 9150, { state: 'failed', exitCode: 137 }),
      app('kuma', 9140, { embed: { subpath: false, stripPrefix: true } }),
    ]),
    // A workspace may share an app's name: their routes never collide.
    { kind: 'workspace', id: 'gitea', name: 'gitea', state: 'running', upstreamHost: '127.0.0.1', ports: [{ containerPort: 8000, hostPort: 9200 }] },
  ],
  { appsDomain: 'apps.example.com' },
);

function summary(m: MatchResult): string {
  if (m.type === 'route') return `route ${m.route.kind}:${m.route.upstream.port} ${m.path} strip=${m.route.stripPrefix}`;
  if (m.type === 'redirect') return `redirect ${m.location}`;
  if (m.type === 'unavailable') return `unavailable ${m.route.workloadId}`;
  return m.type;
}

describe('app routes: /embed/{app}/ only', () => {
  it('builds one route per app for its http port, with the access rule for any logged-in user', () => {
    assert.deepEqual([...table.pathRoutes.keys()].sort(), ['/embed/crashed/', '/embed/gitea/', '/embed/miniflux/', '/embed/slow/', '/hosted/gitea/9200/']);
    assert.deepEqual([...table.hostRoutes.keys()].sort(), ['9200--gitea.apps.example.com', 'kuma.apps.example.com']);
    const r = table.pathRoutes.get('/embed/gitea/')!;
    assert.equal(r.kind, 'app');
    assert.deepEqual(r.access, { visibility: 'private', ownerId: null, anyUser: true, dashboardUrl: 'https://berth.example.com/outer' });
    assert.deepEqual(table.rejected, []);
  });

  const cases: [string, string, string?][] = [
    ['/embed/gitea/', 'route app:9100 / strip=/embed/gitea'],
    ['/embed/gitea/user/login?next=%2F', 'route app:9100 /user/login?next=%2F strip=/embed/gitea'],
    ['/embed/gitea', 'redirect gitea/'],
    ['/embed/gitea?x=1', 'redirect gitea/?x=1'],
    ['/embed/miniflux/feeds', 'route app:9110 /outer/embed/miniflux/feeds strip='],
    ['/embed/slow/', 'unavailable slow'],
    ['/embed/broken/', 'not-found'],
    ['/embed/crashed/', 'unavailable crashed'],
    ['/embed/nobody/', 'not-found'],
    ['/embed/nobody', 'not-found'],
    ['/embed//gitea/', 'not-found'],
    ['/embed/x/../gitea/', 'route app:9100 / strip=/embed/gitea'],
    ['/gitea/', 'none'],
    ['/user/login', 'none'],
    ['/embed/kuma/', 'not-found'],
    ['/', 'route app:9140 / strip=', 'kuma.apps.example.com'],
    ['/hosted/gitea/9200/', 'route workspace:9200 / strip=/hosted/gitea/9200'],
  ];
  for (const [url, want, host] of cases) {
    it(`${host ?? ''}${url} → ${want}`, () => assert.equal(summary(matchRequest(table, url, host ?? 'berth.example.com')), want));
  }
});
