import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BACKOFF_RESET_AFTER_MS, crashRestartDelayMs, restartDelayMs, shouldRestart } from './workspace.js';

describe('restart backoff', () => {
  it('doubles from 1 s and stops at 5 minutes', () => {
    assert.deepEqual([1, 2, 3, 4].map(restartDelayMs), [1000, 2000, 4000, 8000]);
    assert.equal(restartDelayMs(20), 300_000);
  });

  it('starts over after a long healthy run, keeps climbing after a short one or an unknown one', () => {
    const start = '2026-11-29T10:00:00.000Z';
    const at = (ms: number) => new Date(Date.parse(start) + ms).toISOString();
    assert.equal(crashRestartDelayMs(6, start, at(BACKOFF_RESET_AFTER_MS)), 1000, 'ran 10 min: healthy, backoff resets');
    assert.equal(crashRestartDelayMs(6, start, at(5_000)), restartDelayMs(7), 'ran 5 s: the 7th restart waits 64 s');
    assert.equal(crashRestartDelayMs(6, null, null), restartDelayMs(7), 'unknown times never reset');
    assert.equal(crashRestartDelayMs(0, start, at(1)), 1000);
  });

  it('restart policies', () => {
    assert.equal(shouldRestart('no', 1), false);
    assert.equal(shouldRestart('on-failure', 0), false);
    assert.equal(shouldRestart('on-failure', 137), true);
    assert.equal(shouldRestart('on-failure', null), true);
    assert.equal(shouldRestart('always', 0), true);
  });
});
