// Edges of berth.preview.yaml validation that config.schema.test.ts leaves open: size limit,
// alias bombs, route prefix rules and order, bounds of names, healthchecks and durations. Written
// against the survivors of `node bench/mutation.mjs config.schema` (issue 19).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isBerthError } from '../errors.js';
import { checkPreviewConfig, formatProblem, parsePreviewConfig } from './config.schema.js';

const BASE = 'services:\n  - name: web\n    image: x\n    port: 1\n';

/** The whole message for `yaml` (all problems, one per line), or the config when it validates. */
function messageOf(yaml: string, fileName?: string): string {
  const r = checkPreviewConfig(yaml, fileName);
  assert.equal(r.ok, false, `should not validate:\n${yaml}`);
  return r.ok ? '' : r.message;
}

test('size limit: 256 KiB is read, one byte more is refused before parsing', () => {
  const pad = (bytes: number) => `${BASE}#${'x'.repeat(bytes - BASE.length - 2)}\n`;
  assert.equal(Buffer.byteLength(pad(256 * 1024)), 256 * 1024);
  assert.equal(checkPreviewConfig(pad(256 * 1024)).ok, true);
  assert.equal(messageOf(pad(256 * 1024 + 1)), 'berth.preview.yaml:1:1: is larger than 256 KiB');
  // Bytes, not characters: 100 000 three-byte characters are 300 000 bytes.
  assert.equal(messageOf(`${BASE}#${'€'.repeat(100_000)}\n`), 'berth.preview.yaml:1:1: is larger than 256 KiB');
});

test('an alias bomb is refused with the parser\'s reason, not expanded', () => {
  const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
  for (let i = 0; i < 8; i++) bomb.push(`${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10).fill(`*${String.fromCharCode(97 + i)}`).join(', ')}]`);
  assert.equal(messageOf(`${bomb.join('\n')}\n${BASE}`), 'berth.preview.yaml:1:1: Excessive alias count indicates a resource exhaustion attack');
  // A few aliases are fine.
  const cfg = parsePreviewConfig('services:\n  - name: web\n    image: &i localhost/a:1\n    port: 1\n  - name: two\n    image: *i\n');
  assert.deepEqual(cfg.services.map((s) => s.image), ['localhost/a:1', 'localhost/a:1']);
});

test('the file name is used in every line, and parse throws E_PREVIEW_CONFIG_INVALID with a hint naming it', () => {
  assert.equal(messageOf('services: []\n', 'sub/berth.preview.yaml'), 'sub/berth.preview.yaml:1:11: services: needs at least one service');
  assert.throws(
    () => parsePreviewConfig('services: []\n', 'sub/berth.preview.yaml'),
    (err: unknown) =>
      isBerthError(err) &&
      err.code === 'E_PREVIEW_CONFIG_INVALID' &&
      err.message === 'sub/berth.preview.yaml:1:11: services: needs at least one service' &&
      err.hint === 'fix sub/berth.preview.yaml in the pull request and push again',
  );
  assert.equal(formatProblem('f.yaml', { line: 3, col: 4, path: '', message: 'm' }), 'f.yaml:3:4: m');
  assert.equal(formatProblem('f.yaml', { line: 3, col: 4, path: 'a.0', message: 'm' }), 'f.yaml:3:4: a.0: m');
});

test('route prefixes: URL path characters only; /api and /api/ are the same route', () => {
  assert.equal(messageOf(`${BASE}routes:\n  "/a b": web\n`), 'berth.preview.yaml:6:11: routes./a b: route /a b may contain only URL path characters');
  assert.equal(messageOf(`${BASE}routes:\n  /a?x: web\n`), 'berth.preview.yaml:6:9: routes./a?x: route /a?x may contain only URL path characters');
  assert.equal(messageOf(`${BASE}routes:\n  /api: web\n  /api/: web\n`), 'berth.preview.yaml:7:10: routes./api/: route /api/ is the same as /api');
  assert.equal(messageOf(`${BASE}routes:\n  /a//b: web\n`), 'berth.preview.yaml:6:10: routes./a//b: route /a//b must not contain empty, . or .. segments');
  assert.equal(messageOf(`${BASE}routes:\n  /./b: web\n`), 'berth.preview.yaml:6:9: routes././b: route /./b must not contain empty, . or .. segments');
  // Every character the prefix rule allows, and a trailing slash on a deeper prefix.
  const cfg = parsePreviewConfig(`${BASE}routes:\n  "/A-z0.9_~!$&'()*+,;=:@%": web\n  /static/v1/: web\n`);
  assert.deepEqual(cfg.routes.map((r) => r.path), ["/A-z0.9_~!$&'()*+,;=:@%", '/static/v1', '/']);
});

test('routes: longest prefix first, then alphabetical; `/` is the first service unless routed', () => {
  const yaml = 'services:\n  - name: a\n    image: x\n    port: 1\n  - name: b\n    image: x\n    port: 2\nroutes:\n  /bb: b\n  /aa: a\n  /c: a\n';
  assert.deepEqual(parsePreviewConfig(yaml).routes, [
    { path: '/aa', service: 'a' },
    { path: '/bb', service: 'b' },
    { path: '/c', service: 'a' },
    { path: '/', service: 'a' },
  ]);
});

test('service names: at most 30 characters, lowercase, starting with a letter', () => {
  const named = (n: string) => `services:\n  - name: ${n}\n    image: x\n    port: 1\n`;
  assert.equal(parsePreviewConfig(named('a'.repeat(30))).services[0]!.name, 'a'.repeat(30));
  assert.equal(parsePreviewConfig(named('a-1')).services[0]!.name, 'a-1');
  const hint = 'must be lowercase letters, digits and dashes, starting with a letter (at most 30)';
  for (const n of ['a'.repeat(31), '1a', '-a', 'a_b', 'aB']) assert.equal(messageOf(named(n)), `berth.preview.yaml:2:11: services.0.name: ${hint}`, n);
});

test('healthcheck bounds and path shape', () => {
  const hc = (h: string) => `services:\n  - name: w\n    image: x\n    port: 1\n    healthcheck: { ${h} }\n`;
  const ok = parsePreviewConfig(hc('http: "/a?x=1", retries: 1000, interval: 1, timeout: 250ms')).services[0]!.healthcheck;
  assert.deepEqual(ok, { kind: 'http', path: '/a?x=1', intervalMs: 1000, timeoutMs: 250, retries: 1000 });
  assert.equal(parsePreviewConfig(hc('http: /, retries: 1')).services[0]!.healthcheck?.retries, 1);
  assert.equal(messageOf(hc('http: /, retries: 1001')), 'berth.preview.yaml:5:38: services.0.healthcheck.retries: Too big: expected number to be <=1000');
  assert.equal(messageOf(hc('http: /, retries: 0')), 'berth.preview.yaml:5:38: services.0.healthcheck.retries: Too small: expected number to be >=1');
  assert.equal(messageOf(hc('http: /, retries: 1.5')), 'berth.preview.yaml:5:38: services.0.healthcheck.retries: Invalid input: expected int, received number');
  for (const p of ['"/a b"', 'healthz', '"/a#x"', '"/a\\tb"', '"/?a b"', '""']) {
    assert.equal(messageOf(hc(`http: ${p}`)), 'berth.preview.yaml:5:26: services.0.healthcheck.http: must be a path like /healthz', p);
  }
  // The argv schema's error covers its length check too, so an empty list gets the argv hint.
  assert.equal(messageOf(hc('command: []')), 'berth.preview.yaml:5:29: services.0.healthcheck.command: must be a list of arguments like [node, server.js] (no shell strings)');
  assert.equal(messageOf(hc('command: [""]')), 'berth.preview.yaml:5:30: services.0.healthcheck.command.0: Too small: expected string to have >=1 characters');
  assert.equal(messageOf(hc('')), 'berth.preview.yaml:5:18: services.0.healthcheck: needs exactly one of http or command');
});

test('durations: a number is seconds and must come out at least 1 ms; anything but text or a number is refused', () => {
  const hint = 'must be a duration like 30s, 5m, 72h or 7d (a bare number means seconds)';
  assert.equal(parsePreviewConfig(`${BASE}ttl: 1.5\n`).ttlMs, 1500);
  assert.equal(parsePreviewConfig(`${BASE}ttl: 0.001\n`).ttlMs, 1);
  assert.equal(parsePreviewConfig(`${BASE}ttl: "90m"\n`).ttlMs, 5_400_000);
  // A healthcheck interval that rounded to 0 ms would probe in a busy loop.
  assert.equal(
    messageOf('services:\n  - name: w\n    image: x\n    port: 1\n    healthcheck: { http: /, interval: 0.0001 }\n'),
    `berth.preview.yaml:5:39: services.0.healthcheck.interval: ${hint}`,
  );
  for (const v of ['[1]', '{ a: 1 }', 'true', '.inf', '.nan', '1e300', '0.0004', '0', '-1']) assert.equal(messageOf(`${BASE}ttl: ${v}\n`), `berth.preview.yaml:5:6: ttl: ${hint}`, v);
});

test('ports, env and build defaults', () => {
  assert.equal(messageOf('services:\n  - name: w\n    image: x\n    port: 0\n'), 'berth.preview.yaml:4:11: services.0.port: Too small: expected number to be >=1');
  assert.equal(parsePreviewConfig('services:\n  - name: w\n    image: x\n    port: 65535\n').services[0]!.port, 65535);
  const built = parsePreviewConfig('services:\n  - name: w\n    build: {}\n    port: 1\n    env: { _A1: x, b: 1.5 }\n').services[0]!;
  assert.deepEqual(built.build, { context: '.', containerfile: null });
  assert.deepEqual(built.env, { _A1: 'x', b: '1.5' });
  for (const p of ['""', '"a\\0b"', '/abs', 'a/../../b']) {
    assert.match(messageOf(`services:\n  - name: w\n    build: { context: ${p} }\n    port: 1\n`), /^berth\.preview\.yaml:3:23: services\.0\.build\.context: /, p);
  }
  assert.equal(parsePreviewConfig('services:\n  - name: w\n    build: { context: a/../b, containerfile: ..x/Containerfile }\n    port: 1\n').services[0]!.build?.context, 'a/../b');
});

test('problems come in file order (line, then column), whatever order the schema checks in', () => {
  assert.equal(
    messageOf('ttl: soon\nservices:\n  - { port: 0, name: Web, image: x }\n'),
    [
      'berth.preview.yaml:1:6: ttl: must be a duration like 30s, 5m, 72h or 7d (a bare number means seconds)',
      'berth.preview.yaml:3:13: services.0.port: Too small: expected number to be >=1',
      'berth.preview.yaml:3:22: services.0.name: must be lowercase letters, digits and dashes, starting with a letter (at most 30)',
    ].join('\n'),
  );
  // A problem with the whole document points at where it starts, past comments and blank lines.
  assert.equal(messageOf('# c\n\n- a\n'), 'berth.preview.yaml:3:1: Invalid input: expected object, received array');
});

test('more edges: unanchored patterns, every service listed, portless command probes, 50 aliases at most', () => {
  assert.equal(messageOf(`${BASE}  - name: api\n    image: x\nroutes:\n  /x: nope\n`), 'berth.preview.yaml:8:7: routes./x: no service named "nope" (services: web, api)');
  assert.equal(
    messageOf(`${BASE}routes:\n  "/a b/c": web\n  /a//: web\n`),
    'berth.preview.yaml:6:13: routes./a b/c: route /a b/c may contain only URL path characters\nberth.preview.yaml:7:9: routes./a//: route /a// must not contain empty, . or .. segments',
  );
  assert.equal(messageOf('services:\n  - name: w\n    image: x\n    port: 1\n    healthcheck: { http: a/b }\n'), 'berth.preview.yaml:5:26: services.0.healthcheck.http: must be a path like /healthz');
  assert.equal(messageOf(`${BASE}ttl: 1hx\n`), 'berth.preview.yaml:5:6: ttl: must be a duration like 30s, 5m, 72h or 7d (a bare number means seconds)');
  // A command probe needs no port (only an http one does).
  assert.equal(parsePreviewConfig(`${BASE}  - name: w\n    image: x\n    healthcheck: { command: [a] }\n`).services[1]!.healthcheck?.kind, 'command');
  // 60 aliases are past the limit of 50 (yaml's own default would allow 100).
  const aliases = `x: &a [1]\ny: [${Array(60).fill('*a').join(', ')}]\n${BASE}`;
  assert.equal(messageOf(aliases), 'berth.preview.yaml:1:1: Excessive alias count indicates a resource exhaustion attack');
});
