import { EventEmitter } from 'node:events';
import type { Logger } from '../log.js';
import type { Db } from '../store/db.js';
import { errorText, JobAbort, toJob, type EnqueueInput, type JobHandler, type EnqueueResult, type Job, type JobHandlers, type JobQueueOptions, type JobRow, type JobState } from './job.js';

export { JobAbort, type EnqueueInput, type EnqueueResult, type Job, type JobContext, type JobHandler, type JobHandlers, type JobQueueOptions, type JobState } from './job.js';


interface Active {
  job: Job;
  controller: AbortController;
  done: Promise<void>;
  supersededBy: number | null;
  timeout: NodeJS.Timeout;
}


/**
 * A durable job queue in the store's SQLite database (table `jobs`, migration 3).
 *
 * Guarantees:
 * - **Durable**: a job is a row before `enqueue` returns; pending jobs survive a restart, and jobs
 *   a crash left `running` go back to `pending` at `start` (their attempt still counts, so a job
 *   that kills the daemon every time ends up `failed`).
 * - **Deduplicated**: a second enqueue with the same `dedupeId` (GitHub's `X-GitHub-Delivery`) is
 *   not inserted and is reported as `duplicate`.
 * - **Serialized per key**: jobs sharing a `key` (e.g. `owner/repo#12`) run one at a time in
 *   enqueue order; different keys run concurrently up to `concurrency`.
 * - **Coalesced**: a new job supersedes the still-pending jobs of its key whose type is in its
 *   `replaces` list (default: its own type), so three quick pushes during a build cause one more
 *   run, with the last payload. A teardown can list the build type to cancel queued builds, and
 *   `interrupt` also aborts a running one through its `signal`.
 * - **Bounded retries**: a failed attempt is retried with exponential backoff up to `maxAttempts`;
 *   the final failure is recorded with its error.
 *
 * Lifecycle: construct (enqueue works at once; nothing runs) → `start(handlers)` (recovers, then
 * runs) → `stop()` (waits for running jobs, bounded; aborts stragglers; never writes after it
 * resolves, so the database may be closed next). Handlers must be idempotent: after a crash a job
 * runs again from the start.
 */
export class JobQueue<M extends Record<string, unknown> = Record<string, unknown>> extends EventEmitter<{ settled: [job: Job] }> {
  private readonly log: Logger;
  private readonly concurrency: number;
  private readonly maxAttempts: number;
  private readonly backoff: { baseMs: number; maxMs: number };
  private readonly jobTimeoutMs: number;
  private handlers: Record<string, JobHandler<unknown>> | null = null;
  private readonly active = new Map<number, Active>();
  private timer: NodeJS.Timeout | null = null;
  private pumpScheduled = false;
  private stopping = false;

  constructor(
    private readonly db: Db,
    opts: JobQueueOptions,
  ) {
    super();
    this.log = opts.log.child({ component: 'jobs' });
    this.concurrency = Math.max(1, opts.concurrency ?? 2);
    this.maxAttempts = Math.max(1, opts.maxAttempts ?? 3);
    this.backoff = opts.backoff ?? { baseMs: 5_000, maxMs: 300_000 };
    this.jobTimeoutMs = opts.jobTimeoutMs ?? 30 * 60_000;
  }

  /** Records a job (one transaction: dedupe check, insert, coalescing) and wakes the worker. */
  enqueue<T extends keyof M & string>(input: EnqueueInput<T, M[T]>): EnqueueResult {
    const now = Date.now();
    const replaces = [...(input.replaces ?? [input.type])];
    const result = this.db
      .transaction((): EnqueueResult => {
        if (input.dedupeId !== undefined) {
          const existing = this.db.prepare<[string], { id: number }>('SELECT id FROM jobs WHERE dedupe_id = ?').get(input.dedupeId);
          if (existing) return { id: existing.id, duplicate: true };
        }
        const id = Number(
          this.db
            .prepare(
              `INSERT INTO jobs (type, key, payload, replaces, state, attempts, max_attempts, run_after, dedupe_id, created_at)
               VALUES (?, ?, ?, ?, 'pending', 0, ?, ?, ?, ?)`,
            )
            .run(input.type, input.key, JSON.stringify(input.payload), JSON.stringify(replaces), input.maxAttempts ?? this.maxAttempts, now + (input.delayMs ?? 0), input.dedupeId ?? null, now)
            .lastInsertRowid,
        );
        const superseded = this.supersedePending(input.key, replaces, id, now);
        return { id, duplicate: false, superseded };
      })
      .immediate();
    if (result.duplicate) {
      this.log.info({ jobId: result.id, dedupeId: input.dedupeId }, 'duplicate job ignored');
      return result;
    }
    this.log.info({ jobId: result.id, type: input.type, key: input.key, superseded: result.superseded }, 'job enqueued');
    if (input.interrupt) {
      for (const a of this.active.values()) {
        if (a.job.key === input.key && replaces.includes(a.job.type) && !a.controller.signal.aborted) {
          a.supersededBy = result.id;
          a.controller.abort(new JobAbort('superseded'));
        }
      }
    }
    this.schedulePump();
    return result;
  }

  /** Enqueues a fresh copy of a job (same type, key, payload), e.g. to redeliver a webhook. */
  requeue(id: number): EnqueueResult | null {
    const job = this.get(id);
    if (!job) return null;
    return this.enqueue({ type: job.type as keyof M & string, key: job.key, payload: job.payload as M[keyof M & string] });
  }

  /** Recovers jobs a crash left running, then starts working. Calling it twice is an error. */
  start(handlers: JobHandlers<M>): void {
    if (this.handlers) throw new Error('job queue already started');
    this.handlers = handlers as Record<string, JobHandler<unknown>>;
    this.stopping = false;
    this.recover();
    this.pump();
  }

  /**
   * Stops taking jobs and waits up to `timeoutMs` for running ones; then aborts their signals and
   * waits `abortGraceMs` more. Jobs still running after that stay `running` in the database and are
   * recovered at the next start. Resolves with how many were left unfinished.
   */
  async stop(opts: { timeoutMs?: number; abortGraceMs?: number } = {}): Promise<{ unfinished: number }> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const settled = (ms: number): Promise<void> =>
      waitAll([...this.active.values()].map((a) => a.done), ms);
    await settled(opts.timeoutMs ?? 10_000);
    if (this.active.size > 0) {
      this.log.warn({ running: [...this.active.keys()] }, 'jobs still running at stop; aborting them');
      for (const a of this.active.values()) a.controller.abort(new JobAbort('shutdown'));
      await settled(opts.abortGraceMs ?? 1_000);
    }
    const unfinished = this.active.size;
    // From here on, late settlements must not touch the database (the caller may close it).
    for (const a of this.active.values()) clearTimeout(a.timeout);
    this.active.clear();
    this.handlers = null;
    return { unfinished };
  }

  /** Queue depth for metrics. */
  depth(): { pending: number; running: number } {
    const rows = this.db
      .prepare<[], { state: JobState; n: number }>("SELECT state, COUNT(*) AS n FROM jobs WHERE state IN ('pending', 'running') GROUP BY state")
      .all();
    return { pending: rows.find((r) => r.state === 'pending')?.n ?? 0, running: rows.find((r) => r.state === 'running')?.n ?? 0 };
  }

  get(id: number): Job | null {
    const row = this.db.prepare<[number], JobRow>('SELECT * FROM jobs WHERE id = ?').get(id);
    return row ? toJob(row) : null;
  }

  /** Most recent jobs first, optionally of one key and/or state. */
  list(opts: { limit?: number; key?: string; state?: JobState } = {}): Job[] {
    const limit = Math.min(Math.max(1, opts.limit ?? 50), 1000);
    return this.db
      .prepare<[{ key: string | null; state: string | null; limit: number }], JobRow>(
        'SELECT * FROM jobs WHERE (@key IS NULL OR key = @key) AND (@state IS NULL OR state = @state) ORDER BY id DESC LIMIT @limit',
      )
      .all({ key: opts.key ?? null, state: opts.state ?? null, limit })
      .map(toJob);
  }

  /** Deletes finished jobs older than `beforeMs` (epoch ms). Their dedupe ids are forgotten with them. */
  prune(beforeMs: number): number {
    return this.db.prepare("DELETE FROM jobs WHERE state IN ('done', 'failed', 'superseded') AND finished_at < ?").run(beforeMs).changes;
  }

  private supersedePending(key: string, types: readonly string[], byId: number, now: number): number[] {
    if (types.length === 0) return [];
    return this.db
      .prepare<[number, number, string, number, string], { id: number }>(
        `UPDATE jobs SET state = 'superseded', superseded_by = ?, finished_at = ?
         WHERE key = ? AND state = 'pending' AND id < ? AND type IN (SELECT value FROM json_each(?))
         RETURNING id`,
      )
      .all(byId, now, key, byId, JSON.stringify(types))
      .map((r) => r.id)
      .sort((a, b) => a - b);
  }

  /** Jobs left `running` by a crash go back to pending (or fail when out of attempts), then re-coalesce. */
  private recover(): void {
    const now = Date.now();
    this.db.transaction(() => {
      const stale = this.db.prepare<[], JobRow>("SELECT * FROM jobs WHERE state = 'running' ORDER BY id").all();
      for (const row of stale) {
        if (row.attempts >= row.max_attempts) {
          this.db
            .prepare("UPDATE jobs SET state = 'failed', error = ?, finished_at = ? WHERE id = ?")
            .run(`interrupted by a daemon stop on each of ${row.attempts} attempts`, now, row.id);
          this.log.warn({ jobId: row.id, type: row.type, key: row.key }, 'interrupted job out of attempts; failed');
          continue;
        }
        this.db.prepare("UPDATE jobs SET state = 'pending', run_after = ?, error = ? WHERE id = ?").run(now, 'interrupted by a daemon stop', row.id);
        // A newer pending job of the key that replaces this type makes the recovered one obsolete.
        const newer = this.db
          .prepare<[string, number], { id: number; replaces: string }>("SELECT id, replaces FROM jobs WHERE key = ? AND state = 'pending' AND id > ? ORDER BY id DESC")
          .all(row.key, row.id)
          .find((n) => (JSON.parse(n.replaces) as string[]).includes(row.type));
        if (newer) {
          this.db.prepare("UPDATE jobs SET state = 'superseded', superseded_by = ?, finished_at = ? WHERE id = ?").run(newer.id, now, row.id);
        }
        this.log.info({ jobId: row.id, type: row.type, key: row.key, supersededBy: newer?.id }, 'recovered job interrupted by a restart');
      }
    })();
  }

  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    // Deferred so an enqueue (e.g. inside a webhook request) returns before any handler starts.
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    if (!this.handlers || this.stopping || !this.db.open) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    while (this.active.size < this.concurrency) {
      const job = this.claim();
      if (!job) break;
      this.launch(job);
    }
    // Full: the next settlement pumps again.
    if (this.active.size >= this.concurrency) return;
    // The earliest job that could run once due (none of its key running: that one's settlement
    // pumps). Not only future ones: a retry whose short backoff ran out between claim() and here
    // is due already, and without a timer it would wait for an unrelated enqueue.
    const next = this.db
      .prepare<[], { t: number | null }>(
        "SELECT MIN(j.run_after) AS t FROM jobs j WHERE j.state = 'pending' AND NOT EXISTS (SELECT 1 FROM jobs o WHERE o.key = j.key AND o.state = 'running')",
      )
      .get()?.t;
    if (next != null) this.timer = setTimeout(() => this.pump(), Math.min(Math.max(next - Date.now(), 5), 60_000));
  }

  /** The oldest due job that heads its key's line (nothing of the key running or pending before it). */
  private claim(): Job | null {
    const now = Date.now();
    return this.db
      .transaction((): Job | null => {
        const row = this.db
          .prepare<[number], JobRow>(
            `SELECT * FROM jobs j WHERE j.state = 'pending' AND j.run_after <= ?
               AND NOT EXISTS (SELECT 1 FROM jobs o WHERE o.key = j.key AND (o.state = 'running' OR (o.state = 'pending' AND o.id < j.id)))
             ORDER BY j.id LIMIT 1`,
          )
          .get(now);
        if (!row) return null;
        this.db.prepare("UPDATE jobs SET state = 'running', attempts = attempts + 1, started_at = ? WHERE id = ?").run(now, row.id);
        return toJob({ ...row, state: 'running', attempts: row.attempts + 1, started_at: now });
      })
      .immediate();
  }

  private launch(job: Job): void {
    const controller = new AbortController();
    const log = this.log.child({ jobId: job.id, type: job.type, key: job.key, attempt: job.attempts });
    const handler = this.handlers?.[job.type];
    // Unref'd: a job's deadline alone must not keep the process alive.
    const timeout = setTimeout(() => controller.abort(new JobAbort('timeout')), this.jobTimeoutMs).unref();
    const entry: Active = { job, controller, supersededBy: null, done: Promise.resolve(), timeout };
    // Registered before the body runs: a body that settles without awaiting (no handler) must find itself.
    this.active.set(job.id, entry);
    entry.done = (async () => {
      let error: unknown = null;
      log.info('job started');
      try {
        // Always awaited, so completion never runs synchronously inside pump().
        await (handler ? handler(job, { log, signal: controller.signal }) : Promise.reject(new Error(`no handler for job type "${job.type}"`)));
      } catch (err) {
        error = err ?? new Error('job failed');
      } finally {
        clearTimeout(timeout);
      }
      // stop() gave up on this job: it stays `running` in the database for recovery.
      if (this.active.get(job.id) !== entry || !this.db.open) return;
      this.active.delete(job.id);
      this.settle(entry, error, !handler, log);
      this.pump();
    })();
  }

  private settle(entry: Active, error: unknown, permanent: boolean, log: Logger): void {
    const { job } = entry;
    const now = Date.now();
    const reason = entry.controller.signal.aborted ? (entry.controller.signal.reason as unknown) : null;
    const why = reason instanceof JobAbort ? reason.why : null;
    if (error === null) {
      this.db.prepare("UPDATE jobs SET state = 'done', error = NULL, finished_at = ? WHERE id = ?").run(now, job.id);
      log.info({ ms: now - Date.parse(job.startedAt ?? '') }, 'job done');
    } else if (why === 'superseded') {
      this.db.prepare("UPDATE jobs SET state = 'superseded', superseded_by = ?, finished_at = ? WHERE id = ?").run(entry.supersededBy, now, job.id);
      log.info({ supersededBy: entry.supersededBy }, 'job interrupted by a newer job');
    } else if (why === 'shutdown') {
      // Not the job's fault: give the attempt back and run it again at the next start.
      this.db.prepare("UPDATE jobs SET state = 'pending', attempts = attempts - 1, run_after = ?, error = ? WHERE id = ?").run(now, 'interrupted by shutdown', job.id);
      log.info('job interrupted by shutdown; will run again');
    } else {
      const message = errorText(why === 'timeout' ? new Error(`timed out after ${this.jobTimeoutMs} ms`) : error);
      if (!permanent && job.attempts < job.maxAttempts) {
        const delay = this.retryDelay(job.attempts);
        this.db.prepare("UPDATE jobs SET state = 'pending', run_after = ?, error = ? WHERE id = ?").run(now + delay, message, job.id);
        log.warn({ err: error, retryInMs: delay }, 'job attempt failed; will retry');
      } else {
        this.db.prepare("UPDATE jobs SET state = 'failed', error = ?, finished_at = ? WHERE id = ?").run(message, now, job.id);
        log.error({ err: error }, 'job failed');
      }
    }
    const fresh = this.get(job.id);
    if (fresh) this.emit('settled', fresh);
  }

  private retryDelay(attempt: number): number {
    const exp = Math.min(this.backoff.maxMs, this.backoff.baseMs * 2 ** Math.max(0, attempt - 1));
    // Half fixed, half random: spreads retries of jobs that failed together (e.g. GitHub down).
    return Math.round(exp / 2 + (Math.random() * exp) / 2);
  }
}

/** Resolves when every promise settled or after `ms`, whichever is first. */
function waitAll(promises: Promise<void>[], ms: number): Promise<void> {
  if (promises.length === 0) return Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    Promise.allSettled(promises).then(() => undefined),
    new Promise<void>((resolve) => (timer = setTimeout(resolve, ms))),
  ]).finally(() => clearTimeout(timer));
}
