import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { DeliveryLog } from '../../src/jobs/deliveries.js';
import { JobAbort, JobQueue, type Job, type JobHandlers } from '../../src/jobs/queue.js';
import { silentLogger } from '../../src/log.js';
import { openDb, type Db } from '../../src/store/db.js';
import { within } from '../support/wait.js';

/** Durable queue against real SQLite files: dedupe, per-key order, coalescing, crash recovery, retries. */

const root = path.resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(path.join(tmpdir(), 'berth-queue-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const freshFile = (): string => path.join(dir, `q${++n}.db`);

type Types = { up: { v: number }; down: { v: number }; other: { v: number } };
const fast = { log: silentLogger(), backoff: { baseMs: 10, maxMs: 40 }, concurrency: 4 };

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

async function waitFor(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A queue whose handlers record runs; `gate` (when set) holds a run until released. */
function harness(db: Db, opts: Partial<typeof fast> = {}) {
  const queue = new JobQueue<Types>(db, { ...fast, ...opts });
  const runs: { type: string; key: string; v: number; attempt: number }[] = [];
  const gates = new Map<string, ReturnType<typeof deferred>>();
  const handler = (type: string) => async (job: Job<{ v: number }>) => {
    runs.push({ type, key: job.key, v: job.payload.v, attempt: job.attempts });
    await gates.get(`${type}:${job.payload.v}`)?.promise;
  };
  const handlers: JobHandlers<Types> = { up: handler('up'), down: handler('down'), other: handler('other') };
  const hold = (type: string, v: number): (() => void) => {
    const d = deferred();
    gates.set(`${type}:${v}`, d);
    return d.resolve;
  };
  return { queue, runs, handlers, hold };
}

describe('job queue', () => {
  it('applies migration 3 alongside the others, tolerating the gap at 2', () => {
    const db = openDb(freshFile());
    const versions = db.prepare<[], { version: number }>('SELECT version FROM schema_migrations ORDER BY version').all().map((r) => r.version);
    assert.ok(versions.includes(1) && versions.includes(3), String(versions));
    assert.ok(db.prepare("SELECT name FROM sqlite_master WHERE name IN ('jobs', 'webhook_deliveries')").all().length === 2);
    db.close();
  });

  it('applies migration 3 to a database that already has later versions (written before it existed)', () => {
    const file = freshFile();
    const db1 = openDb(file);
    // Roll the file back to "1 and 4 applied, 3 unknown", as a store created before this migration.
    db1.exec('DROP TABLE jobs; DROP TABLE webhook_deliveries; DELETE FROM schema_migrations WHERE version = 3;');
    db1.close();
    const db2 = openDb(file);
    assert.ok(db2.prepare<[], { version: number }>('SELECT version FROM schema_migrations WHERE version = 3').get());
    new JobQueue<Types>(db2, fast).enqueue({ type: 'up', key: 'k', payload: { v: 1 } });
    db2.close();
  });

  it('deduplicates on dedupeId and runs the job once', async () => {
    const db = openDb(freshFile());
    const { queue, runs, handlers } = harness(db);
    const first = queue.enqueue({ type: 'up', key: 'o/r#1', payload: { v: 1 }, dedupeId: 'delivery-1' });
    const again = queue.enqueue({ type: 'up', key: 'o/r#1', payload: { v: 2 }, dedupeId: 'delivery-1' });
    assert.equal(first.duplicate, false);
    assert.deepEqual(again, { id: first.id, duplicate: true });
    queue.start(handlers);
    await waitFor(() => queue.get(first.id)?.state === 'done', 'job done');
    assert.deepEqual(runs.map((r) => r.v), [1]);
    assert.equal(queue.list().length, 1);
    await queue.stop();
    db.close();
  });

  it('runs jobs of one key strictly one at a time and in order, different keys concurrently', async () => {
    const db = openDb(freshFile());
    const queue = new JobQueue<Types>(db, fast);
    const running = new Map<string, number>();
    let maxPerKey = 0;
    let maxOverall = 0;
    const order: string[] = [];
    const work = async (job: Job<{ v: number }>): Promise<void> => {
      running.set(job.key, (running.get(job.key) ?? 0) + 1);
      maxPerKey = Math.max(maxPerKey, ...running.values());
      maxOverall = Math.max(maxOverall, [...running.values()].reduce((a, b) => a + b, 0));
      await new Promise((r) => setTimeout(r, 30));
      order.push(`${job.key}:${job.payload.v}`);
      running.set(job.key, running.get(job.key)! - 1);
    };
    // replaces: [] turns coalescing off, so every job runs.
    for (let v = 1; v <= 3; v++) {
      for (const key of ['a#1', 'b#2']) queue.enqueue({ type: 'other', key, payload: { v }, replaces: [] });
    }
    queue.start({ up: work, down: work, other: work });
    await waitFor(() => order.length === 6, 'six runs');
    assert.equal(maxPerKey, 1, 'two jobs of one key overlapped');
    assert.equal(maxOverall, 2, 'different keys should run together');
    assert.deepEqual(order.filter((o) => o.startsWith('a#1')), ['a#1:1', 'a#1:2', 'a#1:3']);
    assert.deepEqual(order.filter((o) => o.startsWith('b#2')), ['b#2:1', 'b#2:2', 'b#2:3']);
    await queue.stop();
    db.close();
  });

  it('coalesces: three quick enqueues during a run cause exactly one extra run, with the last payload', async () => {
    const db = openDb(freshFile());
    const { queue, runs, handlers, hold } = harness(db);
    const release = hold('up', 1);
    queue.start(handlers);
    const first = queue.enqueue({ type: 'up', key: 'o/r#7', payload: { v: 1 } });
    await waitFor(() => runs.length === 1, 'first run');
    const r2 = queue.enqueue({ type: 'up', key: 'o/r#7', payload: { v: 2 } });
    const r3 = queue.enqueue({ type: 'up', key: 'o/r#7', payload: { v: 3 } });
    const r4 = queue.enqueue({ type: 'up', key: 'o/r#7', payload: { v: 4 } });
    assert.ok(!r3.duplicate && !r4.duplicate);
    assert.deepEqual(r3.superseded, [r2.id]);
    assert.deepEqual(r4.superseded, [r3.id]);
    assert.deepEqual(queue.depth(), { pending: 1, running: 1 });
    release();
    await waitFor(() => queue.get(r4.id)?.state === 'done', 'last job done');
    assert.deepEqual(runs.map((r) => r.v), [1, 4]);
    assert.equal(queue.get(first.id)?.state, 'done');
    assert.equal(queue.get(r2.id)?.state, 'superseded');
    assert.equal(queue.get(r2.id)?.supersededBy, r3.id);
    await queue.stop();
    db.close();
  });

  it('a down job supersedes pending up jobs of its key, but not of other keys', async () => {
    const db = openDb(freshFile());
    const { queue, runs, handlers, hold } = harness(db);
    const release = hold('up', 1);
    queue.start(handlers);
    queue.enqueue({ type: 'up', key: 'o/r#1', payload: { v: 1 } });
    await waitFor(() => runs.length === 1, 'first run');
    const up2 = queue.enqueue({ type: 'up', key: 'o/r#1', payload: { v: 2 } });
    const other = queue.enqueue({ type: 'up', key: 'o/r#2', payload: { v: 9 } });
    const down = queue.enqueue({ type: 'down', key: 'o/r#1', payload: { v: 3 }, replaces: ['up', 'down'] });
    assert.ok(!down.duplicate && down.superseded.includes(up2.id) && !down.superseded.includes(other.id));
    release();
    await waitFor(() => queue.get(down.id)?.state === 'done' && queue.get(other.id)?.state === 'done', 'down and other done');
    assert.deepEqual(runs.filter((r) => r.key === 'o/r#1').map((r) => `${r.type}${r.v}`), ['up1', 'down3']);
    await queue.stop();
    db.close();
  });

  it('interrupt aborts the running job of the key; it ends superseded, not failed', async () => {
    const db = openDb(freshFile());
    const queue = new JobQueue<Types>(db, fast);
    const seen: string[] = [];
    const up = async (job: Job<{ v: number }>, ctx: { signal: AbortSignal }): Promise<void> => {
      seen.push(`start${job.payload.v}`);
      if (job.payload.v === 1) {
        await new Promise<void>((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason as Error)));
      }
    };
    queue.start({ up, down: up, other: up });
    const first = queue.enqueue({ type: 'up', key: 'k', payload: { v: 1 } });
    await waitFor(() => seen.length === 1, 'first start');
    const second = queue.enqueue({ type: 'up', key: 'k', payload: { v: 2 }, interrupt: true });
    await waitFor(() => queue.get(second.id)?.state === 'done', 'second done');
    const j1 = queue.get(first.id)!;
    assert.equal(j1.state, 'superseded');
    assert.equal(j1.supersededBy, second.id);
    assert.deepEqual(seen, ['start1', 'start2']);
    await queue.stop();
    db.close();
  });

  it('retries a failing job with backoff and records the final failure', async () => {
    const db = openDb(freshFile());
    const queue = new JobQueue<Types>(db, fast);
    let flaky = 0;
    const settled: Job[] = [];
    queue.on('settled', (j) => settled.push(j));
    queue.start({
      up: async () => {
        if (++flaky < 3) throw new Error(`flake ${flaky}`);
      },
      down: async () => {
        throw new Error('always broken');
      },
      other: async () => {},
    });
    const ok = queue.enqueue({ type: 'up', key: 'a', payload: { v: 1 } });
    const bad = queue.enqueue({ type: 'down', key: 'b', payload: { v: 1 }, maxAttempts: 2 });
    await waitFor(() => queue.get(ok.id)?.state === 'done' && queue.get(bad.id)?.state === 'failed', 'both settled');
    const good = queue.get(ok.id)!;
    assert.equal(good.attempts, 3);
    assert.equal(good.error, null);
    const failed = queue.get(bad.id)!;
    assert.equal(failed.attempts, 2);
    assert.equal(failed.error, 'always broken');
    assert.ok(failed.finishedAt);
    // Two retries scheduled for `up` (pending again, with the error), then done.
    assert.deepEqual(settled.filter((j) => j.id === ok.id).map((j) => `${j.state}:${j.error ?? ''}`), ['pending:flake 1', 'pending:flake 2', 'done:']);
    await queue.stop();
    db.close();
  });

  it('a retry that falls due while the worker looks for work is not left waiting (regression: stalled on short backoffs)', async () => {
    // A 1 ms backoff falls due between claim() and the timer's computation whenever the clock
    // ticks in between; the worker used to set no timer then, and the job waited for an enqueue.
    const db = openDb(freshFile());
    const queue = new JobQueue<Types>(db, { ...fast, backoff: { baseMs: 1, maxMs: 1 }, maxAttempts: 40 });
    let runs = 0;
    queue.start({
      up: async () => {
        if (++runs < 40) throw new Error(`flake ${runs}`);
      },
      down: async () => {},
      other: async () => {},
    });
    const job = queue.enqueue({ type: 'up', key: 'k', payload: { v: 1 } });
    await waitFor(() => queue.get(job.id)?.state === 'done', `40 attempts (${runs} ran)`, 5000);
    assert.equal(queue.get(job.id)!.attempts, 40);
    await queue.stop();
    db.close();
  });

  it('keeps pending jobs across a restart', async () => {
    const file = freshFile();
    const db1 = openDb(file);
    const id = new JobQueue<Types>(db1, fast).enqueue({ type: 'up', key: 'k', payload: { v: 5 } }).id;
    db1.close();
    const db2 = openDb(file);
    const { queue, runs, handlers } = harness(db2);
    queue.start(handlers);
    await waitFor(() => queue.get(id)?.state === 'done', 'job done after restart');
    assert.deepEqual(runs.map((r) => r.v), [5]);
    await queue.stop();
    db2.close();
  });

  it('recovers a job whose run was cut short (database closed mid-run): it runs again, attempt counted', async () => {
    const file = freshFile();
    const db1 = openDb(file);
    const h1 = harness(db1);
    const release = h1.hold('up', 1);
    h1.queue.start(h1.handlers);
    const { id } = h1.queue.enqueue({ type: 'up', key: 'o/r#3', payload: { v: 1 } });
    await waitFor(() => h1.runs.length === 1, 'first run');
    db1.close();
    release(); // the old handler finishing must not touch the closed database (nor throw)

    const db2 = openDb(file);
    const h2 = harness(db2);
    assert.equal(h2.queue.get(id)?.state, 'running');
    h2.queue.start(h2.handlers);
    await waitFor(() => h2.queue.get(id)?.state === 'done', 'job done after reopen');
    assert.deepEqual(h2.runs, [{ type: 'up', key: 'o/r#3', v: 1, attempt: 2 }]);
    await h2.queue.stop();
    db2.close();
  });

  it('a recovered job yields to a newer pending job of its key that replaces it', async () => {
    const file = freshFile();
    const db1 = openDb(file);
    const h1 = harness(db1);
    const release = h1.hold('up', 1);
    h1.queue.start(h1.handlers);
    const { id } = h1.queue.enqueue({ type: 'up', key: 'o/r#3', payload: { v: 1 } });
    await waitFor(() => h1.runs.length === 1, 'first run');
    // A newer push arrived and waits behind the running job when the daemon dies.
    const newer = h1.queue.enqueue({ type: 'up', key: 'o/r#3', payload: { v: 2 } });
    db1.close();
    release();

    const db2 = openDb(file);
    const h2 = harness(db2);
    h2.queue.start(h2.handlers);
    await waitFor(() => h2.queue.get(newer.id)?.state === 'done', 'newer job done');
    assert.equal(h2.queue.get(id)?.state, 'superseded');
    assert.deepEqual(h2.runs.map((r) => r.v), [2]);
    await h2.queue.stop();
    db2.close();
  });

  it('recovers after kill -9 of the process running the job', async () => {
    const file = freshFile();
    const url = (p: string): string => pathToFileURL(path.join(root, p)).href;
    const script = `
      const { openDb } = await import(${JSON.stringify(url('src/store/db.ts'))});
      const { JobQueue } = await import(${JSON.stringify(url('src/jobs/queue.ts'))});
      const { silentLogger } = await import(${JSON.stringify(url('src/log.ts'))});
      const db = openDb(${JSON.stringify(file)});
      const queue = new JobQueue(db, { log: silentLogger() });
      setInterval(() => {}, 1000);
      queue.start({ up: async () => { process.stdout.write('RUNNING\\n'); await new Promise(() => {}); } });
      queue.enqueue({ type: 'up', key: 'o/r#9', payload: { v: 9 }, dedupeId: 'd-9' });
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    // Bounded: a child that neither starts the job nor exits fails the test with this message
    // instead of hanging it (and is killed below either way).
    const exited = new Promise((r) => child.once('exit', r));
    try {
      await within(
        new Promise<void>((resolve, reject) => {
          createInterface({ input: child.stdout! }).on('line', (line) => line === 'RUNNING' && resolve());
          child.once('exit', (code) => reject(new Error(`child exited early (${code})`)));
        }),
        30_000,
        'the child process to start running the job (RUNNING on its stdout)',
      );
    } finally {
      child.kill('SIGKILL');
    }
    await exited;

    const db = openDb(file);
    const { queue, runs, handlers } = harness(db);
    const [job] = queue.list();
    assert.equal(job?.state, 'running');
    queue.start(handlers);
    await waitFor(() => queue.get(job!.id)?.state === 'done', 'recovered job done');
    assert.deepEqual(runs, [{ type: 'up', key: 'o/r#9', v: 9, attempt: 2 }]);
    // The delivery id is still remembered after the crash.
    assert.equal(queue.enqueue({ type: 'up', key: 'o/r#9', payload: { v: 9 }, dedupeId: 'd-9' }).duplicate, true);
    await queue.stop();
    db.close();
  });

  it('a job interrupted on every attempt ends failed instead of looping', () => {
    const db = openDb(freshFile());
    db.prepare(
      "INSERT INTO jobs (type, key, payload, state, attempts, max_attempts, run_after, created_at) VALUES ('up', 'k', '{}', 'running', 3, 3, 0, 0)",
    ).run();
    const queue = new JobQueue<Types>(db, fast);
    queue.start({ up: async () => {}, down: async () => {}, other: async () => {} });
    const [job] = queue.list();
    assert.equal(job?.state, 'failed');
    assert.match(job?.error ?? '', /interrupted/);
    void queue.stop();
    db.close();
  });

  it('stop waits for running jobs; a job ignoring its signal is left for recovery', async () => {
    const file = freshFile();
    const db = openDb(file);
    const queue = new JobQueue<Types>(db, fast);
    let sawAbort: unknown = null;
    queue.start({
      up: () => new Promise((r) => setTimeout(r, 80)),
      down: (_job, ctx) =>
        new Promise((_, reject) => ctx.signal.addEventListener('abort', () => {
          sawAbort = ctx.signal.reason;
          reject(ctx.signal.reason as Error);
        })),
      other: () => new Promise(() => {}),
    });
    const slow = queue.enqueue({ type: 'up', key: 'a', payload: { v: 1 } });
    const polite = queue.enqueue({ type: 'down', key: 'b', payload: { v: 1 } });
    const stuck = queue.enqueue({ type: 'other', key: 'c', payload: { v: 1 } });
    await waitFor(() => queue.depth().running === 3, 'three running');
    const t0 = Date.now();
    assert.deepEqual(await queue.stop({ timeoutMs: 150, abortGraceMs: 50 }), { unfinished: 1 });
    assert.ok(Date.now() - t0 < 1000);
    assert.equal(queue.get(slow.id)?.state, 'done');
    // Aborted by shutdown: back to pending with its attempt given back.
    assert.ok(sawAbort instanceof JobAbort && sawAbort.why === 'shutdown');
    assert.deepEqual([queue.get(polite.id)?.state, queue.get(polite.id)?.attempts], ['pending', 0]);
    assert.equal(queue.get(stuck.id)?.state, 'running');
    db.close();
  });

  it('fails a job whose type has no handler without retrying', async () => {
    const db = openDb(freshFile());
    const queue = new JobQueue<Record<string, unknown>>(db, fast);
    queue.start({});
    const { id } = queue.enqueue({ type: 'mystery', key: 'k', payload: {} });
    await waitFor(() => queue.get(id)?.state === 'failed', 'failed');
    assert.equal(queue.get(id)?.attempts, 1);
    assert.match(queue.get(id)?.error ?? '', /no handler/);
    await queue.stop();
    db.close();
  });

  it('lists, requeues and prunes jobs; records and lists deliveries', async () => {
    const db = openDb(freshFile());
    const { queue, runs, handlers } = harness(db);
    const deliveries = new DeliveryLog(db);
    const a = queue.enqueue({ type: 'up', key: 'o/r#1', payload: { v: 1 }, dedupeId: 'g-1' });
    queue.enqueue({ type: 'other', key: 'o/r#2', payload: { v: 2 } });
    assert.deepEqual(queue.list({ limit: 1 }).map((j) => j.key), ['o/r#2']);
    assert.deepEqual(queue.list({ key: 'o/r#1' }).map((j) => j.id), [a.id]);
    queue.start(handlers);
    await waitFor(() => queue.depth().pending + queue.depth().running === 0, 'drained');
    const again = queue.requeue(a.id);
    assert.ok(again && !again.duplicate && again.id !== a.id);
    await waitFor(() => runs.length === 3, 'requeued run');
    assert.equal(queue.prune(Date.now() + 1), 3);

    deliveries.recordDelivery({ deliveryId: 'g-1', event: 'pull_request', action: 'opened', repo: 'o/r', pr: 1, outcome: 'accepted', jobId: a.id });
    deliveries.recordDelivery({ deliveryId: 'g-1', event: 'pull_request', action: 'opened', repo: 'o/r', pr: 1, outcome: 'duplicate', jobId: a.id });
    deliveries.recordDelivery({ deliveryId: 'g-2', event: 'issues', outcome: 'ignored:event-unsupported' });
    const list = deliveries.listDeliveries({ limit: 10 });
    assert.deepEqual(list.map((d) => d.outcome), ['ignored:event-unsupported', 'duplicate', 'accepted']);
    assert.equal(list[2]?.jobId, a.id);
    assert.match(list[0]!.receivedAt, /^\d{4}-\d\d-\d\dT/);
    assert.equal(deliveries.findDelivery('g-1').length, 2);
    assert.equal(deliveries.prune(Date.now() + 1), 3);
    await queue.stop();
    db.close();
  });
});
