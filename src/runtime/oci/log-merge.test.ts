import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mergeStampedLogs, parseStampedLines } from './log-merge.js';

describe('merging docker logs --timestamps', () => {
  it('restores the order of stdout and stderr lines by their stamps', () => {
    const stdout = '2026-11-29T09:34:01.1Z first\n2026-11-29T09:34:01.300000001Z third\n';
    const stderr = '2026-11-29T09:34:01.2Z second\n2026-11-29T09:34:02Z last\n';
    assert.equal(mergeStampedLogs(stdout, stderr), 'first\nsecond\nthird\nlast\n');
  });

  it('compares nanoseconds exactly, even where a double would round them', () => {
    const stdout = '2026-11-29T09:34:01.123456789Z b\n';
    const stderr = '2026-11-29T09:34:01.123456788Z a\n';
    assert.equal(mergeStampedLogs(stdout, stderr), 'a\nb\n');
  });

  it('reads offsets, keeps stdout first on equal times, keeps unstamped lines with their predecessor', () => {
    const stdout = '2026-11-29T10:34:01+01:00 out\nno stamp\n';
    const stderr = '2026-11-29T09:34:01Z err\n';
    assert.equal(mergeStampedLogs(stdout, stderr), 'out\nno stamp\nerr\n');
    assert.deepEqual(parseStampedLines('2026-11-29T09:34:01Z  two spaces kept\n').map((l) => l.text), [' two spaces kept']);
  });

  it('is empty for empty output', () => {
    assert.equal(mergeStampedLogs('', ''), '');
  });
});
