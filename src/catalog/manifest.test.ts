import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatManifestError, parseManifest } from './load.js';

const FILE = 'catalog/demo/app.yaml';

/** A valid manifest; tests change one line of it. */
const VALID = `name: demo
title: Demo
description: A demo app
image: docker.io/library/demo:1.0
ports:
  http: 8080
  metrics: 9100
requires: [postgres, redis]
env:
  DATABASE_URL: \${postgres.url}?sslmode=disable
  REDIS_URL: \${redis.url}
  BASE_URL: \${app.url}/
  ADMIN_PASSWORD: \${secret:admin_password}
  WORKERS: 4
  DEBUG: false
dependsOn: [other]
healthcheck:
  http: \${app.basePath}/health
  interval: 10s
  timeout: 500ms
  retries: 5
  startPeriod: 1m
volumes:
  data: /var/lib/demo
resources:
  cpus: 1.5
  memory: 1g
embed:
  subpath: true
  stripPrefix: false
`;

/** Formatted errors for VALID with `from` replaced by `to`. */
function errorsFor(from: string, to: string): string[] {
  assert.ok(VALID.includes(from), `fixture lacks ${from}`);
  return parseManifest(VALID.replace(from, to), FILE).errors.map(formatManifestError);
}

test('a valid manifest parses and is normalized', () => {
  const { manifest, errors } = parseManifest(VALID, FILE);
  assert.deepEqual(errors, []);
  assert.ok(manifest);
  assert.deepEqual(manifest.ports, { http: 8080, metrics: 9100 });
  assert.deepEqual(manifest.env.WORKERS, '4', 'numbers become strings');
  assert.deepEqual(manifest.env.DEBUG, 'false');
  assert.deepEqual(manifest.healthcheck, { kind: 'http', path: '${app.basePath}/health', intervalMs: 10_000, timeoutMs: 500, retries: 5, startPeriodMs: 60_000 });
  assert.deepEqual(manifest.resources, { cpus: 1.5, memoryMb: 1024 });
  assert.deepEqual(manifest.embed, { subpath: true, stripPrefix: false });
  assert.deepEqual(manifest.requires, ['postgres', 'redis']);
  assert.deepEqual(manifest.volumes, { data: '/var/lib/demo' });
  assert.equal(parseManifest(VALID.replace('embed:\n', 'restart: on-failure\nembed:\n'), FILE).manifest?.restart, 'on-failure');
  assert.equal(manifest.source, FILE);
});

test('defaults: no env, no requires, default health timing, embed under a prefix-stripping sub-path', () => {
  const { manifest } = parseManifest(
    'name: tiny\ntitle: Tiny\ndescription: d\nimage: localhost/tiny\nports: {http: 80}\nhealthcheck: {command: [/bin/true]}\n',
    FILE,
  );
  assert.ok(manifest);
  assert.deepEqual(manifest.env, {});
  assert.deepEqual(manifest.requires, []);
  assert.deepEqual(manifest.dependsOn, []);
  assert.deepEqual(manifest.volumes, {});
  assert.equal(manifest.restart, 'always', 'apps restart after any exit unless the manifest says otherwise');
  assert.deepEqual(manifest.healthcheck, { kind: 'command', argv: ['/bin/true'], intervalMs: 5000, timeoutMs: 3000, retries: 60, startPeriodMs: 0 });
  assert.deepEqual(manifest.embed, { subpath: true, stripPrefix: true });
  assert.equal(manifest.resources, undefined);
});

// Each row: what to change in VALID, and the exact error lines expected.
const cases: { name: string; from: string; to: string; want: string[] }[] = [
  {
    name: 'unknown template variable, pointing at the ${ inside the value',
    from: 'REDIS_URL: ${redis.url}',
    to: 'REDIS_URL: redis=${redis.uri}',
    want: [`${FILE}:11:20: env.REDIS_URL: unknown template variable \${redis.uri} (did you mean \${redis.url}?)`],
  },
  {
    name: 'unknown template variable far from any known one lists them',
    from: 'BASE_URL: ${app.url}/',
    to: 'BASE_URL: ${hostname}',
    want: [
      `${FILE}:12:13: env.BASE_URL: unknown template variable \${hostname} (known: \${postgres.url}, \${postgres.host}, \${postgres.port}, \${postgres.user}, \${postgres.password}, \${postgres.database}, \${redis.url}, \${redis.host}, \${redis.port}, \${redis.db}, \${app.url}, \${app.basePath}, \${app.origin}, \${secret:NAME})`,
    ],
  },
  {
    name: 'unterminated template',
    from: 'BASE_URL: ${app.url}/',
    to: 'BASE_URL: ${app.url',
    want: [`${FILE}:12:13: env.BASE_URL: unterminated "\${": close it with "}" (write "$\${" for a literal "\${")`],
  },
  {
    name: 'invalid secret name',
    from: '${secret:admin_password}',
    to: '${secret:admin password}',
    want: [`${FILE}:13:19: env.ADMIN_PASSWORD: invalid secret name in \${secret:admin password}: use 1-64 letters, digits, "_" or "-"`],
  },
  {
    name: 'a postgres template without requires: postgres',
    from: 'requires: [postgres, redis]',
    to: 'requires: [redis]',
    want: [`${FILE}:10:17: env.DATABASE_URL: uses \${postgres.url} but "requires" does not list postgres`],
  },
  {
    name: 'healthcheck with both http and command',
    from: '  interval: 10s',
    to: '  command: [curl, -f, localhost]\n  interval: 10s',
    want: [`${FILE}:18:3: healthcheck: needs exactly one of \`http: /path\` or \`command: [argv…]\``],
  },
  {
    name: 'healthcheck with a bad duration',
    from: '  interval: 10s',
    to: '  interval: ten seconds',
    want: [`${FILE}:19:13: healthcheck.interval: must be a duration like 500ms, 10s, 2m, 1h (or a number of seconds)`],
  },
  {
    name: 'healthcheck http path must start with /',
    from: 'http: ${app.basePath}/health',
    to: 'http: health',
    want: [`${FILE}:18:9: healthcheck.http: must be a path starting with "/" (or "\${app.basePath}/")`],
  },
  {
    name: 'healthcheck retries out of range',
    from: 'retries: 5',
    to: 'retries: 0',
    want: [`${FILE}:21:12: healthcheck.retries: Too small: expected number to be >=1`],
  },
  {
    name: '${app.basePath} in the health path of a prefix-stripped app',
    from: '  stripPrefix: false',
    to: '  stripPrefix: true',
    want: [`${FILE}:18:9: healthcheck.http: uses \${app.basePath} but embed.stripPrefix is true: the app sees paths without the prefix`],
  },
  {
    name: 'missing healthcheck',
    from: 'healthcheck:\n  http: ${app.basePath}/health\n  interval: 10s\n  timeout: 500ms\n  retries: 5\n  startPeriod: 1m\n',
    to: '',
    want: [`${FILE}:1:1: healthcheck: is required (expected object)`],
  },
  {
    name: 'misspelt top-level field',
    from: 'volumes:',
    to: 'volume:',
    want: [`${FILE}:23:1: volume: unknown field (did you mean "volumes"?)`],
  },
  {
    name: 'misspelt nested field',
    from: 'startPeriod: 1m',
    to: 'start_period: 1m',
    want: [`${FILE}:22:3: healthcheck.start_period: unknown field (did you mean "startPeriod"?)`],
  },
  {
    name: 'no http port',
    from: '  http: 8080\n',
    to: '',
    want: [`${FILE}:6:3: ports: needs an \`http\` port: the one the proxy serves`],
  },
  {
    name: 'port out of range, and a duplicate container port',
    from: 'metrics: 9100',
    to: 'metrics: 8080\n  debug: 70000',
    want: [`${FILE}:7:12: ports.metrics: duplicates "http" (8080)`, `${FILE}:8:10: ports.debug: Too big: expected number to be <=65535`],
  },
  {
    name: 'duplicate container port',
    from: 'metrics: 9100',
    to: 'metrics: 8080',
    want: [`${FILE}:7:12: ports.metrics: duplicates "http" (8080)`],
  },
  {
    name: 'bad env name and reserved prefix',
    from: '  WORKERS: 4',
    to: '  2WORKERS: 4\n  BERTH_TOKEN: x',
    want: [
      `${FILE}:14:3: env.2WORKERS: invalid name: env names are letters, digits and "_", not starting with a digit`,
      `${FILE}:15:3: env.BERTH_TOKEN: invalid name: BERTH_* variables are set by Berth`,
    ],
  },
  {
    name: 'image without a registry',
    from: 'image: docker.io/library/demo:1.0',
    to: 'image: demo:1.0',
    want: [`${FILE}:4:8: image: must be a fully qualified image like docker.io/library/nginx:1.27`],
  },
  {
    name: 'option-shaped image',
    from: 'image: docker.io/library/demo:1.0',
    to: 'image: --privileged',
    want: [`${FILE}:4:8: image: "--privileged" must not start with "-" (it would read as an engine option); give a fully qualified image like docker.io/library/nginx:1.27`],
  },
  {
    name: 'image with an option after a space',
    from: 'image: docker.io/library/demo:1.0',
    to: 'image: "docker.io/library/demo:1.0 --privileged"',
    want: [`${FILE}:4:8: image: "docker.io/library/demo:1.0 --privileged" must not contain whitespace or control characters; give a fully qualified image like docker.io/library/nginx:1.27`],
  },
  {
    name: 'unknown shared service',
    from: 'requires: [postgres, redis]',
    to: 'requires: [postgres, redis, mysql]',
    want: [`${FILE}:8:29: requires[2]: Invalid option: expected one of "postgres"|"redis"`],
  },
  {
    name: 'depending on itself',
    from: 'dependsOn: [other]',
    to: 'dependsOn: [other, demo]',
    want: [`${FILE}:16:20: dependsOn[1]: an app cannot depend on itself`],
  },
  {
    name: 'relative volume path',
    from: '  data: /var/lib/demo',
    to: '  data: var/lib/demo',
    want: [`${FILE}:24:9: volumes.data: must be an absolute container path (no ":" or ",")`],
  },
  {
    name: 'two volume names that map to one env variable',
    from: '  data: /var/lib/demo',
    to: '  my-data: /var/lib/demo\n  my_data: /var/lib/other',
    want: [`${FILE}:25:12: volumes.my_data: duplicates "my-data" (BERTH_VOLUME_MY_DATA)`],
  },
  {
    name: 'unknown restart policy',
    from: 'embed:\n',
    to: 'restart: sometimes\nembed:\n',
    want: [`${FILE}:28:10: restart: must be one of no, on-failure, always`],
  },
  {
    name: 'memory below the engines\' minimum',
    from: 'memory: 1g',
    to: 'memory: 1k',
    want: [`${FILE}:27:11: resources.memory: must be at least 6m`],
  },
  {
    name: 'invalid app name',
    from: 'name: demo',
    to: 'name: Demo--App',
    want: [`${FILE}:1:7: name: must be lowercase letters, digits and single dashes, starting with a letter`],
  },
  {
    name: 'empty embed',
    from: 'embed:\n  subpath: true\n  stripPrefix: false\n',
    to: 'embed:\n',
    want: [`${FILE}:28:1: embed: is empty (expected object)`],
  },
  {
    name: 'YAML syntax error',
    from: 'title: Demo',
    to: 'title: [Demo',
    want: [`${FILE}:3:1: Flow sequence in block collection must be sufficiently indented and end with a ]`],
  },
  {
    name: 'duplicate key',
    from: 'title: Demo',
    to: 'title: Demo\ntitle: Again',
    want: [`${FILE}:3:1: Map keys must be unique`],
  },
];

for (const c of cases) {
  test(`manifest error: ${c.name}`, () => {
    assert.deepEqual(errorsFor(c.from, c.to), c.want);
  });
}

test('errors come in file order, all of them at once', () => {
  const text = VALID.replace('title: Demo', 'title: 42').replace('retries: 5', 'retries: -1').replace('image: docker.io/library/demo:1.0', 'image: ""');
  const lines = parseManifest(text, FILE).errors.map((e) => e.line);
  assert.deepEqual(lines, [2, 4, 21]);
});

test('a manifest that is not a mapping', () => {
  assert.deepEqual(parseManifest('- just\n- a list\n', FILE).errors.map(formatManifestError), [
    `${FILE}:1:1: a manifest must be a YAML mapping (name: …, image: …)`,
  ]);
  assert.equal(parseManifest('', FILE).errors.length, 1);
});
