import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isBerthError } from '../errors.js';
import { injectedEnv, type Workspace } from '../domain/workspace.js';
import { createPortOptions, resolvePortChanges, type PortLayout, type PortSpec } from './workspace-ports.js';

/** The error code (and that a hint is there) of what `fn` throws. */
function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(isBerthError(err), String(err));
    assert.ok(err.hint && err.hint.length > 10, `no hint: ${err.message}`);
    return err.code;
  }
  return 'no error';
}

const containers: PortLayout = { count: 5, containerPortBase: 8000 };
const processRuntime: PortLayout = { count: 5, containerPortBase: null };

describe('port settings at create', () => {
  it('maps container ports and indexes to the i-th allocated port; others strip', () => {
    const opts = createPortOptions([{ containerPort: 8002, prefix: 'keep', label: 'Jupyter' }, { index: 4, prefix: 'keep' }], containers);
    assert.deepEqual(opts(2, 8002), { prefix: 'keep', label: 'Jupyter' });
    assert.deepEqual(opts(4, 8004), { prefix: 'keep' });
    assert.deepEqual(opts(0, 8000), {});
  });

  it('on the process runtime a port is named by index (its container port is its host port, unknown yet)', () => {
    const opts = createPortOptions([{ index: 0, prefix: 'keep' }], processRuntime);
    assert.deepEqual(opts(0, 9137), { prefix: 'keep' });
    assert.equal(codeOf(() => createPortOptions([{ containerPort: 8000, prefix: 'keep' }], processRuntime)), 'E_UNKNOWN_PORT');
  });

  const refused: [PortSpec[], string][] = [
    [[{ containerPort: 7999, prefix: 'keep' }], 'E_UNKNOWN_PORT'],
    [[{ containerPort: 8005, prefix: 'keep' }], 'E_UNKNOWN_PORT'],
    [[{ index: 5, prefix: 'keep' }], 'E_UNKNOWN_PORT'],
    [[{ hostPort: 9000, prefix: 'keep' }], 'E_UNKNOWN_PORT'],
    [[{ containerPort: 8000, prefix: 'keep' }, { index: 0, prefix: 'strip' }], 'E_BAD_REQUEST'],
  ];
  for (const [specs, code] of refused) {
    it(`refuses ${JSON.stringify(specs)} with ${code} and a hint`, () => assert.equal(codeOf(() => createPortOptions(specs, containers)), code));
  }
});

describe('port changes after create', () => {
  const ws = {
    name: 'nb',
    ports: [
      { containerPort: 8000, hostPort: 9000, prefix: 'strip' as const, label: null },
      { containerPort: 8001, hostPort: 9001, prefix: 'keep' as const, label: null },
    ],
  };

  it('names a port by container port, host port or index', () => {
    assert.deepEqual(resolvePortChanges(ws, [{ containerPort: 8000, prefix: 'keep' }, { hostPort: 9001, prefix: 'strip' }]), [
      { hostPort: 9000, containerPort: 8000, prefix: 'keep' },
      { hostPort: 9001, containerPort: 8001, prefix: 'strip' },
    ]);
    assert.deepEqual(resolvePortChanges(ws, [{ index: 1, prefix: 'keep' }]), [{ hostPort: 9001, containerPort: 8001, prefix: 'keep' }]);
  });

  it("refuses another workspace's or an unallocated port, a port twice, and a change of nothing", () => {
    assert.equal(codeOf(() => resolvePortChanges(ws, [{ hostPort: 9002, prefix: 'keep' }])), 'E_UNKNOWN_PORT');
    assert.equal(codeOf(() => resolvePortChanges(ws, [{ containerPort: 9000, prefix: 'keep' }])), 'E_UNKNOWN_PORT');
    assert.equal(codeOf(() => resolvePortChanges(ws, [{ index: 2, prefix: 'keep' }])), 'E_UNKNOWN_PORT');
    assert.equal(codeOf(() => resolvePortChanges(ws, [{ index: 0, prefix: 'keep' }, { hostPort: 9000, prefix: 'strip' }])), 'E_BAD_REQUEST');
    assert.equal(codeOf(() => resolvePortChanges(ws, [{ index: 0 }])), 'E_BAD_REQUEST');
    assert.equal(codeOf(() => resolvePortChanges(ws, [{ index: 0, label: 'x' }])), 'E_BAD_REQUEST');
  });
});

describe('injected base paths', () => {
  const ws: Pick<Workspace, 'id' | 'ports' | 'hosting'> = {
    id: 'w1',
    hosting: { proto: 'https', host: 'apps.example.com', basePath: '/berth' },
    ports: [
      { containerPort: 8000, hostPort: 9000, prefix: 'strip', label: null },
      { containerPort: 8001, hostPort: 9001, prefix: 'keep', label: null },
    ],
  };

  it('gives every port its public base path, outer prefix included, whatever its mode', () => {
    const env = injectedEnv(ws);
    assert.equal(env.BERTH_BASE_PATH_8000, '/berth/hosted/w1/9000/');
    assert.equal(env.BERTH_BASE_PATH_8001, '/berth/hosted/w1/9001/');
    assert.equal(env.BERTH_BASE_PATH, '/berth/hosted/w1/9000/', 'the base path of $PORT');
    assert.equal(env.PORT, '8000');
    assert.equal(injectedEnv({ ...ws, hosting: { ...ws.hosting, basePath: '' } }).BERTH_BASE_PATH_8001, '/hosted/w1/9001/');
  });
});
