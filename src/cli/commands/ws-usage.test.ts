import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError } from 'commander';
import { formatLimits, formatTop, formatUsageLine, parseCpusOption, parseMemoryOption, type ApiUsage } from './ws-usage.js';

const usage = (cpuPercent: number | null, memoryBytes: number): ApiUsage => ({
  cpuPercent, cpuSeconds: 1, memoryBytes, memoryLimitBytes: null, pids: 2, diskBytes: 4096, sampledAt: '2026-12-03T17:00:00.000Z',
});

describe('--cpus and --memory', () => {
  it('reads numbers of CPUs and sizes', () => {
    assert.equal(parseCpusOption('1.5'), 1.5);
    assert.equal(parseCpusOption('.5'), 0.5);
    assert.equal(parseMemoryOption('512m'), 512);
    assert.equal(parseMemoryOption('2g'), 2048);
  });
  it('refuses nonsense as a usage error', () => {
    for (const v of ['0', '-1', 'two', '1e3', '', '0x10']) assert.throws(() => parseCpusOption(v), InvalidArgumentError, v);
    for (const v of ['0', '5m', 'lots', '-512m']) assert.throws(() => parseMemoryOption(v), InvalidArgumentError, v);
  });
});

describe('ws top table', () => {
  it('lists running workspaces, busiest first, with limits where set', () => {
    const out = formatTop([
      { name: 'idle', id: 'i1', state: 'running', cpus: null, memoryMb: null, usage: usage(0.5, 2 * 1024 * 1024) },
      { name: 'busy', id: 'b1', state: 'running', cpus: 0.5, memoryMb: 64, usage: usage(49.9, 16 * 1024 * 1024) },
      { name: 'off', id: 'o1', state: 'stopped', usage: null },
      { name: 'new', id: 'n1', state: 'running', usage: null },
    ]);
    const lines = out.trimEnd().split('\n');
    assert.match(lines[0]!, /^NAME\s+ID\s+CPU\s+CPUS\s+MEM\s+LIMIT\s+MEM%\s+PIDS\s+DISK$/);
    assert.match(lines[1]!, /^busy\s+b1\s+49\.9%\s+0\.5\s+16 MiB\s+64 MiB\s+25\.0%\s+2\s+4\.0 KiB$/);
    assert.match(lines[2]!, /^idle\s+i1\s+0\.5%\s+-\s+2\.0 MiB\s+-\s+-\s+2\s+4\.0 KiB$/);
    assert.match(lines[3]!, /^new\s+n1\s+-\s+-\s+-\s+-\s+-\s+-\s+-$/);
    assert.equal(lines.length, 4, 'the stopped one is not listed');
  });
  it('says when nothing runs', () => {
    assert.equal(formatTop([{ name: 'off', id: 'o', state: 'stopped' }]), 'no running workspaces\n');
  });
  it('writes the ws show lines', () => {
    assert.equal(formatLimits({ cpus: 1.5, memoryMb: 512 }), '1.5 CPUs, 512m memory');
    assert.equal(formatLimits({ cpus: null, memoryMb: 2048 }), 'CPU unlimited, 2g memory');
    assert.equal(formatUsageLine(usage(12.34, 3 * 1024 * 1024)), 'CPU 12.3%, memory 3.0 MiB, 2 processes, disk 4.0 KiB');
  });
});
