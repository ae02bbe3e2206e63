import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isBerthError } from '../errors.js';
import type { InfraKind } from './app.js';
import { checkUninstall, dependentsOf, findCycle, planInstall, startOrder, type GraphApp } from './app-graph.js';

/** `{ a: ['b', 'postgres'] }` → catalog where a depends on b and requires postgres. */
function catalog(spec: Record<string, string[]>): Map<string, GraphApp> {
  const infra = new Set<string>(['postgres', 'redis']);
  return new Map(
    Object.entries(spec).map(([name, deps]) => [
      name,
      { name, dependsOn: deps.filter((d) => !infra.has(d)), requires: deps.filter((d) => infra.has(d)) as InfraKind[] },
    ]),
  );
}

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (isBerthError(err)) return `${err.code}: ${err.message}`;
    throw err;
  }
  return 'no error';
}

const chain = catalog({ web: ['api', 'redis'], api: ['db-tool', 'postgres'], 'db-tool': ['postgres'], lone: [] });

const plans: { name: string; target: string; installed: string[]; apps: string[]; infra: string[]; already: string[] }[] = [
  { name: 'a chain of three starts deepest first', target: 'web', installed: [], apps: ['db-tool', 'api', 'web'], infra: ['postgres', 'redis'], already: [] },
  { name: 'installed dependencies are not started again', target: 'web', installed: ['db-tool'], apps: ['api', 'web'], infra: ['postgres', 'redis'], already: ['db-tool'] },
  { name: 'all dependencies installed: only the target', target: 'web', installed: ['db-tool', 'api'], apps: ['web'], infra: ['redis'], already: ['db-tool', 'api'] },
  { name: 'an app without dependencies', target: 'lone', installed: ['web'], apps: ['lone'], infra: [], already: [] },
  { name: 'an installed target gives an empty plan', target: 'api', installed: ['api', 'db-tool'], apps: [], infra: [], already: ['db-tool'] },
];

for (const p of plans) {
  test(`planInstall: ${p.name}`, () => {
    const plan = planInstall(p.target, chain, new Set(p.installed));
    assert.deepEqual(plan.steps.map((s) => s.app), p.apps);
    assert.deepEqual(plan.infra, p.infra);
    assert.deepEqual(plan.alreadyInstalled, p.already);
  });
}

test('planInstall: each step waits for its own services and direct dependencies', () => {
  const plan = planInstall('web', chain, new Set());
  assert.deepEqual(plan.steps, [
    { app: 'db-tool', waitFor: { infra: ['postgres'], apps: [] } },
    { app: 'api', waitFor: { infra: ['postgres'], apps: ['db-tool'] } },
    { app: 'web', waitFor: { infra: ['redis'], apps: ['api'] } },
  ]);
});

test('planInstall: a diamond starts the shared dependency once, siblings in listed order', () => {
  const diamond = catalog({ top: ['left', 'right'], left: ['base'], right: ['base'], base: [] });
  assert.deepEqual(planInstall('top', diamond, new Set()).steps.map((s) => s.app), ['base', 'left', 'right', 'top']);
});

const refusals: { name: string; spec: Record<string, string[]>; target: string; installed?: string[]; error: string }[] = [
  { name: 'unknown target', spec: { a: [] }, target: 'zzz', error: 'E_APP_NOT_FOUND: no app named "zzz" in the catalog' },
  {
    name: 'missing dependency, with the chain that needs it',
    spec: { a: ['b'], b: ['ghost'] },
    target: 'a',
    error: 'E_DEPENDENCY: "b" depends on "ghost", which is not in the catalog (a → b → ghost)',
  },
  { name: 'two-app cycle', spec: { a: ['b'], b: ['a'] }, target: 'a', error: 'E_DEPENDENCY: dependency cycle: a → b → a' },
  { name: 'cycle below the target', spec: { top: ['a'], a: ['b'], b: ['c'], c: ['a'] }, target: 'top', error: 'E_DEPENDENCY: dependency cycle: a → b → c → a' },
  { name: 'self loop', spec: { a: ['a'] }, target: 'a', error: 'E_DEPENDENCY: dependency cycle: a → a' },
];

for (const r of refusals) {
  test(`planInstall refuses: ${r.name}`, () => {
    assert.equal(errorOf(() => planInstall(r.target, catalog(r.spec), new Set(r.installed ?? []))), r.error);
  });
}

test('planInstall: an installed app that left the catalog still satisfies its dependents', () => {
  const plan = planInstall('a', catalog({ a: ['legacy'] }), new Set(['legacy']));
  assert.deepEqual(plan.steps.map((s) => s.app), ['a']);
  assert.deepEqual(plan.alreadyInstalled, ['legacy']);
});

test('startOrder: dependencies first, only the given apps, unknown ones ignored', () => {
  assert.deepEqual(startOrder(['web', 'lone', 'api', 'db-tool'], chain), ['db-tool', 'api', 'lone', 'web']);
  assert.deepEqual(startOrder(['web', 'api'], chain), ['api', 'web']);
  assert.deepEqual(startOrder(['gone', 'lone'], chain), ['lone']);
});

test('dependentsOf / checkUninstall: installed dependents block an uninstall', () => {
  const installed = new Set(['web', 'api', 'db-tool']);
  assert.deepEqual(dependentsOf('api', chain, installed), ['web']);
  assert.deepEqual(dependentsOf('web', chain, installed), []);
  assert.equal(errorOf(() => checkUninstall('db-tool', chain, installed)), 'E_DEPENDENCY: "db-tool" is needed by "api"');
  assert.equal(errorOf(() => checkUninstall('web', chain, installed)), 'no error');
  assert.equal(errorOf(() => checkUninstall('api', chain, new Set(['api', 'db-tool']))), 'no error');
});

test('findCycle: null for a DAG, the loop otherwise', () => {
  assert.equal(findCycle(chain), null);
  assert.deepEqual(findCycle(catalog({ x: ['y'], y: ['z'], z: ['x'], w: [] })), ['x', 'y', 'z', 'x']);
});

/** The hint of the BerthError `fn` throws (each refusal tells the user what to do next). */
function hintOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (isBerthError(err)) return err.hint;
    throw err;
  }
  assert.fail('no error');
}

test('refusals carry a hint naming the way out', () => {
  assert.equal(hintOf(() => planInstall('zzz', chain, new Set())), 'list apps with `berth app catalog`');
  assert.equal(hintOf(() => planInstall('a', catalog({ a: ['ghost'] }), new Set())), 'add "ghost" to a catalog directory or remove it from dependsOn');
  assert.equal(hintOf(() => planInstall('a', catalog({ a: ['b'], b: ['a'] }), new Set())), 'remove one of the dependsOn entries in the cycle');
  assert.equal(hintOf(() => checkUninstall('db-tool', chain, new Set(['api', 'db-tool']))), 'uninstall those apps first');
});

test('dependentsOf: sorted, skips the app itself and installed apps that left the catalog', () => {
  const cat = catalog({ zeta: ['base'], alpha: ['base'], mid: ['base'], base: [], self: ['self'] });
  assert.deepEqual(dependentsOf('base', cat, new Set(['zeta', 'legacy', 'base', 'alpha', 'mid'])), ['alpha', 'mid', 'zeta']);
  assert.deepEqual(dependentsOf('self', cat, new Set(['self'])), []);
  assert.deepEqual(dependentsOf('base', cat, new Set(['legacy'])), []);
  assert.equal(
    errorOf(() => checkUninstall('base', cat, new Set(['zeta', 'alpha', 'base']))),
    'E_DEPENDENCY: "base" is needed by "alpha", "zeta"',
  );
});

test('findCycle: names the cycle from its alphabetically first app, whatever the catalog order', () => {
  assert.deepEqual(findCycle(catalog({ y: ['z'], z: ['x'], x: ['y'] })), ['x', 'y', 'z', 'x']);
  assert.deepEqual(findCycle(catalog({ m: ['b'], b: ['m'], a: [] })), ['b', 'm', 'b']);
});

// catalog/load.ts reports a dependency missing from the catalog itself, then asks findCycle: a
// dangling edge is not a cycle and must not throw.
test('findCycle: a dependency missing from the catalog is no cycle', () => {
  assert.equal(findCycle(catalog({ a: ['ghost'], b: ['a'] })), null);
  assert.deepEqual(findCycle(catalog({ a: ['ghost', 'b'], b: ['a'] })), ['a', 'b', 'a']);
});

test('findCycle: other errors are not swallowed', () => {
  const broken: GraphApp = {
    name: 'broken',
    requires: [],
    get dependsOn(): readonly string[] {
      throw new Error('catalog read failed');
    },
  };
  assert.throws(() => findCycle(new Map([['broken', broken]])), { message: 'catalog read failed' });
});
