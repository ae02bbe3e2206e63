// Property-based fuzzing of the edge over raw sockets against a real daemon (issue 11, "crash-proof
// entry points"): random and adversarial request lines, headers, cookies, paths and upgrades. After
// every batch the daemon must still answer /api/health, no case may have drawn a 500 (a throw), no
// unallocated port may have been dialled, and a recording upstream may only have seen requests
// for its own route (the private one: only with the admin's credentials). bench/fuzz.ts runs the
// same properties for 10⁵+ cases.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { caseArbitrary, healthy, newStats, runBatch, startFuzzFixture, type FuzzFixture } from '../support/fuzz-edge.js';

const CASES = Number(process.env.BERTH_FUZZ_CASES ?? 3_000);
const BATCH = 500;

describe('edge fuzz (raw sockets, real daemon)', () => {
  let f: FuzzFixture;

  before(async () => {
    f = await startFuzzFixture();
  });
  after(async () => {
    await f.close();
  });

  it(`survives ${CASES} random and adversarial requests with no 500, no stray dial, no private leak`, async (t) => {
    const stats = newStats();
    const arb = caseArbitrary(f);
    // A fixed seed per run is printed, so a failure can be replayed: BERTH_FUZZ_SEED=<seed>.
    const seed = Number(process.env.BERTH_FUZZ_SEED ?? Date.now() % 2 ** 31);
    for (let done = 0; done < CASES; done += BATCH) {
      const cases = fc.sample(arb, { numRuns: Math.min(BATCH, CASES - done), seed: seed + done });
      await runBatch(f, cases, done, stats);
      assert.ok(await healthy(f.port), `the daemon stopped answering /api/health after case ${done + cases.length} (seed ${seed})`);
    }
    const statuses = [...stats.byStatus].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}:${n}`).join(' ');
    t.diagnostic(`seed ${seed}; statuses ${statuses}; upstream requests: public ${f.publicRoute.recorder.total}, private ${f.privateRoute.recorder.total}`);
    assert.deepEqual(stats.violations, [], `seed ${seed}`);
    assert.deepEqual(stats.errors.slice(0, 5), [], `500s (seed ${seed}; statuses ${statuses})`);
    assert.deepEqual(stats.timeouts.slice(0, 5), [], `timed out (seed ${seed}; statuses ${statuses})`);
    // Node closes CONNECT sockets without a word (the edge is no forward proxy); nothing else may go unanswered.
    assert.deepEqual(stats.unanswered.filter((u) => u.c.method !== 'CONNECT').slice(0, 5), [], `unanswered (seed ${seed})`);
    assert.equal(stats.cases, CASES);
    // The generator must actually reach the interesting places, or the test proves nothing.
    assert.ok(f.publicRoute.recorder.total > 0 && f.privateRoute.recorder.total > 0, `upstreams reached: public ${f.publicRoute.recorder.total}, private ${f.privateRoute.recorder.total}`);
    for (const s of [200, 400, 401, 404]) assert.ok((stats.byStatus.get(s) ?? 0) > 0, `no ${s} in ${statuses}`);
  });
});
