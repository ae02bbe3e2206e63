import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { formatManifestError, loadCatalog } from './load.js';

let root: string;
before(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'berth-catalog-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A minimal valid manifest for `name`, with extra YAML lines appended. */
function manifest(name: string, extra = ''): string {
  return `name: ${name}\ntitle: ${name}\ndescription: test app\nimage: localhost/${name}:1\nports: {http: 8080}\nhealthcheck: {http: /}\n${extra}`;
}

async function writeApp(dir: string, name: string, text: string, files: Record<string, string> = {}): Promise<void> {
  await mkdir(path.join(dir, name), { recursive: true });
  await writeFile(path.join(dir, name, 'app.yaml'), text);
  for (const [f, content] of Object.entries(files)) await writeFile(path.join(dir, name, f), content);
}

test('loads every app directory; skips directories without app.yaml', async () => {
  const dir = path.join(root, 'basic');
  await writeApp(dir, 'alpha', manifest('alpha', 'icon: icon.svg\n'), { 'icon.svg': '<svg/>' });
  await writeApp(dir, 'beta', manifest('beta', 'dependsOn: [alpha]\n'));
  await mkdir(path.join(dir, 'assets'));
  await writeFile(path.join(dir, 'README.md'), 'not an app');
  const { apps, errors } = await loadCatalog([dir]);
  assert.deepEqual(errors, []);
  assert.deepEqual([...apps.keys()], ['alpha', 'beta']);
  assert.equal(apps.get('beta')!.source, path.join(dir, 'beta', 'app.yaml'));
});

test('name must match the directory; a missing icon file is reported at its line', async () => {
  const dir = path.join(root, 'mismatch');
  await writeApp(dir, 'gamma', manifest('delta', 'icon: gone.png\n'));
  const { apps, errors } = await loadCatalog([dir]);
  const file = path.join(dir, 'gamma', 'app.yaml');
  assert.equal(apps.size, 0);
  assert.deepEqual(errors.map(formatManifestError), [
    `${file}:1:7: name: must match its directory name "gamma"`,
    `${file}:7:7: icon: file gone.png not found next to app.yaml`,
  ]);
});

test('a later catalog directory overrides an app of the same name', async () => {
  const builtIn = path.join(root, 'builtin');
  const extra = path.join(root, 'extra');
  await writeApp(builtIn, 'epsilon', manifest('epsilon'));
  await writeApp(extra, 'epsilon', manifest('epsilon').replace('title: epsilon', 'title: Custom epsilon'));
  const { apps, errors } = await loadCatalog([builtIn, extra]);
  assert.deepEqual(errors, []);
  assert.equal(apps.get('epsilon')!.title, 'Custom epsilon');
});

test('invalid manifests are left out and reported; the others still load', async () => {
  const dir = path.join(root, 'mixed');
  await writeApp(dir, 'good', manifest('good'));
  await writeApp(dir, 'bad', manifest('bad', 'env:\n  URL: ${postgres.url}\n'));
  const { apps, errors } = await loadCatalog([dir]);
  assert.deepEqual([...apps.keys()], ['good']);
  assert.deepEqual(errors.map(formatManifestError), [
    `${path.join(dir, 'bad', 'app.yaml')}:8:8: env.URL: uses \${postgres.url} but "requires" does not list postgres`,
  ]);
});

test('dangling dependsOn and dependency cycles are catalog errors with their lines', async () => {
  const dir = path.join(root, 'graph');
  await writeApp(dir, 'one', manifest('one', 'dependsOn: [two]\n'));
  await writeApp(dir, 'two', manifest('two', 'dependsOn: [one]\n'));
  await writeApp(dir, 'three', manifest('three', 'dependsOn:\n  - one\n  - missing\n'));
  const { apps, errors } = await loadCatalog([dir]);
  assert.equal(apps.size, 3, 'structurally valid apps stay listed; installing them is refused by the planner');
  assert.deepEqual(errors.map(formatManifestError), [
    `${path.join(dir, 'three', 'app.yaml')}:9:5: dependsOn[1]: no app named "missing" in the catalog`,
    `${path.join(dir, 'one', 'app.yaml')}:7:13: dependsOn[0]: dependency cycle: one → two → one`,
  ]);
});

test('a catalog directory that does not exist is reported, not thrown', async () => {
  const missing = path.join(root, 'nope');
  const { apps, errors } = await loadCatalog([missing]);
  assert.equal(apps.size, 0);
  assert.deepEqual(errors.map(formatManifestError), [`${missing}: cannot read catalog directory: ENOENT`]);
});
