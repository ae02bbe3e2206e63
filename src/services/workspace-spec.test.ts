import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { configSchema } from '../config/schema.js';
import type { Workspace } from '../domain/workspace.js';
import { LABEL_OWNER } from '../runtime/runtime.js';
import { workloadSpec } from './workspace-spec.js';
import { dataFor, workspaceVolumeName } from './workspace-data.js';

const config = configSchema.parse({});
const base: Workspace = {
  id: 'abcdefghijkl',
  name: 'dev',
  state: 'creating',
  reason: null,
  image: 'localhost/img',
  command: null,
  env: { BERTH_DATA_PATH: '/user-tried-to-override' },
  ports: [{ containerPort: 8000, hostPort: 9000, prefix: 'strip', label: null }],
  hosting: { proto: 'http', host: '127.0.0.1:8996', basePath: '' },
  runtimeRef: null,
  upstreamHost: '127.0.0.1',
  exitCode: null,
  ownerId: 'user1',
  visibility: 'private',
  restartPolicy: 'no',
  restartCount: 0,
  deleting: false,
  dataVolume: 'berth-0123abcd-ws-abcdefghijkl-data',
  dataPath: '/workspace',
  idleStopMs: null,
  lastActiveAt: null,
  lastActiveReason: null,
  cpus: null,
  memoryMb: null,
  source: null,
  createdAt: '2026-12-03T00:00:00Z',
  updatedAt: '2026-12-03T00:00:00Z',
};
const ctx = { config, berthUrlHelper: '/opt/berth-url', installation: '0123abcd4567' };

describe('workspace spec: the data volume', () => {
  it('mounts the recorded volume at the recorded path and names the path in BERTH_DATA_PATH (not overridable)', () => {
    const spec = workloadSpec(base, ctx);
    assert.deepEqual(spec.volumes, [{ name: 'berth-0123abcd-ws-abcdefghijkl-data', target: '/workspace' }]);
    assert.equal(spec.env.BERTH_DATA_PATH, '/workspace');
    assert.equal(spec.labels[LABEL_OWNER], 'user1', 'the volume inherits the owner label');
  });

  it('records made before volumes (null) get no volume and no BERTH_DATA_PATH', () => {
    const spec = workloadSpec({ ...base, dataVolume: null, dataPath: null, env: {}, ownerId: null }, ctx);
    assert.equal(spec.volumes, undefined);
    assert.equal(spec.env.BERTH_DATA_PATH, undefined);
    assert.equal(spec.labels[LABEL_OWNER], undefined);
  });

  it('names a new volume after the installation and the id; null asks for none; the default path is the config', () => {
    const runtime = { removeVolume: async () => {} } as never;
    const repo = { list: () => [base] } as never;
    assert.equal(workspaceVolumeName('abcdefghijkl', '0123abcd4567'), 'berth-0123abcd-ws-abcdefghijkl-data');
    assert.deepEqual(dataFor('xyz', {}, { config, runtime, repo, installation: '0123abcd4567' }), { dataVolume: 'berth-0123abcd-ws-xyz-data', dataPath: '/workspace' });
    assert.deepEqual(dataFor('xyz', { dataPath: null }, { config, runtime, repo }), { dataVolume: null, dataPath: null });
    assert.deepEqual(dataFor('xyz', {}, { config: { ...config, workspaceDataPath: '/home/dev' }, runtime, repo }).dataPath, '/home/dev');
    assert.throws(() => dataFor('xyz', { dataPath: '/proc' }, { config, runtime, repo }), { code: 'E_BAD_DATA_PATH' });
    assert.throws(() => dataFor('xyz', {}, { config, runtime, repo }, base.dataVolume), { code: 'E_INVALID_STATE' }, 'a volume another record uses');
    assert.deepEqual(dataFor('xyz', {}, { config, runtime: {} as never, repo }), { dataVolume: null, dataPath: null }, 'a runtime without volumes');
  });
});
