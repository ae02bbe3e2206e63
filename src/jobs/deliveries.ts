import type { Db } from '../store/db.js';

/**
 * The webhook deliveries log (table `webhook_deliveries`, migration 3): one row per delivery the
 * endpoint answered, with what became of it. Serves `GET /api/webhooks/deliveries` and the
 * redeliver action (through `jobId`). A redelivered id gets a second row with outcome `duplicate`.
 */

/** `accepted`, `duplicate`, `ignored:<reason>` or `rejected:<reason>`. */
export type DeliveryOutcome = 'accepted' | 'duplicate' | `ignored:${string}` | `rejected:${string}`;

export interface DeliveryInput {
  /** X-GitHub-Delivery. */
  deliveryId: string;
  /** X-GitHub-Event. */
  event: string;
  action?: string | null;
  /** `owner/name`, when the payload named one. */
  repo?: string | null;
  pr?: number | null;
  outcome: DeliveryOutcome;
  /** The job it created (or, for a duplicate, the job of the first delivery). */
  jobId?: number | null;
  /** Defaults to now. */
  receivedAt?: Date;
}

export interface Delivery {
  id: number;
  deliveryId: string;
  event: string;
  action: string | null;
  repo: string | null;
  pr: number | null;
  receivedAt: string;
  outcome: DeliveryOutcome;
  jobId: number | null;
}

interface DeliveryRow {
  id: number;
  delivery_id: string;
  event: string;
  action: string | null;
  repo: string | null;
  pr: number | null;
  received_at: number;
  outcome: string;
  job_id: number | null;
}

/** Text fields come from (signed) request headers and payloads: keep rows small whatever arrives. */
const clip = (s: string | null | undefined, max = 200): string | null => (s == null ? null : s.slice(0, max));

export class DeliveryLog {
  constructor(private readonly db: Db) {}

  recordDelivery(d: DeliveryInput): Delivery {
    const row = this.db
      .prepare<[string, string, string | null, string | null, number | null, number, string, number | null], DeliveryRow>(
        `INSERT INTO webhook_deliveries (delivery_id, event, action, repo, pr, received_at, outcome, job_id)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
      )
      .get(
        clip(d.deliveryId, 100)!,
        clip(d.event, 100)!,
        clip(d.action),
        clip(d.repo),
        d.pr ?? null,
        (d.receivedAt ?? new Date()).getTime(),
        clip(d.outcome)!,
        d.jobId ?? null,
      )!;
    return toDelivery(row);
  }

  /** Most recent first. */
  listDeliveries(opts: { limit?: number } = {}): Delivery[] {
    const limit = Math.min(Math.max(1, opts.limit ?? 50), 1000);
    return this.db
      .prepare<[number], DeliveryRow>('SELECT * FROM webhook_deliveries ORDER BY id DESC LIMIT ?')
      .all(limit)
      .map(toDelivery);
  }

  /** Every row recorded for one X-GitHub-Delivery id, oldest first. */
  findDelivery(deliveryId: string): Delivery[] {
    return this.db
      .prepare<[string], DeliveryRow>('SELECT * FROM webhook_deliveries WHERE delivery_id = ? ORDER BY id')
      .all(deliveryId)
      .map(toDelivery);
  }

  /** Deletes rows received before `beforeMs` (epoch ms). */
  prune(beforeMs: number): number {
    return this.db.prepare('DELETE FROM webhook_deliveries WHERE received_at < ?').run(beforeMs).changes;
  }
}

function toDelivery(r: DeliveryRow): Delivery {
  return {
    id: r.id,
    deliveryId: r.delivery_id,
    event: r.event,
    action: r.action,
    repo: r.repo,
    pr: r.pr,
    receivedAt: new Date(r.received_at).toISOString(),
    outcome: r.outcome as DeliveryOutcome,
    jobId: r.job_id,
  };
}
