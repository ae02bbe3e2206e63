import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cpusProblem, formatBytes, formatMb, limitsOverHost, parseMemoryMb } from './resources.js';

describe('memory sizes', () => {
  for (const [input, mb] of [
    ['512m', 512],
    ['512M', 512],
    ['2g', 2048],
    ['1.5Gi', 1536],
    ['1gb', 1024],
    ['6m', 6],
    ['8192k', 8],
    [' 64 mi ', 64],
    ['1t', 1024 * 1024],
    ['100', 100],
    [256, 256],
    [100.9, 100],
  ] as const) {
    it(`reads ${JSON.stringify(input)} as ${mb} MB`, () => assert.deepEqual(parseMemoryMb(input), { mb }));
  }
  for (const input of ['', 'lots', '-5m', '512 parsecs', '0x200m', '1e3m', 'm', '5m', 0, -1, 5, Number.NaN, Number.POSITIVE_INFINITY]) {
    it(`refuses ${JSON.stringify(input)} (${String(input)})`, () => assert.ok('problem' in parseMemoryMb(input)));
  }
  it('says what the minimum is', () => {
    const r = parseMemoryMb('1m');
    assert.ok('problem' in r && /at least 6m/.test(r.problem), JSON.stringify(r));
  });
});

describe('cpus', () => {
  it('accepts fractions from 0.01 up', () => {
    for (const n of [0.01, 0.5, 1, 1.5, 64]) assert.equal(cpusProblem(n), null, String(n));
  });
  it('refuses 0, negative, too small and non-finite values', () => {
    for (const n of [0, -1, 0.001, Number.NaN, Number.POSITIVE_INFINITY]) assert.notEqual(cpusProblem(n), null, String(n));
  });
});

describe('limits against the host', () => {
  const host = { cpus: 2, memoryMb: 4096 };
  it('lets limits up to the host pass', () => {
    assert.equal(limitsOverHost({ cpus: 2, memoryMb: 4096 }, host), null);
    assert.equal(limitsOverHost({}, host), null);
  });
  it('names what is over', () => {
    assert.match(limitsOverHost({ cpus: 2.5 }, host) ?? '', /cpus 2.5 is more than the 2 CPUs/);
    assert.match(limitsOverHost({ memoryMb: 512 * 1024 }, host) ?? '', /memory 512g is more than the 4g/);
  });
});

describe('formatting', () => {
  it('writes megabytes and bytes for people', () => {
    assert.equal(formatMb(512), '512m');
    assert.equal(formatMb(1536), '1.5g');
    assert.equal(formatBytes(0), '0 B');
    assert.equal(formatBytes(1023), '1023 B');
    assert.equal(formatBytes(1536), '1.5 KiB');
    assert.equal(formatBytes(64 * 1024 * 1024), '64 MiB');
    assert.equal(formatBytes(2.25 * 1024 ** 3), '2.3 GiB');
  });
});
