import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isBerthError } from '../../errors.js';
import { zodBadRequest } from '../error-handler.js';
import { workspaceCreateBody } from './workspaces.js';
import { limitsOf } from './workspace-limits-schema.js';

/** The body as the API would parse it, or the refusal it would answer with. */
function parse(limits: Record<string, unknown>) {
  const r = workspaceCreateBody.safeParse({ name: 'x', ...limits });
  if (r.success) return { ok: limitsOf(r.data) };
  const e = zodBadRequest(r.error);
  return { code: e.code, message: e.message, hint: e.hint };
}

describe('limits in POST /api/workspaces', () => {
  it('reads cpus, memory sizes and memoryMb', () => {
    assert.deepEqual(parse({ cpus: 1.5, memory: '512m' }), { ok: { cpus: 1.5, memoryMb: 512 } });
    assert.deepEqual(parse({ memory: '2g' }), { ok: { memoryMb: 2048 } });
    assert.deepEqual(parse({ memory: 300 }), { ok: { memoryMb: 300 } });
    assert.deepEqual(parse({ memoryMb: 64 }), { ok: { memoryMb: 64 } });
    assert.deepEqual(parse({}), { ok: {} });
  });
  const refused: [Record<string, unknown>, RegExp][] = [
    [{ cpus: 0 }, /cpus: cpus must be at least 0.01/],
    [{ cpus: -2 }, /at least 0.01/],
    [{ cpus: '2' }, /cpus must be a number/],
    [{ cpus: null }, /cpus must be a number/],
    [{ memory: '0' }, /at least 6m/],
    [{ memory: '-1g' }, /not a size/],
    [{ memory: '1g; rm -rf /' }, /not a size/],
    [{ memory: '--privileged' }, /not a size/],
    [{ memory: 'x'.repeat(40) }, /too long/],
    [{ memory: ['512m'] }, /must be a size/],
    [{ memoryMb: 0 }, /whole number/],
    [{ memoryMb: '512' }, /whole number/],
  ];
  for (const [limits, message] of refused) {
    it(`refuses ${JSON.stringify(limits).slice(0, 60)} with a hint`, () => {
      const r = parse(limits);
      assert.equal(r.code, 'E_BAD_REQUEST', JSON.stringify(r));
      assert.match(r.message ?? '', message);
      assert.ok(r.hint, 'a hint says what to send');
    });
  }
  it('refuses memory and memoryMb together', () => {
    try {
      limitsOf({ memory: 512, memoryMb: 512 });
      assert.fail('expected a refusal');
    } catch (err) {
      assert.ok(isBerthError(err) && err.code === 'E_BAD_REQUEST' && /not both/.test(err.message));
    }
  });
});
