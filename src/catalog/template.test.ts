import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseManifest } from './load.js';
import { generateSecret, manifestSecrets, renderCommand, renderEnv, renderHealthcheck, renderTemplate, scanTemplate, type TemplateContext } from './template.js';

function context(secrets = new Map<string, string>()): TemplateContext & { secrets: Map<string, string> } {
  return {
    secrets,
    app: { url: 'https://berth.example.com/outer/embed/demo', basePath: '/outer/embed/demo', origin: 'https://berth.example.com' },
    postgres: {
      url: 'postgres://app_demo:p%40ss@host.containers.internal:5432/app_demo',
      host: 'host.containers.internal',
      port: 5432,
      user: 'app_demo',
      password: 'p@ss',
      database: 'app_demo',
    },
    redis: { url: 'redis://host.containers.internal:6379/3', host: 'host.containers.internal', port: 6379, db: 3 },
    // Generate once, then always the stored value: what the app service does with its store.
    getSecret(name) {
      let v = secrets.get(name);
      if (v === undefined) secrets.set(name, (v = generateSecret()));
      return v;
    },
  };
}

const MANIFEST = `name: demo
title: Demo
description: d
image: docker.io/library/demo:1
ports: {http: 8080}
requires: [postgres, redis]
command: [serve, "--base=\${app.basePath}", "--token=\${secret:token}"]
env:
  DATABASE_URL: \${postgres.url}?sslmode=disable
  DB: "\${postgres.host}:\${postgres.port}/\${postgres.database} as \${postgres.user}/\${postgres.password}"
  REDIS: \${redis.url}
  REDIS_PARTS: \${redis.host} \${redis.port} \${redis.db}
  ROOT_URL: \${app.url}/
  ORIGIN: \${app.origin}
  ADMIN_PASSWORD: \${secret:admin_password}
  ADMIN_PASSWORD_AGAIN: \${secret:admin_password}
  LITERAL: "cost: $5, template: $\${app.url}"
healthcheck: {http: "\${app.basePath}/healthz"}
embed: {stripPrefix: false}
`;

test('renderEnv resolves every variable and secret', () => {
  const { manifest } = parseManifest(MANIFEST, 'app.yaml');
  assert.ok(manifest);
  const ctx = context();
  const env = renderEnv(manifest, ctx);
  const pw = ctx.secrets.get('admin_password');
  assert.ok(pw && pw.length === 32);
  assert.deepEqual(env, {
    DATABASE_URL: 'postgres://app_demo:p%40ss@host.containers.internal:5432/app_demo?sslmode=disable',
    DB: 'host.containers.internal:5432/app_demo as app_demo/p@ss',
    REDIS: 'redis://host.containers.internal:6379/3',
    REDIS_PARTS: 'host.containers.internal 6379 3',
    ROOT_URL: 'https://berth.example.com/outer/embed/demo/',
    ORIGIN: 'https://berth.example.com',
    ADMIN_PASSWORD: pw,
    ADMIN_PASSWORD_AGAIN: pw,
    LITERAL: 'cost: $5, template: ${app.url}',
  });
});

test('secrets are stable across renders when the callback returns the stored value', () => {
  const { manifest } = parseManifest(MANIFEST, 'app.yaml');
  assert.ok(manifest);
  const ctx = context();
  const first = renderEnv(manifest, ctx);
  const second = renderEnv(manifest, context(new Map(ctx.secrets)));
  assert.equal(second.ADMIN_PASSWORD, first.ADMIN_PASSWORD);
  assert.deepEqual(manifestSecrets(manifest), ['admin_password', 'token']);
});

test('command and health check are rendered too', () => {
  const { manifest } = parseManifest(MANIFEST, 'app.yaml');
  assert.ok(manifest);
  const ctx = context(new Map([['token', 't0k']]));
  assert.deepEqual(renderCommand(manifest, ctx), ['serve', '--base=/outer/embed/demo', '--token=t0k']);
  assert.deepEqual(renderHealthcheck(manifest, ctx), { ...manifest.healthcheck, path: '/outer/embed/demo/healthz' });
  assert.equal(renderCommand({ command: undefined }, ctx), undefined);
});

test('a variable whose service was not provisioned is a caller bug, not a silent empty string', () => {
  const ctx = { ...context(), postgres: undefined };
  assert.throws(() => renderTemplate('${postgres.url}', ctx), /needs postgres/);
});

test('scanTemplate: text, variables, secrets, escapes and problems with positions', () => {
  assert.deepEqual(scanTemplate('a${app.url}b$${x}${secret:k}$'), {
    parts: [
      { kind: 'text', text: 'a' },
      { kind: 'var', name: 'app.url', requires: null, raw: '${app.url}' },
      { kind: 'text', text: 'b${x}' },
      { kind: 'secret', name: 'k', raw: '${secret:k}' },
      { kind: 'text', text: '$' },
    ],
    problems: [],
  });
  const { problems } = scanTemplate('x ${nope} ${secret:} ${open');
  assert.deepEqual(
    problems.map((p) => [p.index, p.raw]),
    [
      [2, '${nope}'],
      [10, '${secret:}'],
      [21, '${open'],
    ],
  );
});
