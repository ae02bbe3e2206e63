import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isBerthError } from '../errors.js';
import { checkPreviewConfig, parseDuration, parsePreviewConfig } from './config.schema.js';

const FULL = `# a two-service preview
services:
  - name: web
    build:
      context: .
      containerfile: Containerfile
    port: 3000
    env:
      NODE_ENV: production
      WORKERS: 2
      DEBUG: false
    healthcheck:
      http: /healthz
      interval: 500ms
      timeout: 1s
      retries: 5
  - name: api
    image: localhost/api:dev
    command: [node, server.js]
    port: 4000
    healthcheck:
      command: [curl, -f, http://localhost:4000/]
  - name: worker
    image: localhost/worker:dev
routes:
  /api/: api
database: host
ttl: 7d
`;

test('a full config parses into the normalized shape', () => {
  const cfg = parsePreviewConfig(FULL);
  assert.equal(cfg.services.length, 3);
  assert.deepEqual(cfg.services[0], {
    name: 'web',
    build: { context: '.', containerfile: 'Containerfile' },
    image: null,
    command: null,
    port: 3000,
    env: { NODE_ENV: 'production', WORKERS: '2', DEBUG: 'false' },
    healthcheck: { kind: 'http', path: '/healthz', intervalMs: 500, timeoutMs: 1000, retries: 5 },
  });
  assert.deepEqual(cfg.services[1]!.healthcheck, {
    kind: 'command',
    command: ['curl', '-f', 'http://localhost:4000/'],
    intervalMs: 2000,
    timeoutMs: 2000,
    retries: 30,
  });
  assert.equal(cfg.services[2]!.port, null);
  // Trailing slash dropped, `/` added for the first service, longest prefix first.
  assert.deepEqual(cfg.routes, [
    { path: '/api', service: 'api' },
    { path: '/', service: 'web' },
  ]);
  assert.equal(cfg.database, 'host');
  assert.equal(cfg.ttlMs, 7 * 86_400_000);
});

test('the minimum: one service with a command; defaults fill the rest', () => {
  const cfg = parsePreviewConfig('services:\n  - name: app\n    command: [node, index.js]\n    port: 8080\n');
  assert.deepEqual(cfg.routes, [{ path: '/', service: 'app' }]);
  assert.equal(cfg.database, 'none');
  assert.equal(cfg.ttlMs, null);
  assert.deepEqual(cfg.services[0]!.env, {});
});

test('an explicit / route wins over the first-service default', () => {
  const cfg = parsePreviewConfig('services:\n  - name: a\n    image: x\n  - name: b\n    image: y\n    port: 80\nroutes:\n  /: b\n');
  assert.deepEqual(cfg.routes, [{ path: '/', service: 'b' }]);
});

/** Each case: YAML, then the exact first problem line it must produce. */
const invalid: [string, string, string][] = [
  ['wrong port type, with line and column', 'services:\n  - name: web\n    image: x\n    port: "3000"\n', 'berth.preview.yaml:4:11: services.0.port: Invalid input: expected number, received string'],
  ['port out of range', 'services:\n  - name: web\n    image: x\n    port: 70000\n', 'berth.preview.yaml:4:11: services.0.port: Too big: expected number to be <=65535'],
  ['build and image together', 'services:\n  - name: web\n    build: { context: . }\n    image: x\n    port: 1\n', 'berth.preview.yaml:4:12: services.0.image: give either build or image, not both'],
  ['neither build, image nor command', 'services:\n  - name: web\n    port: 1\n', 'berth.preview.yaml:2:5: services.0: needs build, image or command'],
  [
    'duplicate service names',
    'services:\n  - name: web\n    image: x\n    port: 1\n  - name: web\n    image: y\n',
    'berth.preview.yaml:5:11: services.1.name: duplicate service name "web" (also services.0)',
  ],
  [
    'route to an unknown service',
    'services:\n  - name: web\n    image: x\n    port: 1\nroutes:\n  /api: api\n',
    'berth.preview.yaml:6:9: routes./api: no service named "api" (services: web)',
  ],
  [
    'route to a service without a port',
    'services:\n  - name: web\n    image: x\n    port: 1\n  - name: worker\n    image: y\nroutes:\n  /jobs: worker\n',
    'berth.preview.yaml:8:10: routes./jobs: service "worker" has no port to route to',
  ],
  ['route without a leading slash', 'services:\n  - name: web\n    image: x\n    port: 1\nroutes:\n  api: web\n', 'berth.preview.yaml:6:8: routes.api: route api must start with /'],
  ['route with a dot segment', 'services:\n  - name: web\n    image: x\n    port: 1\nroutes:\n  /a/../b: web\n', 'berth.preview.yaml:6:12: routes./a/../b: route /a/../b must not contain empty, . or .. segments'],
  ['first service has no port and / is not routed', 'services:\n  - name: worker\n    image: x\n', 'berth.preview.yaml:2:5: services.0.port: the first service serves / and needs a port (or add a route for /)'],
  ['unknown key points at the key', 'services:\n  - name: web\n    image: x\n    port: 1\n    healtcheck: { http: / }\n', 'berth.preview.yaml:5:5: services.0.healtcheck: Unrecognized key: "healtcheck"'],
  ['command as a shell string', 'services:\n  - name: web\n    command: npm start\n    port: 1\n', 'berth.preview.yaml:3:14: services.0.command: must be a list of arguments like [node, server.js] (no shell strings)'],
  ['build context escaping the repository', 'services:\n  - name: web\n    build: { context: ../.. }\n    port: 1\n', 'berth.preview.yaml:3:23: services.0.build.context: must be a relative path inside the repository'],
  ['absolute containerfile', 'services:\n  - name: web\n    build:\n      containerfile: /etc/passwd\n    port: 1\n', 'berth.preview.yaml:4:22: services.0.build.containerfile: must be a relative path inside the repository'],
  ['bad database mode', 'services:\n  - name: web\n    image: x\n    port: 1\ndatabase: postgres\n', 'berth.preview.yaml:5:11: database: Invalid option: expected one of "host"|"container"|"none"'],
  ['bad ttl', 'services:\n  - name: web\n    image: x\n    port: 1\nttl: 3 days\n', 'berth.preview.yaml:5:6: ttl: must be a duration like 30s, 5m, 72h or 7d (a bare number means seconds)'],
  ['http healthcheck without port', 'services:\n  - name: w\n    image: x\n    port: 1\n  - name: b\n    image: y\n    healthcheck: { http: /h }\n', 'berth.preview.yaml:7:26: services.1.healthcheck.http: an http healthcheck needs the service port'],
  ['healthcheck with both probes', 'services:\n  - name: w\n    image: x\n    port: 1\n    healthcheck: { http: /h, command: [/bin/true] }\n', 'berth.preview.yaml:5:18: services.0.healthcheck: needs exactly one of http or command'],
  ['missing name points at the service', 'services:\n  - image: x\n    port: 1\n', 'berth.preview.yaml:2:5: services.0.name: Invalid input: expected string, received undefined'],
  ['bad env name', 'services:\n  - name: w\n    image: x\n    port: 1\n    env: { "A-B": x }\n', 'berth.preview.yaml:5:12: services.0.env.A-B: must be an environment variable name'],
  ['empty services', 'services: []\n', 'berth.preview.yaml:1:11: services: needs at least one service'],
  [
    'option-shaped image (the option-injection reproduction)',
    'services:\n  - name: web\n    image: --privileged\n    command: [localhost/img:latest, sh]\n    port: 1\n',
    'berth.preview.yaml:3:12: services.0.image: "--privileged" must not start with "-" (it would read as an engine option); give an image reference like busybox, localhost/app:dev or docker.io/library/debian:12-slim',
  ],
  ['image with a short option', 'services:\n  - name: web\n    image: "-v"\n    port: 1\n', 'berth.preview.yaml:3:12: services.0.image: "-v" must not start with "-" (it would read as an engine option); give an image reference like busybox, localhost/app:dev or docker.io/library/debian:12-slim'],
  ['image with a newline', 'services:\n  - name: web\n    image: "img\\n--privileged"\n    port: 1\n', 'berth.preview.yaml:3:12: services.0.image: "img\\n--privileged" must not contain whitespace or control characters; give an image reference like busybox, localhost/app:dev or docker.io/library/debian:12-slim'],
  ['upper-case image', 'services:\n  - name: web\n    image: IMG\n    port: 1\n', 'berth.preview.yaml:3:12: services.0.image: "IMG" has an invalid path component "IMG" (lower-case letters and digits, separated by ".", "_", "__" or "-"); give an image reference like busybox, localhost/app:dev or docker.io/library/debian:12-slim'],
  ['NUL in a command argument', 'services:\n  - name: web\n    command: [node, "a\\0b"]\n    port: 1\n', 'berth.preview.yaml:3:21: services.0.command.1: must not contain a NUL character'],
  ['YAML syntax error', 'services:\n  - name: web\n    port: [1\n', 'berth.preview.yaml:4:1: Flow sequence in block collection must be sufficiently indented and end with a ]'],
  ['duplicate YAML key', 'services:\n  - name: web\n    image: x\n    image: y\n', 'berth.preview.yaml:4:5: Map keys must be unique'],
  ['empty file', '', 'berth.preview.yaml:1:1: is empty; it needs at least a services list'],
  ['not a mapping', '- a\n- b\n', 'berth.preview.yaml:1:1: Invalid input: expected object, received array'],
];

for (const [name, yaml, expected] of invalid) {
  test(`invalid: ${name}`, () => {
    const result = checkPreviewConfig(yaml);
    assert.equal(result.ok, false, 'should not validate');
    if (result.ok) return;
    assert.equal(result.message.split('\n')[0], expected);
  });
}

test('every problem is reported, in file order, and parse throws E_PREVIEW_CONFIG_INVALID', () => {
  const yaml = 'services:\n  - name: Web\n    image: x\n    port: 0\nttl: soon\n';
  const result = checkPreviewConfig(yaml, 'repo/berth.preview.yaml');
  assert.equal(result.ok, false);
  if (result.ok) return;
  assert.deepEqual(
    result.problems.map((p) => `${p.line}:${p.col} ${p.path}`),
    ['2:11 services.0.name', '4:11 services.0.port', '5:6 ttl'],
  );
  assert.throws(
    () => parsePreviewConfig(yaml),
    (err: unknown) => isBerthError(err) && err.code === 'E_PREVIEW_CONFIG_INVALID' && err.status === 422 && err.message.split('\n').length === 3,
  );
});

test('alias bombs are refused rather than expanded', () => {
  const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
  for (let i = 0; i < 8; i++) bomb.push(`${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10).fill(`*${String.fromCharCode(97 + i)}`).join(', ')}]`);
  const result = checkPreviewConfig(`${bomb.join('\n')}\nservices: []\n`);
  assert.equal(result.ok, false);
});

test('parseDuration', () => {
  assert.equal(parseDuration('72h'), 72 * 3_600_000);
  assert.equal(parseDuration('7d'), 7 * 86_400_000);
  assert.equal(parseDuration('1h30m'), 90 * 60_000);
  assert.equal(parseDuration('250ms'), 250);
  assert.equal(parseDuration(' 30s '), 30_000);
  for (const bad of ['', '0s', '7', 'h', '1.5h', '-1h', '3 days', '1w']) assert.equal(parseDuration(bad), null, bad);
});

test('parseDuration refuses a total past Number.MAX_SAFE_INTEGER ms instead of a rounded or infinite one', () => {
  assert.equal(parseDuration(`${Number.MAX_SAFE_INTEGER}ms`), Number.MAX_SAFE_INTEGER, 'the largest exact total still parses');
  assert.equal(parseDuration(`${Number.MAX_SAFE_INTEGER}ms1ms`), null, 'one past it, by summing');
  assert.equal(parseDuration('9007199254740993ms'), null, 'one past it, in one term (not exactly representable)');
  assert.equal(parseDuration('104249991375d'), null, 'a day count whose product overflows the safe range');
  assert.equal(parseDuration(`${'9'.repeat(400)}s`), null, 'digits that parse to Infinity');
});

test('a bare number ttl or interval means seconds; zero or negative is refused', () => {
  const base = 'services:\n  - name: web\n    image: x\n    port: 1\n';
  assert.equal(parsePreviewConfig(`${base}ttl: 3600\n`).ttlMs, 3_600_000);
  assert.equal(checkPreviewConfig(`${base}ttl: 0\n`).ok, false);
  assert.equal(checkPreviewConfig(`${base}ttl: -5\n`).ok, false);
});
