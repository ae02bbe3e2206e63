/**
 * The apps pass against a real process runtime whose listing is stale: the runtime is listed
 * before the app rows are read, so an install that finished in between is missing from the list.
 * The pass must ask the runtime about the recorded ref before it records a crash.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { silentLogger } from '../log.js';
import { createProcessRuntime } from '../runtime/process/process-runtime.js';
import { LABEL_ID, LABEL_KIND, type Runtime } from '../runtime/runtime.js';
import { AppsRepo } from '../store/apps-repo.js';
import { openDb } from '../store/db.js';
import { createAppReconciler } from './reconcile-apps.js';

describe('app reconciler: a stale workload listing', () => {
  let dir: string;
  let runtime: Runtime;
  let repo: AppsRepo;

  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'berth-reconcile-apps-'));
    runtime = createProcessRuntime({ log: silentLogger(), dataDir: dir }, {});
    repo = new AppsRepo(openDb(path.join(dir, 'berth.db')));
  });
  after(async () => {
    for (const w of await runtime.list({ [LABEL_KIND]: 'app' })) await runtime.remove(w.ref);
    rmSync(dir, { recursive: true, force: true });
  });

  /** Installs app `name` by hand: row + ports, then a running workload recorded on the row. */
  async function install(name: string): Promise<string> {
    const app = repo.insertWithPorts(
      { name, settings: {}, hosting: { proto: 'http', host: '127.0.0.1', basePath: '' }, embed: { subpath: true, stripPrefix: true } },
      [['http', 8000]],
      { start: 41000, end: 41099 },
      (_cp, hp) => hp,
    );
    const ref = await runtime.create({ name: `berth-app-${name}`, image: 'none', command: ['sleep', '60'], env: {}, ports: [], labels: { [LABEL_KIND]: 'app', [LABEL_ID]: app.name } });
    await runtime.start(ref);
    repo.update(name, { state: 'running', runtimeRef: ref });
    return ref;
  }

  it('leaves a running app alone when the listing missed it, and records a real crash', async () => {
    const ref = await install('fresh');
    // The listing was taken before this install finished: it does not contain the workload.
    const stale: Runtime = { ...runtime, list: async () => [] };
    const pass = createAppReconciler({ repo, runtime: stale, log: silentLogger(), orphanGraceMs: 60_000, busy: () => new Set() });
    const report = await pass({});
    assert.deepEqual(report.crashed, [], 'a running workload missing from a stale listing is no crash');
    assert.equal(repo.get('fresh')!.state, 'running');

    // Now it really exits: the same stale listing must record the crash, with its exit code.
    await runtime.stop(ref, { timeoutSeconds: 1 });
    const again = await pass({});
    assert.deepEqual(again.crashed, ['fresh']);
    const app = repo.get('fresh')!;
    assert.equal(app.state, 'failed');
    assert.match(app.reason ?? '', /exited with code/, 'the workload exists: it exited, it did not disappear');
    assert.ok(app.nextRestartAt !== null, 'restart policy always: a restart is due');
  });
});
