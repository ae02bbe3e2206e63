/**
 * Jobs of the durable queue (queue.ts): their public shape, the stored row and the conversion
 * between them. Pure: no I/O.
 */
import { isBerthError } from '../errors.js';
import type { Logger } from '../log.js';

export type JobState = 'pending' | 'running' | 'done' | 'failed' | 'superseded';

export interface Job<P = unknown> {
  id: number;
  type: string;
  key: string;
  payload: P;
  state: JobState;
  /** Attempts started so far (including a running one). */
  attempts: number;
  maxAttempts: number;
  /** Earliest start (ISO), later than createdAt while a retry backs off. */
  runAfter: string;
  dedupeId: string | null;
  /** Error of the last failed attempt. */
  error: string | null;
  supersededBy: number | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

export interface JobContext {
  log: Logger;
  /** Aborted on shutdown (after the stop grace), on timeout, or when an `interrupt` job supersedes this one. */
  signal: AbortSignal;
}

export type JobHandler<P> = (job: Job<P>, ctx: JobContext) => Promise<void>;
/** One handler per job type of the queue's type map. */
export type JobHandlers<M> = { [T in keyof M & string]: JobHandler<M[T]> };

export interface EnqueueInput<T extends string, P> {
  type: T;
  key: string;
  payload: P;
  /** Idempotency id; a second enqueue with the same id is a duplicate. */
  dedupeId?: string | undefined;
  /** Types of this key's pending jobs that this job supersedes. Default `[type]`; `[]` disables coalescing. */
  replaces?: readonly string[];
  /** Also abort a running job of this key whose type is in `replaces`. */
  interrupt?: boolean;
  maxAttempts?: number;
  delayMs?: number;
}

export type EnqueueResult = { id: number; duplicate: false; superseded: number[] } | { id: number; duplicate: true };

export interface JobQueueOptions {
  log: Logger;
  /** Jobs of different keys running at once. Default 2. */
  concurrency?: number;
  /** Default attempts per job. Default 3. */
  maxAttempts?: number;
  /** Retry delay: base·2^(attempt-1), capped, with jitter. Default 5 s … 5 min. */
  backoff?: { baseMs: number; maxMs: number };
  /** A running job's signal aborts after this long; the attempt then fails. Default 30 min. */
  jobTimeoutMs?: number;
}

/** Why a job's signal was aborted (its `signal.reason`). */
export class JobAbort extends Error {
  constructor(readonly why: 'shutdown' | 'superseded' | 'timeout') {
    super(`job aborted: ${why}`);
    this.name = 'JobAbort';
  }
}

/** A row of the `jobs` table. */
export interface JobRow {
  id: number;
  type: string;
  key: string;
  payload: string;
  replaces: string;
  state: JobState;
  attempts: number;
  max_attempts: number;
  run_after: number;
  dedupe_id: string | null;
  error: string | null;
  superseded_by: number | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
}


const MAX_ERROR_CHARS = 4000;
const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
/** The public shape of a stored row. */
export function toJob(row: JobRow): Job {
  return {
    id: row.id,
    type: row.type,
    key: row.key,
    payload: JSON.parse(row.payload) as unknown,
    state: row.state,
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    runAfter: iso(row.run_after)!,
    dedupeId: row.dedupe_id,
    error: row.error,
    supersededBy: row.superseded_by,
    createdAt: iso(row.created_at)!,
    startedAt: iso(row.started_at),
    finishedAt: iso(row.finished_at),
  };
}

/** A failure as recorded on the job: code and message, capped. */
export function errorText(err: unknown): string {
  const text = isBerthError(err) ? `${err.code}: ${err.message}` : err instanceof Error ? err.message : String(err);
  return text.length > MAX_ERROR_CHARS ? `${text.slice(0, MAX_ERROR_CHARS)}…` : text;
}
