import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HourlyLimit, renewalDue, retryDelayMs } from './renewal.js';

const DAY = 86_400_000;

describe('renewalDue', () => {
  const start = new Date('2026-01-01T00:00:00Z');
  const after = (days: number): Date => new Date(start.getTime() + days * DAY);

  it('90-day certificates renew 30 days before expiry', () => {
    assert.equal(renewalDue(start, after(90), 30).toISOString(), '2026-03-02T00:00:00.000Z');
    assert.equal(renewalDue(start, after(90), 10).toISOString(), after(60).toISOString(), '2/3 comes first');
  });

  it('short-lived certificates renew at 2/3 of their life, never right after issuance', () => {
    // 6 days: "30 days before" would be before issuance (a renewal loop); 2/3 is day 4.
    assert.equal(renewalDue(start, after(6), 30).toISOString(), after(4).toISOString());
    assert.equal(renewalDue(start, after(45), 30).toISOString(), after(30).toISOString());
  });

  it('long-lived certificates renew at 2/3 when that comes before the days rule; the fraction is configurable', () => {
    assert.equal(renewalDue(start, after(365), 30).getTime(), start.getTime() + (365 * DAY * 2) / 3);
    assert.equal(renewalDue(start, after(100), 30, 0.5).toISOString(), after(50).toISOString());
  });
});

describe('retryDelayMs', () => {
  it('doubles from one minute and stops at six hours', () => {
    assert.deepEqual([0, 1, 2, 3, 4].map((n) => retryDelayMs(n)), [0, 60_000, 120_000, 240_000, 480_000]);
    assert.equal(retryDelayMs(50), 6 * 3_600_000);
  });
});

describe('HourlyLimit', () => {
  it('lets perHour events through in any sliding hour, then refuses until one ages out', () => {
    let now = 0;
    const limit = new HourlyLimit(2, () => now);
    assert.equal(limit.take(), true);
    now = 1000;
    assert.equal(limit.take(), true);
    assert.equal(limit.take(), false);
    now = 3_600_000;
    assert.equal(limit.take(), true, 'the first slot aged out');
    assert.equal(limit.take(), false);
    assert.equal(new HourlyLimit(0).take(), false, '0 = no on-demand orders');
  });
});
