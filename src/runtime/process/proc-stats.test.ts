import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseProcStat, scanProc, sumBySession } from './proc-stats.js';

// A real /proc/<pid>/stat line (sh -c 'while :; do :; done' under a supervisor), with a command
// name holding a space and a parenthesis, as a program may name itself.
const LINE = '4242 (sh (x) y) R 4240 4240 4240 0 -1 4194304 103 0 0 0 1234 56 0 0 20 0 1 0 99999 2605056 213 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0';

describe('/proc/<pid>/stat', () => {
  it('reads pid, parent, session, CPU ticks and resident pages, counting fields after the last )', () => {
    assert.deepEqual(parseProcStat(LINE), { pid: 4242, state: 'R', ppid: 4240, session: 4240, ticks: 1290, rssPages: 213 });
  });
  it('refuses what is not a stat line', () => {
    assert.equal(parseProcStat(''), null);
    assert.equal(parseProcStat('4242 (sh) R 1 2'), null);
  });
  it('reads this very process from the real /proc', async () => {
    const me = (await scanProc()).find((s) => s.pid === process.pid);
    assert.ok(me, 'this process is in /proc');
    assert.equal(me.ppid, process.ppid);
    assert.ok(me.rssPages > 0);
  });
});

describe('summing a session', () => {
  const procs = [
    { pid: 10, state: 'S', ppid: 1, session: 10, ticks: 5, rssPages: 100 },
    { pid: 11, state: 'R', ppid: 10, session: 10, ticks: 700, rssPages: 20 },
    { pid: 12, state: 'S', ppid: 11, session: 10, ticks: 3, rssPages: 7 },
    { pid: 13, state: 'Z', ppid: 11, session: 10, ticks: 50, rssPages: 0 },
    { pid: 20, state: 'R', ppid: 1, session: 20, ticks: 9999, rssPages: 9999 },
  ];
  it('adds the workload processes of each session, without the supervisor and zombies', () => {
    const sums = sumBySession(procs, new Set([10]), new Set([10]));
    assert.deepEqual([...sums], [[10, { ticks: 703, rssPages: 27, pids: 2 }]]);
  });
});
