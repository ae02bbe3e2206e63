/**
 * Edge fuzzing at scale: `node --import tsx bench/fuzz.ts` (`--cases 100000`, `--batch 2000`,
 * `--concurrency 32`, `--seed N --from I` to replay a run from case I, a multiple of the batch).
 *
 * The same fixture and properties as test/integration/fuzz-edge.test.ts, 10⁵ cases and more: a real
 * daemon (process runtime, in this process) with a private and a public workspace whose ports are
 * served by recording listeners, sentinel listeners on ports Berth never allocated, and random and
 * adversarial requests over raw sockets. After each batch: /api/health must answer 200, the
 * sentinels must have seen no connection, and each recorder only requests naming its own route (the
 * private one only with the admin's credentials). Counted: cases/s, statuses, 500s, timeouts,
 * crashes (uncaught exceptions: in a real daemon each one would have ended the process) and property
 * violations; the first few of each are printed with the case that caused them. Exit code 1 on any
 * finding, so a CI job can run it as is. (The API's in-process fuzz is a test:
 * `BERTH_FUZZ_API_CASES=20000 node scripts/run-tests.mjs test/integration/fuzz-api.test.ts`.)
 */
import fc from 'fast-check';
import { caseArbitrary, healthy, newStats, runBatch, startFuzzFixture } from '../test/support/fuzz-edge.js';
import { parseArgs, printTable } from './support.js';

const args = parseArgs(process.argv.slice(2), ['cases', 'batch', 'concurrency', 'seed', 'from']);
/** First case index: with the same seed and batch size, replays a run from that batch on. */
const FROM = Number(args.get('from') ?? 0);
const CASES = Number(args.get('cases') ?? 100_000);
const BATCH = Number(args.get('batch') ?? 2_000);
const CONCURRENCY = Number(args.get('concurrency') ?? 32);
const SEED = Number(args.get('seed') ?? Date.now() % 2 ** 31);

const crashes: unknown[] = [];
process.on('uncaughtException', (err) => crashes.push(err));
process.on('unhandledRejection', (err) => crashes.push(err));

const f = await startFuzzFixture();
const stats = newStats();
const arb = caseArbitrary(f);
const unhealthyAfter: number[] = [];
const started = performance.now();
let lastReport = started;
try {
  for (let done = FROM; done < FROM + CASES; done += BATCH) {
    const cases = fc.sample(arb, { numRuns: Math.min(BATCH, FROM + CASES - done), seed: SEED + done });
    await runBatch(f, cases, done, stats, CONCURRENCY);
    if (!(await healthy(f.port))) unhealthyAfter.push(done + cases.length);
    if (performance.now() - lastReport > 10_000) {
      lastReport = performance.now();
      const rate = stats.cases / ((lastReport - started) / 1000);
      process.stderr.write(`${stats.cases} cases, ${rate.toFixed(0)}/s, 500s ${stats.errors.length}, crashes ${crashes.length}, violations ${stats.violations.length}\n`);
    }
  }
} finally {
  await f.close();
}
const seconds = (performance.now() - started) / 1000;

const statuses = [...stats.byStatus].sort((a, b) => a[0] - b[0]);
console.log(`seed ${SEED}; ${stats.cases} cases in ${seconds.toFixed(1)} s (${(stats.cases / seconds).toFixed(0)} cases/s, concurrency ${CONCURRENCY})`);
printTable(['finding', 'count'], [
  ['500 answers', String(stats.errors.length)],
  ['timeouts (no answer within 3 s)', String(stats.timeouts.length)],
  ['unanswered, not CONNECT', String(stats.unanswered.filter((u) => u.c.method !== 'CONNECT').length)],
  ['crashes (uncaught exceptions)', String(crashes.length)],
  ['/api/health not 200 after a batch', String(unhealthyAfter.length)],
  ['dials of unallocated ports', String(stats.violations.filter((v) => v.startsWith('unallocated')).length)],
  ['other upstream violations', String(stats.violations.filter((v) => !v.startsWith('unallocated')).length)],
  ['requests reaching the public upstream', String(f.publicRoute.recorder.total)],
  ['requests reaching the private upstream (admin)', String(f.privateRoute.recorder.total)],
]);
console.log(`statuses: ${statuses.map(([s, n]) => `${s}:${n}`).join(' ')}`);
const show = (what: string, list: readonly unknown[]): void => {
  for (const x of list.slice(0, 5)) console.log(`${what}: ${typeof x === 'string' ? x : x instanceof Error ? x.stack : JSON.stringify(x)}`);
};
show('500', stats.errors);
show('timeout', stats.timeouts);
show('crash', crashes);
show('violation', stats.violations);
const silent = stats.unanswered.filter((u) => u.c.method !== 'CONNECT');
show('unanswered', silent);
const findings = stats.errors.length + stats.timeouts.length + silent.length + crashes.length + unhealthyAfter.length + stats.violations.length;
process.exitCode = findings === 0 ? 0 : 1;
