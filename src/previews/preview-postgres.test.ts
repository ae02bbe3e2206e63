import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isBerthError } from '../errors.js';
import { silentLogger } from '../log.js';
import { createProcessRuntime } from '../runtime/process/process-runtime.js';
import { createFresh, createPreviewPostgres, superuserPassword } from './preview-postgres.js';

/** The parts of `database: container` that need no PostgreSQL (the server itself: test/integration/previews-container-db.test.ts). */
describe('preview PostgreSQL', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-pv-pg-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const runtime = createProcessRuntime({ log: silentLogger(), dataDir: dir }, {});

  it('superuser passwords depend on key and preview id, and on nothing the app knows', () => {
    const key = Buffer.alloc(32, 1);
    assert.equal(superuserPassword(key, 'aaaaaaaaaaaa'), superuserPassword(Buffer.alloc(32, 1), 'aaaaaaaaaaaa'));
    assert.notEqual(superuserPassword(key, 'aaaaaaaaaaaa'), superuserPassword(key, 'bbbbbbbbbbbb'));
    assert.notEqual(superuserPassword(key, 'aaaaaaaaaaaa'), superuserPassword(Buffer.alloc(32, 2), 'aaaaaaaaaaaa'));
    assert.match(superuserPassword(key, 'aaaaaaaaaaaa'), /^[A-Za-z0-9_-]{43}$/);
  });

  it('without server binaries on the process runtime: a clear error, and the port goes back', async () => {
    const pgs = createPreviewPostgres({ runtime, image: 'unused', keyFile: path.join(dir, 'key'), binDir: null });
    const held = new Set<number>();
    await assert.rejects(
      pgs.ensure({
        previewId: 'nobinaaaaaaa',
        dir: path.join(dir, 'previews', 'nobinaaaaaaa'),
        password: 'p'.repeat(24),
        allocatePort: () => (held.add(41000), 41000),
        releasePort: () => held.clear(),
        say: async () => {},
      }),
      (err) => isBerthError(err) && err.code === 'E_PREVIEW_BUILD' && /needs the PostgreSQL server binaries/.test(err.message) && /postgresql package/.test(err.hint ?? ''),
    );
    assert.equal(held.size, 0, 'no port left allocated');
    assert.deepEqual(await runtime.list({ 'berth.id': 'nobinaaaaaaa' }), []);
  });

  it('createFresh takes back a name a crash left half-created', async () => {
    const spec = { name: 'berth-pv-halfaaaaaaaa-g1-web', image: '', command: ['sleep', '60'], env: {}, ports: [], labels: { 'berth.kind': 'preview', 'berth.id': 'halfaaaaaaaa' } };
    // The process driver's create makes the directory, then writes the spec: a crash in between.
    mkdirSync(path.join(dir, 'process', spec.name), { recursive: true });
    await assert.rejects(runtime.create(spec), (err) => isBerthError(err) && err.code === 'E_NAME_TAKEN');
    const ref = await createFresh(runtime, spec);
    assert.deepEqual((await runtime.list({ 'berth.id': 'halfaaaaaaaa' })).map((w) => w.ref), [ref]);
    await runtime.remove(ref);
  });
});
