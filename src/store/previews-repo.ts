import type { Db } from './db.js';

/**
 * Store of pull-request previews (table `previews`, migration 5) and their host ports (rows of
 * `port_allocations` with workload_kind 'preview', one workload id per generation so the old and
 * the new generation hold ports at the same time during a swap).
 */

export type PreviewState = 'building' | 'running' | 'failed' | 'destroying';

/** One running service of a preview generation. */
export interface PreviewServiceRecord {
  name: string;
  /** Runtime reference of the workload. */
  ref: string;
  /** Host port the edge dials (null for services without a port). */
  hostPort: number | null;
  containerPort: number | null;
  /** Address the edge dials for hostPort (what the runtime's inspect() reported). */
  upstreamHost: string;
}

export interface PreviewRecord {
  id: string;
  repo: string;
  pr: number;
  sha: string;
  ref: string | null;
  cloneUrl: string;
  private: boolean;
  state: PreviewState;
  reason: string | null;
  url: string | null;
  /** Generation that serves (0 = none yet). */
  generation: number;
  services: PreviewServiceRecord[];
  /** Path prefix → service, longest first. */
  routes: { path: string; service: string }[];
  databaseName: string | null;
  databasePassword: string | null;
  ttlMs: number | null;
  /** Absolute path of the last build's log. */
  buildLog: string | null;
  createdAt: string;
  updatedAt: string;
}

interface Row {
  id: string;
  repo: string;
  pr: number;
  sha: string;
  ref: string | null;
  clone_url: string;
  private: number;
  state: PreviewState;
  reason: string | null;
  url: string | null;
  generation: number;
  services: string;
  routes: string;
  database_name: string | null;
  database_password: string | null;
  ttl_ms: number | null;
  build_log: string | null;
  created_at: string;
  updated_at: string;
}

export type PreviewPatch = Partial<Omit<PreviewRecord, 'id' | 'repo' | 'pr' | 'createdAt' | 'updatedAt'>>;

const COLUMNS: Record<keyof PreviewPatch, string> = {
  sha: 'sha',
  ref: 'ref',
  cloneUrl: 'clone_url',
  private: 'private',
  state: 'state',
  reason: 'reason',
  url: 'url',
  generation: 'generation',
  services: 'services',
  routes: 'routes',
  databaseName: 'database_name',
  databasePassword: 'database_password',
  ttlMs: 'ttl_ms',
  buildLog: 'build_log',
};

/** Workload id of a generation in port_allocations. */
export const generationKey = (id: string, generation: number): string => `${id}.${generation}`;

export class PreviewsRepo {
  constructor(private readonly db: Db) {}

  get(id: string): PreviewRecord | undefined {
    const row = this.db.prepare<[string], Row>('SELECT * FROM previews WHERE id = ?').get(id);
    return row ? toRecord(row) : undefined;
  }

  /** By repository (case-insensitive) and PR number. */
  find(repo: string, pr: number): PreviewRecord | undefined {
    const row = this.db.prepare<[string, number], Row>('SELECT * FROM previews WHERE lower(repo) = lower(?) AND pr = ?').get(repo, pr);
    return row ? toRecord(row) : undefined;
  }

  list(): PreviewRecord[] {
    return this.db.prepare<[], Row>('SELECT * FROM previews ORDER BY created_at, id').all().map(toRecord);
  }

  insert(p: { id: string; repo: string; pr: number; sha: string; ref: string | null; cloneUrl: string; private: boolean }): PreviewRecord {
    const now = new Date().toISOString();
    this.db
      .prepare(
        `INSERT INTO previews (id, repo, pr, sha, ref, clone_url, private, state, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, 'building', ?, ?)`,
      )
      .run(p.id, p.repo, p.pr, p.sha, p.ref, p.cloneUrl, p.private ? 1 : 0, now, now);
    return this.get(p.id)!;
  }

  update(id: string, patch: PreviewPatch): PreviewRecord {
    const sets: string[] = [];
    const values: unknown[] = [];
    for (const [k, v] of Object.entries(patch) as [keyof PreviewPatch, unknown][]) {
      if (v === undefined) continue;
      sets.push(`${COLUMNS[k]} = ?`);
      values.push(k === 'services' || k === 'routes' ? JSON.stringify(v) : k === 'private' ? (v ? 1 : 0) : v);
    }
    sets.push('updated_at = ?');
    values.push(new Date().toISOString());
    this.db.prepare(`UPDATE previews SET ${sets.join(', ')} WHERE id = ?`).run(...values, id);
    return this.get(id)!;
  }

  /** Deletes the row and every port any of its generations held. */
  delete(id: string): void {
    this.db.transaction(() => {
      this.db.prepare("DELETE FROM port_allocations WHERE workload_kind = 'preview' AND (workload_id = ? OR workload_id LIKE ?)").run(id, `${id}.%`);
      this.db.prepare('DELETE FROM previews WHERE id = ?').run(id);
    })();
  }

  /** Allocates `count` free host ports in [start, end] for one generation, atomically. */
  allocatePorts(id: string, generation: number, count: number, range: { start: number; end: number }): number[] {
    if (count === 0) return [];
    return this.db
      .transaction((): number[] => {
        const used = new Set(this.db.prepare<[], { host_port: number }>('SELECT host_port FROM port_allocations').all().map((r) => r.host_port));
        const out: number[] = [];
        // Top of the range first: workspaces allocate from the bottom, so the two rarely meet.
        for (let p = range.end; p >= range.start && out.length < count; p--) if (!used.has(p)) out.push(p);
        if (out.length < count) return [];
        const ins = this.db.prepare(`INSERT INTO port_allocations (host_port, workload_kind, workload_id, container_port) VALUES (?, 'preview', ?, ?)`);
        for (const p of out) ins.run(p, generationKey(id, generation), p);
        return out;
      })
      .immediate();
  }

  releasePorts(id: string, generation: number): void {
    this.db.prepare("DELETE FROM port_allocations WHERE workload_kind = 'preview' AND workload_id = ?").run(generationKey(id, generation));
  }
}

function toRecord(r: Row): PreviewRecord {
  return {
    id: r.id,
    repo: r.repo,
    pr: r.pr,
    sha: r.sha,
    ref: r.ref,
    cloneUrl: r.clone_url,
    private: r.private === 1,
    state: r.state,
    reason: r.reason,
    url: r.url,
    generation: r.generation,
    services: JSON.parse(r.services) as PreviewServiceRecord[],
    routes: JSON.parse(r.routes) as { path: string; service: string }[],
    databaseName: r.database_name,
    databasePassword: r.database_password,
    ttlMs: r.ttl_ms,
    buildLog: r.build_log,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}
