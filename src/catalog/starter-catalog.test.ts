/**
 * The starter catalog shipped in /catalog: every manifest validates, and renders into a complete
 * environment (no `${` left) for a realistic install context.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { formatManifestError, loadCatalog } from './load.js';
import { generateSecret, renderCommand, renderEnv, renderHealthcheck, type TemplateContext } from './template.js';

const CATALOG = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../catalog');

const ctx: TemplateContext = {
  app: { url: 'https://berth.example.com/embed/x', basePath: '/embed/x', origin: 'https://berth.example.com' },
  postgres: { url: 'postgres://app_x:pw@host.containers.internal:5432/app_x', host: 'host.containers.internal', port: 5432, user: 'app_x', password: 'pw', database: 'app_x' },
  redis: { url: 'redis://host.containers.internal:6379/1', host: 'host.containers.internal', port: 6379, db: 1 },
  getSecret: () => generateSecret(),
};

test('every manifest in catalog/ is valid, and there are at least 6', async () => {
  const { apps, errors } = await loadCatalog([CATALOG]);
  assert.deepEqual(errors.map(formatManifestError), []);
  assert.ok(apps.size >= 6, `only ${apps.size} apps`);
  for (const name of ['gitea', 'miniflux', 'uptime-kuma', 'vaultwarden', 'jupyter', 'code-server']) assert.ok(apps.has(name), name);
});

test('starter apps: images, served ports and the settings each one depends on', async () => {
  const { apps } = await loadCatalog([CATALOG]);
  const expect: Record<string, { image: RegExp; http: number; requires: string[]; subpath: boolean }> = {
    gitea: { image: /^docker\.io\/gitea\/gitea:/, http: 3000, requires: ['postgres'], subpath: true },
    miniflux: { image: /^docker\.io\/miniflux\/miniflux:/, http: 8080, requires: ['postgres'], subpath: true },
    'uptime-kuma': { image: /^docker\.io\/louislam\/uptime-kuma:1$/, http: 3001, requires: [], subpath: false },
    vaultwarden: { image: /^docker\.io\/vaultwarden\/server:/, http: 80, requires: [], subpath: true },
    jupyter: { image: /^quay\.io\/jupyter\/base-notebook:/, http: 8888, requires: [], subpath: true },
    'code-server': { image: /^docker\.io\/codercom\/code-server:/, http: 8080, requires: [], subpath: true },
    'paperless-ngx': { image: /^ghcr\.io\/paperless-ngx\/paperless-ngx:/, http: 8000, requires: ['postgres', 'redis'], subpath: true },
  };
  for (const [name, want] of Object.entries(expect)) {
    const m = apps.get(name);
    assert.ok(m, name);
    assert.match(m.image, want.image, name);
    assert.equal(m.ports.http, want.http, name);
    assert.deepEqual(m.requires, want.requires, name);
    assert.equal(m.embed.subpath, want.subpath, name);
  }
  const env = (name: string): Record<string, string> => renderEnv(apps.get(name)!, ctx);
  assert.equal(env('gitea').GITEA__server__ROOT_URL, 'https://berth.example.com/embed/x/');
  assert.equal(env('gitea').GITEA__database__HOST, 'host.containers.internal:5432');
  assert.equal(env('miniflux').DATABASE_URL, 'postgres://app_x:pw@host.containers.internal:5432/app_x?sslmode=disable');
  assert.equal(env('miniflux').BASE_URL, 'https://berth.example.com/embed/x/');
  assert.equal(env('miniflux').RUN_MIGRATIONS, '1');
  assert.equal(env('vaultwarden').DOMAIN, 'https://berth.example.com/embed/x');
  assert.match(env('jupyter').NOTEBOOK_ARGS!, /--ServerApp\.base_url=\/embed\/x\//);
  assert.deepEqual(renderCommand(apps.get('code-server')!, ctx), ['--auth', 'password', '--abs-proxy-base-path', '/embed/x']);
  assert.equal(env('paperless-ngx').PAPERLESS_REDIS, 'redis://host.containers.internal:6379/1');
  assert.equal(env('paperless-ngx').PAPERLESS_URL, 'https://berth.example.com');
});

test('every starter app renders completely and has a health check', async () => {
  const { apps } = await loadCatalog([CATALOG]);
  for (const m of apps.values()) {
    const rendered = [...Object.values(renderEnv(m, ctx)), ...(renderCommand(m, ctx) ?? [])];
    const h = renderHealthcheck(m, ctx);
    if (h.kind === 'http') rendered.push(h.path);
    for (const v of rendered) assert.ok(!v.includes('${'), `${m.name}: unresolved template in ${v}`);
    assert.ok(h.retries * h.intervalMs + h.startPeriodMs >= 60_000, `${m.name}: gives the app at least a minute to come up`);
    // An app that keeps the prefix is told about it; one that gets it stripped must not check under it.
    if (h.kind === 'http') assert.equal(h.path.startsWith('/embed/x'), !m.embed.stripPrefix, m.name);
    assert.ok(m.icon, `${m.name}: icon`);
  }
});
