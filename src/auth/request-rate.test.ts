import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RequestRateLimiter } from './request-rate.js';

describe('RequestRateLimiter', () => {
  it('allows a burst of perMinute, then one request per 60/perMinute s, per key', () => {
    const l = new RequestRateLimiter(3);
    const t0 = 1_000_000;
    for (let i = 0; i < 3; i++) assert.equal(l.take('a', t0), 0);
    assert.equal(l.take('a', t0), 20_000);
    assert.equal(l.take('b', t0), 0, 'another key has its own budget');
    assert.equal(l.take('a', t0 + 19_999), 1);
    assert.equal(l.take('a', t0 + 20_000), 0);
    assert.equal(l.take('a', t0 + 20_000), 20_000);
  });

  it('0 means no limit', () => {
    const l = new RequestRateLimiter(0);
    for (let i = 0; i < 1000; i++) assert.equal(l.take('a'), 0);
  });

  it('forgets refilled keys', () => {
    const l = new RequestRateLimiter(60);
    for (let i = 0; i < 1000; i++) l.take(`k${i}`, 0);
    l.take('x', 120_000);
    assert.equal((l as unknown as { buckets: Map<string, unknown> }).buckets.size, 1);
  });
});
