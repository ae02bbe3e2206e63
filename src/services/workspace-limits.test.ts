import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isBerthError } from '../errors.js';
import { checkLimits } from './workspace-limits.js';

const podman = { name: 'podman' as const, capabilities: { resources: true } };
const processRt = { name: 'process' as const, capabilities: { resources: false } };
const host = { cpus: 2, memoryMb: 4096 };

function refusal(fn: () => unknown): { code: string; message: string; hint?: string | undefined } {
  try {
    fn();
  } catch (err) {
    if (isBerthError(err)) return { code: err.code, message: err.message, hint: err.hint };
    throw err;
  }
  assert.fail('expected a refusal');
}

describe('workspace limits', () => {
  it('passes limits the host has, and none at all on any runtime', () => {
    assert.deepEqual(checkLimits({ cpus: 1.5, memoryMb: 512 }, podman, host), { cpus: 1.5, memoryMb: 512 });
    assert.deepEqual(checkLimits({}, processRt, host), { cpus: null, memoryMb: null });
  });
  it('refuses limits on a runtime that cannot enforce them, with what to do', () => {
    const r = refusal(() => checkLimits({ memoryMb: 512 }, processRt, host));
    assert.equal(r.code, 'E_LIMITS_UNSUPPORTED');
    assert.match(r.hint ?? '', /podman or docker/);
  });
  it('refuses more than the host has', () => {
    assert.equal(refusal(() => checkLimits({ cpus: 3 }, podman, host)).code, 'E_LIMITS_EXCEED_HOST');
    const r = refusal(() => checkLimits({ memoryMb: 512 * 1024 }, podman, host));
    assert.equal(r.code, 'E_LIMITS_EXCEED_HOST');
    assert.match(r.hint ?? '', /at most 2 CPUs and 4096m/);
  });
  it('refuses nonsense that reached the service past the API schema', () => {
    for (const input of [{ cpus: 0 }, { cpus: -1 }, { cpus: Number.NaN }, { memoryMb: 5 }, { memoryMb: 100.5 }]) {
      assert.equal(refusal(() => checkLimits(input, podman, host)).code, 'E_BAD_REQUEST', JSON.stringify(input));
    }
  });
});
