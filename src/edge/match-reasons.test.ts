// Why a request is refused (the `reason` of a not-found, which the edge logs): pinned per case, so
// a refusal taken for the wrong reason — a branch swapped for another — shows up here.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RoutableWorkload } from '../domain/route.js';
import { buildRouteTable } from './route-table.js';
import { matchRequest, normalizePath, type MatchResult } from './match.js';
import { withPreviewRoutes } from './preview-routes.js';

const ws = (id: string, hostPort: number, kind: RoutableWorkload['kind'] = 'workspace'): RoutableWorkload => ({
  kind, id, name: `n-${id}`, state: 'running', upstreamHost: '127.0.0.1', ports: [{ containerPort: 8000, hostPort }],
});
const table = withPreviewRoutes(
  buildRouteTable([ws('abc', 9000), ws('gitea', 9100, 'app')], { appsDomain: 'apps.example.com' }),
  [{ id: 'pv1', name: 'o/r#1', host: '1.preview.example.com', routes: [{ prefix: '/', upstreamHost: '127.0.0.1', hostPort: 9901 }] }],
  'preview.example.com',
);

const said = (m: MatchResult): string => (m.type === 'not-found' ? m.reason : m.type === 'redirect' ? `redirect ${m.location}` : m.type === 'route' ? `route ${m.route.upstream.port} ${m.path}` : m.type);
const reason = (url: string, host?: string): string => said(matchRequest(table, url, host));

describe('matchRequest: the reason of each refusal', () => {
  const cases: [url: string, host: string | undefined, want: string][] = [
    ['//hosted/abc/9000/', undefined, 'double slash in route prefix'],
    ['/hosted/abc', undefined, 'no port in hosted path'],
    ['/hosted//9000/', undefined, 'double slash in route prefix'],
    ['/hosted/abc/x/', undefined, 'non-numeric port'],
    ['/hosted/abc/0/', undefined, 'non-numeric port'],
    ['/hosted/abc/123456/', undefined, 'non-numeric port'],
    ['/hosted/abc//', undefined, 'double slash in route prefix'],
    ['/hosted/abc/9000//x', undefined, 'double slash in route prefix'],
    ['/hosted/abc/9001/', undefined, 'unknown route'],
    ['/hosted/abc/9001', undefined, 'unknown route'],
    ['/hosted/abc/9000?q=1', undefined, 'redirect 9000/?q=1'],
    ['/embed//gitea/', undefined, 'double slash in route prefix'],
    ['//embed/gitea/', undefined, 'double slash in route prefix'],
    ['/embed/nope', undefined, 'unknown app'],
    ['/embed/nope/x', undefined, 'unknown app'],
    ['/embed/gitea?x', undefined, 'redirect gitea/?x'],
    ['/llm//v1', undefined, 'double slash in route prefix'],
    ['//llm/v1', undefined, 'double slash in route prefix'],
    ['/a/%zz', undefined, 'malformed path'],
    ['/a/%zz', '9000--abc.apps.example.com', 'malformed path'],
    ['/', 'nope.apps.example.com', 'unknown app host'],
    ['/', '2.preview.example.com', 'unknown preview host'],
    ['http://x/', 'abc.apps.example.com', 'request target not in origin-form'],
    ['*', 'berth.example.com', 'none'],
    ['/', 'berth.example.com', 'none'],
    ['/hostedx/abc/9000/', undefined, 'none'],
    ['/llmx', undefined, 'none'],
    // The prefixes are anchored: only a path that starts with them is theirs.
    ['/x/hosted/abc/9000/', undefined, 'none'],
    ['/x/embed/gitea/', undefined, 'none'],
    ['/x/llm/v1', undefined, 'none'],
    ['/hosted', undefined, 'double slash in route prefix'],
    ['/embed', undefined, 'double slash in route prefix'],
    ['/llm', undefined, 'llm'],
    ['/hosted/abc/x9000/', undefined, 'non-numeric port'],
    ['/hosted/abc/9000x/', undefined, 'non-numeric port'],
    ['/hosted/abc/9000/x?y', undefined, 'route 9000 /x?y'],
    ['http://x/', undefined, 'none'],
  ];
  for (const [url, host, want] of cases) {
    it(`${url}${host ? ` (Host: ${host})` : ''} → ${want}`, () => assert.equal(reason(url, host), want));
  }
});

describe('matchRequest: tables without an apps domain, or with previews only', () => {
  const plain = buildRouteTable([ws('abc', 9000)]);
  const previewsOnly = withPreviewRoutes(buildRouteTable([ws('abc', 9000)]), [], 'preview.example.com');

  it('without any domain the Host header is not read at all, also when missing', () => {
    assert.equal(said(matchRequest(plain, '/hosted/abc/9000/x', undefined)), 'route 9000 /x');
    assert.equal(said(matchRequest(plain, '/hosted/abc/9000/x', 'anything.example.com')), 'route 9000 /x');
    assert.equal(said(matchRequest(plain, 'http://x/', 'xnull')), 'none');
    assert.equal(said(matchRequest(plain, 'http://x/', undefined)), 'none');
  });

  it('with previews only, other hosts and app-like hosts go on to path routing', () => {
    assert.equal(said(matchRequest(previewsOnly, '/', 'berth.example.com')), 'none');
    assert.equal(said(matchRequest(previewsOnly, '/', 'x.apps.example.com')), 'none');
    assert.equal(said(matchRequest(previewsOnly, '/hosted/abc/9000/', 'x.apps.example.com')), 'route 9000 /');
    assert.equal(said(matchRequest(previewsOnly, '/', '9.preview.example.com')), 'unknown preview host');
  });
});

describe('normalizePath: how deep hidden escapes are looked for', () => {
  const cases: [string, string | null][] = [
    ['/a/%25zz', '/a/%25zz'], // %zz after one decode is data, not a malformed escape
    ['/a/%25252e/b', null], // three decodes reach "."
    ['/a/%2525252e/b', '/a/%2525252e/b'], // four would; Berth looks three deep (no upstream decodes more)
    ['/a/%252f..', null],
    ['/a/%255c', null],
    ['/a/%2500', null],
  ];
  for (const [input, want] of cases) it(`${input} → ${want}`, () => assert.equal(normalizePath(input), want));
});
