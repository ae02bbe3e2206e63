/**
 * Adoption on upgrade against a real (process) runtime and a real store: after the upgrade, the
 * reconciler of installation A sees
 * - its own labelled workload with no record (an orphan): removed, as before;
 * - an unlabelled workload its record names by ref (made before the upgrade): adopted — kept, the
 *   record stays running, no orphan;
 * - an unlabelled workload no record of A names: left alone (never removed);
 * - a workload labelled for installation B: left alone.
 * Without the scope (the bare driver), the same pass removed all three that are not recorded.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '../log.js';
import { scopeToInstallation } from '../runtime/installation.js';
import { createProcessRuntime } from '../runtime/process/process-runtime.js';
import { LABEL_ID, LABEL_INSTALLATION, LABEL_KIND, type Runtime } from '../runtime/runtime.js';
import { openDb } from '../store/db.js';
import { WorkspacesRepo } from '../store/workspaces-repo.js';
import { adoptionRules } from './adoption.js';
import { createReconciler } from './reconcile.js';

const A = 'aaaaaaaaaaaa';
const B = 'bbbbbbbbbbbb';

describe('adoption of unlabelled workloads on upgrade', () => {
  let dir: string;
  let raw: Runtime;
  let repo: WorkspacesRepo;

  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'berth-adopt-'));
    raw = createProcessRuntime({ log: silentLogger(), dataDir: dir }, {});
    repo = new WorkspacesRepo(openDb(path.join(dir, 'berth.db')));
  });
  after(async () => {
    for (const w of await raw.list({ [LABEL_KIND]: 'workspace' })) await raw.remove(w.ref);
    rmSync(dir, { recursive: true, force: true });
  });

  /** A running workload labelled as workspace `id`, with `extra` labels. */
  let n = 0;
  async function workload(id: string, extra: Record<string, string> = {}): Promise<string> {
    const ref = await raw.create({ name: `w-${id}-${n++}`, image: 'none', command: ['sleep', '60'], env: {}, ports: [], labels: { [LABEL_KIND]: 'workspace', [LABEL_ID]: id, ...extra } });
    await raw.start(ref);
    return ref;
  }

  it('adopts what a record names, removes its own orphans, never touches the rest', async () => {
    const ws = repo.insertWithPorts(
      { id: 'legacy000001', name: 'legacy', image: 'none', command: null, env: {}, hosting: { proto: 'http', host: 'x', basePath: '' }, ownerId: null, visibility: 'private' },
      { rangeStart: 42000, rangeEnd: 42099, count: 1, containerPortFor: (_i, hp) => hp },
    );
    const legacy = await workload(ws.id);
    repo.update(ws.id, { state: 'running', runtimeRef: legacy });
    const stranger = await workload('stranger0001');
    const foreign = await workload('foreign00001', { [LABEL_INSTALLATION]: B });
    const orphan = await workload('orphan000001', { [LABEL_INSTALLATION]: A });
    // Same id as our record, but another container: not ours (the ref decides, not the id).
    const lookalike = await workload(ws.id);

    const runtime = scopeToInstallation(raw, {
      id: A,
      ...adoptionRules({ workspaceRef: (id) => repo.get(id)?.runtimeRef, appRef: () => undefined, previewExists: () => false, infraClaims: () => false }),
    });
    const reconcile = createReconciler({ repo, runtime, log: silentLogger(), orphanGraceMs: 0, busy: () => new Set(), onChange: () => {} });
    const first = await reconcile();
    const second = await reconcile();
    assert.deepEqual([...first.orphansRemoved, ...second.orphansRemoved], [orphan], 'only our own labelled orphan is removed');
    assert.deepEqual([...first.crashed, ...second.crashed], [], 'the adopted workload was taken for a crash');
    assert.equal(repo.get(ws.id)?.state, 'running');
    for (const [what, ref] of Object.entries({ legacy, stranger, foreign, lookalike })) {
      assert.equal((await raw.inspect(ref)).state, 'running', `${what} was touched`);
    }
    assert.equal((await raw.inspect(orphan)).state, 'missing');
    assert.deepEqual((await runtime.list({ [LABEL_KIND]: 'workspace' })).map((w) => w.ref), [legacy], 'the scope lists the adopted one only');

    // The old behaviour, for contrast: the bare driver's reconciler removes everything unrecorded.
    const unscoped = createReconciler({ repo, runtime: raw, log: silentLogger(), orphanGraceMs: 0, busy: () => new Set(), onChange: () => {} });
    await unscoped();
    await unscoped();
    for (const ref of [stranger, foreign]) assert.equal((await raw.inspect(ref)).state, 'missing', 'the unscoped pass spares it (the check above could not fail)');
  });
});
