// Edges of the app manifest schema (manifest.schema.ts) that manifest.test.ts leaves open: sizes,
// durations and their bounds, names, volumes, duplicates, optional fields and their defaults.
// Written for `node bench/mutation.mjs manifest` (issue 19); every case pins the exact error line.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatManifestError, parseManifest } from './load.js';
import type { AppManifest } from './manifest.js';
import { KNOWN_FIELDS, templatedFields, volumeEnvName } from './manifest.schema.js';

const FILE = 'f.yaml';
const BASE = 'name: demo\ntitle: Demo\ndescription: d\nimage: docker.io/library/demo:1\nports: {http: 8080}\nhealthcheck: {http: /}\n';

/** The manifest of BASE with `from` replaced by `to` and `extra` appended; fails on errors. */
function ok(extra: string, from?: string, to?: string): AppManifest {
  const r = parseManifest((from === undefined ? BASE : BASE.replace(from, to!)) + extra, FILE);
  assert.deepEqual(r.errors.map(formatManifestError), []);
  return r.manifest!;
}
/** The formatted errors of the same. */
function errors(extra: string, from?: string, to?: string): string[] {
  const text = (from === undefined ? BASE : BASE.replace(from, to!)) + extra;
  assert.ok(from === undefined || BASE.includes(from), `BASE lacks ${from}`);
  const r = parseManifest(text, FILE);
  assert.equal(r.manifest, undefined);
  return r.errors.map(formatManifestError);
}
const HC = 'healthcheck: {http: /}';

test('memory: units, case, spaces and decimals to whole megabytes; at least 6m', () => {
  const mb = (v: string) => ok(`resources: {memory: ${v}}\n`).resources?.memoryMb;
  assert.equal(mb('512m'), 512);
  assert.equal(mb('512'), 512, 'a bare number in text is megabytes');
  assert.equal(mb('"1.5Gi"'), 1536);
  assert.equal(mb('"2G"'), 2048);
  assert.equal(mb('"1gb"'), 1024);
  assert.equal(mb('"512 MB"'), 512);
  assert.equal(mb('"512Mi"'), 512);
  assert.equal(mb('" 64m "'), 64);
  assert.equal(mb('"6144k"'), 6);
  assert.equal(mb('"6144kb"'), 6);
  assert.equal(mb('"6144Ki"'), 6);
  assert.equal(mb('6.9'), 6, 'numbers are megabytes, rounded down');
  assert.equal(mb('6'), 6);
  for (const v of ['"6143k"', '5.9', '"5m"', '0', '-1']) assert.deepEqual(errors(`resources: {memory: ${v}}\n`), [`${FILE}:7:21: resources.memory: must be at least 6m`], v);
  for (const v of ['lots', '[1]', '"1t"', '"1.m"', '"m"', '"x512m"', '"512mm"']) {
    assert.deepEqual(errors(`resources: {memory: ${v}}\n`), [`${FILE}:7:21: resources.memory: must be a size like 512m or 2g (or a number of megabytes)`], v);
  }
});

test('cpus: positive, at most 1024; resources keep only what is given', () => {
  assert.deepEqual(ok('resources: {cpus: 0.5}\n').resources, { cpus: 0.5, memoryMb: undefined });
  assert.equal(ok('resources: {cpus: 1024}\n').resources?.cpus, 1024);
  assert.deepEqual(errors('resources: {cpus: 0}\n'), [`${FILE}:7:19: resources.cpus: Too small: expected number to be >0`]);
  assert.deepEqual(errors('resources: {cpus: 1025}\n'), [`${FILE}:7:19: resources.cpus: Too big: expected number to be <=1024`]);
  assert.deepEqual(errors('resources: {cpu: 1}\n'), [`${FILE}:7:13: resources.cpu: unknown field (did you mean "cpus"?)`]);
});

test('healthcheck durations: units, numbers of seconds, and each bound exactly', () => {
  const h = ok('', HC, 'healthcheck: {http: /, interval: 1.5s, timeout: 2m, startPeriod: 1h}').healthcheck;
  assert.deepEqual([h.intervalMs, h.timeoutMs, h.startPeriodMs], [1500, 120_000, 3_600_000]);
  const edges = ok('', HC, 'healthcheck: {http: /, interval: 3600s, timeout: 0.1, startPeriod: 0, retries: 10000}').healthcheck;
  assert.deepEqual([edges.intervalMs, edges.timeoutMs, edges.startPeriodMs, edges.retries], [3_600_000, 100, 0, 10_000]);
  const low = ok('', HC, 'healthcheck: {http: /, interval: 100ms, timeout: 600s, startPeriod: " 0ms ", retries: 1}').healthcheck;
  assert.deepEqual([low.intervalMs, low.timeoutMs, low.startPeriodMs, low.retries], [100, 600_000, 0, 1]);
  assert.equal(ok('', HC, 'healthcheck: {http: /, interval: 0.1005}').healthcheck.intervalMs, 101, 'rounded to whole milliseconds');
  assert.deepEqual(errors('', HC, 'healthcheck: {http: /, interval: 99ms, timeout: 601s, startPeriod: 3601s}'), [
    `${FILE}:6:34: healthcheck.interval: must be between 100ms and 3600s`,
    `${FILE}:6:49: healthcheck.timeout: must be between 100ms and 600s`,
    `${FILE}:6:68: healthcheck.startPeriod: must be between 0s and 3600s`,
  ]);
  assert.deepEqual(errors('', HC, 'healthcheck: {http: /, interval: 3601s, timeout: 0.099, startPeriod: -1}'), [
    `${FILE}:6:34: healthcheck.interval: must be between 100ms and 3600s`,
    `${FILE}:6:50: healthcheck.timeout: must be between 100ms and 600s`,
    `${FILE}:6:70: healthcheck.startPeriod: must be between 0s and 3600s`,
  ]);
  const hint = 'must be a duration like 500ms, 10s, 2m, 1h (or a number of seconds)';
  for (const v of ['[1]', '1d', '"s"', '"1.s"', '"x1s"', '"1ss"', '.nan']) {
    assert.deepEqual(errors('', HC, `healthcheck: {http: /, interval: ${v}}`), [`${FILE}:6:34: healthcheck.interval: ${hint}`], v);
  }
  assert.deepEqual(errors('', HC, 'healthcheck: {http: /, retries: 10001}'), [`${FILE}:6:33: healthcheck.retries: Too big: expected number to be <=10000`]);
});

test('healthcheck forms: command needs a program; http is /… or ${app.basePath}/…', () => {
  assert.deepEqual(errors('', HC, 'healthcheck: {command: []}'), [`${FILE}:6:24: healthcheck.command: must name a program`]);
  assert.deepEqual(errors('', HC, 'healthcheck: {}'), [`${FILE}:6:14: healthcheck: needs exactly one of \`http: /path\` or \`command: [argv…]\``]);
  assert.deepEqual(errors('embed: {stripPrefix: false}\n', HC, 'healthcheck: {http: "${app.basePath}x"}'), [
    `${FILE}:6:21: healthcheck.http: must be a path starting with "/" (or "\${app.basePath}/")`,
  ]);
  assert.deepEqual(errors('embed: {stripPrefix: false}\n', HC, 'healthcheck: {http: "x${app.basePath}/"}'), [
    `${FILE}:6:21: healthcheck.http: must be a path starting with "/" (or "\${app.basePath}/")`,
  ]);
  assert.equal(ok('embed: {stripPrefix: false}\n', HC, 'healthcheck: {http: "${app.basePath}/"}').healthcheck.kind, 'http');
  // Templates in a command healthcheck need their service too, at the argument's position.
  assert.deepEqual(errors('', HC, 'healthcheck: {command: [check, "${redis.url}"]}'), [
    `${FILE}:6:33: healthcheck.command[1]: uses \${redis.url} but "requires" does not list redis`,
  ]);
  assert.deepEqual(ok('requires: [redis]\n', HC, 'healthcheck: {command: [check, "${redis.url}"]}').healthcheck, {
    kind: 'command', argv: ['check', '${redis.url}'], intervalMs: 5000, timeoutMs: 3000, retries: 60, startPeriodMs: 0,
  });
  // ${app.basePath} elsewhere than the health path is fine under stripPrefix.
  assert.equal(ok('env: {P: "${app.basePath}"}\n').env.P, '${app.basePath}');
});

test('names and texts: app name ≤ 40, title 1…80, description trimmed, port names', () => {
  assert.equal(ok('', 'name: demo', `name: ${'a'.repeat(40)}`).name, 'a'.repeat(40));
  assert.deepEqual(errors('', 'name: demo', `name: ${'a'.repeat(41)}`), [`${FILE}:1:7: name: must be at most 40 characters`]);
  assert.equal(ok('', 'title: Demo', `title: ${'t'.repeat(80)}`).title, 't'.repeat(80));
  assert.deepEqual(errors('', 'title: Demo', `title: ${'t'.repeat(81)}`), [`${FILE}:2:8: title: Too big: expected string to have <=80 characters`]);
  assert.deepEqual(errors('', 'title: Demo', 'title: ""'), [`${FILE}:2:8: title: Too small: expected string to have >=1 characters`]);
  assert.equal(ok('', 'description: d', 'description: "  d  "').description, 'd');
  assert.equal(ok('', 'description: d', `description: ${'d'.repeat(2000)}`).description.length, 2000);
  assert.deepEqual(errors('', 'description: d', `description: ${'d'.repeat(2001)}`), [`${FILE}:3:14: description: Too big: expected string to have <=2000 characters`]);
  assert.deepEqual(errors('', 'description: d', 'description: ""'), [`${FILE}:3:14: description: Too small: expected string to have >=1 characters`]);
  assert.deepEqual(ok('', 'ports: {http: 8080}', `ports: {http: 1, a-${'b'.repeat(29)}: 65535}`).ports, { http: 1, [`a-${'b'.repeat(29)}`]: 65535 });
  for (const p of ['Http', `a${'b'.repeat(31)}`, '1a', 'a_b']) {
    assert.deepEqual(errors('', 'ports: {http: 8080}', `ports: {http: 8080, ${p}: 1}`), [`${FILE}:5:21: ports.${p}: invalid name: port names are lowercase letters, digits and "-"`], p);
  }
  assert.deepEqual(errors('', 'ports: {http: 8080}', 'ports: {http: 0}'), [`${FILE}:5:15: ports.http: Too small: expected number to be >=1`]);
});

test('icon, website and command are kept only when given', () => {
  const m = ok('icon: icon.svg\nwebsite: https://example.com\ncommand: [a, "${app.url}"]\n');
  assert.equal(m.icon, 'icon.svg');
  assert.equal(m.website, 'https://example.com');
  assert.deepEqual(m.command, ['a', '${app.url}']);
  const bare = ok('');
  for (const k of ['icon', 'website', 'command', 'resources'] as const) assert.equal(k in bare, false, k);
  assert.equal(ok('icon: "https://cdn.example.com/i.png"\n').icon, 'https://cdn.example.com/i.png');
  assert.equal(ok('website: http://example.com\n').website, 'http://example.com');
  for (const i of ['"http://x/i.png"', '"https://"', '".icon.svg"', '"a b.svg"', '"../i.svg"']) {
    assert.deepEqual(errors(`icon: ${i}\n`), [`${FILE}:7:7: icon: must be a file next to app.yaml (e.g. icon.svg) or an https URL`], i);
  }
  assert.deepEqual(errors('website: ftp://example.com\n'), [`${FILE}:7:10: website: Invalid URL`]);
  assert.deepEqual(errors('command: []\n'), [`${FILE}:7:10: command: Too small: expected array to have >=1 items`]);
  assert.deepEqual(errors('command: ["${postgres.url}"]\n'), [`${FILE}:7:12: command[0]: uses \${postgres.url} but "requires" does not list postgres`]);
  assert.deepEqual(errors('env: {A: [1]}\n'), [`${FILE}:7:10: env.A: env values must be strings, numbers or booleans`]);
  assert.deepEqual(ok('env: {A: true, B: 1.5, _c1: x}\n').env, { A: 'true', B: '1.5', _c1: 'x' });
});

test('duplicates are named by their first occurrence', () => {
  assert.deepEqual(errors('requires: [redis, redis]\ndependsOn: [a, b, a]\n'), [
    `${FILE}:7:19: requires[1]: duplicates item 1 (redis)`,
    `${FILE}:8:19: dependsOn[2]: duplicates item 1 (a)`,
  ]);
  assert.deepEqual(errors('volumes: {a: /x, b: /x}\n'), [`${FILE}:7:21: volumes.b: duplicates "a" (/x)`]);
  assert.deepEqual(ok('requires: [postgres, redis]\ndependsOn: [a, b]\nvolumes: {a: /x, b: /y}\n').dependsOn, ['a', 'b']);
  assert.deepEqual(errors('dependsOn: [Bad]\n'), [`${FILE}:7:13: dependsOn[0]: must be lowercase letters, digits and single dashes, starting with a letter`]);
});

test('volumes: absolute container paths without ":" "," or "..", not "/"; names map to BERTH_VOLUME_*', () => {
  assert.deepEqual(errors('volumes: {a: /, b: "/a/../b", c: "/a:b", D: /d, e: "/a,b"}\n'), [
    `${FILE}:7:14: volumes.a: must not be "/" or contain ".."`,
    `${FILE}:7:20: volumes.b: must not be "/" or contain ".."`,
    `${FILE}:7:34: volumes.c: must be an absolute container path (no ":" or ",")`,
    `${FILE}:7:42: volumes.D: invalid name: volume names are lowercase letters, digits, "_" and "-"`,
    `${FILE}:7:52: volumes.e: must be an absolute container path (no ":" or ",")`,
  ]);
  assert.deepEqual(ok(`volumes: {0a: /a..b/c, ${'v'.repeat(63)}: /d}\n`).volumes, { '0a': '/a..b/c', ['v'.repeat(63)]: '/d' });
  assert.deepEqual(errors(`volumes: {${'v'.repeat(64)}: /d}\n`), [`${FILE}:7:11: volumes.${'v'.repeat(64)}: invalid name: volume names are lowercase letters, digits, "_" and "-"`]);
  assert.equal(volumeEnvName('my-data-2'), 'BERTH_VOLUME_MY_DATA_2');
  assert.equal(volumeEnvName('a_b'), 'BERTH_VOLUME_A_B');
});

test('embed defaults each flag separately; known fields feed the did-you-mean hints', () => {
  assert.deepEqual(ok('embed: {subpath: false}\n').embed, { subpath: false, stripPrefix: true });
  assert.deepEqual(ok('embed: {stripPrefix: false}\n').embed, { subpath: true, stripPrefix: false });
  assert.deepEqual(errors('embed: {strip: false}\n'), [`${FILE}:7:9: embed.strip: unknown field (known: subpath, stripPrefix)`]);
  assert.deepEqual(KNOWN_FIELDS.healthcheck, ['http', 'command', 'interval', 'timeout', 'retries', 'startPeriod']);
  assert.deepEqual(KNOWN_FIELDS.resources, ['cpus', 'memory']);
  assert.ok(KNOWN_FIELDS['']!.includes('dependsOn') && KNOWN_FIELDS['']!.length === 16, KNOWN_FIELDS['']!.join());
  for (const r of ['no', 'on-failure', 'always'] as const) assert.equal(ok(`restart: ${r}\n`).restart, r);
});

// Mutation survivors of manifest.schema.ts (bench/mutation.mjs, 2026-12-03): each case below fails
// on one of them; the ones no input can tell apart are listed in docs/testing.md.

test('decimals keep every digit: 1.25s is 1250 ms, 1.25g is 1280 MB; a unitless size text is megabytes', () => {
  const h = ok('', HC, 'healthcheck: {http: /, interval: 1.25s, timeout: 0.125m, startPeriod: "0.75h"}').healthcheck;
  assert.deepEqual([h.intervalMs, h.timeoutMs, h.startPeriodMs], [1250, 7500, 2_700_000]);
  const mb = (v: string) => ok(`resources: {memory: ${v}}\n`).resources?.memoryMb;
  assert.equal(mb('"1.25g"'), 1280);
  assert.equal(mb('"512"'), 512, 'a size in text without a unit is megabytes');
  assert.equal(mb('"64.75"'), 64);
});

test('env names are anchored at both ends; website protocol is exactly http or https', () => {
  for (const k of ['A-B', 'A.B', 'PATH ', 'A$']) {
    assert.deepEqual(errors(`env: {"${k}": x}\n`), [`${FILE}:7:7: env.${k}: invalid name: env names are letters, digits and "_", not starting with a digit`], k);
  }
  for (const u of ['xhttp://example.com', 'httpx://example.com', 'shttps://example.com']) {
    assert.deepEqual(errors(`website: ${u}\n`), [`${FILE}:7:10: website: Invalid URL`], u);
  }
});

test('${app.basePath} is refused only in the http health path, and stripPrefix defaults to true there', () => {
  // No embed section at all: stripPrefix is true, so the app never sees the prefix.
  assert.deepEqual(errors('', HC, 'healthcheck: {http: "${app.basePath}/h"}'), [
    `${FILE}:6:22: healthcheck.http: uses \${app.basePath} but embed.stripPrefix is true: the app sees paths without the prefix`,
  ]);
  // The same variable in an env value named `http`, or in a command healthcheck, is not the health path.
  assert.equal(ok('env: {http: "${app.basePath}"}\n').env.http, '${app.basePath}');
  assert.deepEqual(ok('', HC, 'healthcheck: {command: [probe, "${app.basePath}/h"]}').healthcheck.kind, 'command');
  // Other variables in the health path are fine under stripPrefix.
  assert.equal(ok('', HC, 'healthcheck: {http: "/h?u=${app.url}"}').healthcheck.kind, 'http');
});

test('templatedFields lists each templated string once, with its path, and nothing else', () => {
  assert.deepEqual(templatedFields({ healthcheck: { http: '/h' } }), [[['healthcheck', 'http'], '/h']]);
  assert.deepEqual(templatedFields({ healthcheck: { command: ['a', 'b'] } }), [
    [['healthcheck', 'command', 0], 'a'],
    [['healthcheck', 'command', 1], 'b'],
  ]);
  assert.deepEqual(templatedFields({ env: { E: 'e' }, command: ['c'], healthcheck: {} }), [
    [['env', 'E'], 'e'],
    [['command', 0], 'c'],
  ]);
});
