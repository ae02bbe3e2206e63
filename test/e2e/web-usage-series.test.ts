// Unit tests of the usage chart's pure helpers (web/src/lib/usage-series.ts): the bounded series
// and the polyline scaling.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { polyline, pushPoint, type UsagePoint } from '../../web/src/lib/usage-series.js';

const p = (at: number, cpuPercent: number | null, memoryBytes = 0): UsagePoint => ({ at, cpuPercent, memoryBytes });

describe('usage series', () => {
  it('keeps the window, and a repeated sample (a cached answer) once', () => {
    let s: UsagePoint[] = [];
    s = pushPoint(s, p(1000, 1), 10_000);
    s = pushPoint(s, p(1000, 1), 10_000);
    s = pushPoint(s, p(6000, 2), 10_000);
    s = pushPoint(s, p(12_000, 3), 10_000);
    assert.deepEqual(s.map((q) => q.at), [6000, 12_000]);
  });
  it('scales to the box with the newest point at the right edge, clamps at the top, skips unknowns', () => {
    const s = [p(0, 50), p(5000, null), p(10_000, 200)];
    assert.equal(polyline(s, (q) => q.cpuPercent, 100, 300, 60, 10_000), '0.0,30.0 300.0,0.0');
    assert.equal(polyline([], (q) => q.cpuPercent, 100, 300, 60, 10_000), '');
    assert.equal(polyline([p(0, 0)], (q) => q.cpuPercent, 0, 300, 60, 10_000), '300.0,60.0');
  });
});
