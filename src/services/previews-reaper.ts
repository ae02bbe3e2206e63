/**
 * The preview reaper: one pass every BERTH_PREVIEW_REAP_INTERVAL seconds (and on demand) that
 * destroys previews past their ttl and removes what no preview record owns — labelled workloads and
 * networks at once; `preview_<id>` databases on the shared Postgres and preview directories once
 * they have been seen ownerless for ORPHAN_GRACE_MS. Ownership is by preview id: a record owns
 * everything named after its id.
 */
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { BerthConfig } from '../config/schema.js';
import { ID_RE } from '../domain/ids.js';
import type { PostgresInfra } from '../infra/postgres.js';
import type { Logger } from '../log.js';
import type { PreviewDatabases } from '../previews/preview-databases.js';
import { LABEL_DATABASE } from '../previews/preview-postgres.js';
import { LABEL_ID, LABEL_KIND, type Runtime } from '../runtime/runtime.js';
import type { PreviewsRepo } from '../store/previews-repo.js';
import { networkOps } from '../runtime/networks.js';

/**
 * How long a preview database or directory must have been seen without a record before the reaper
 * deletes it (a second safety besides the order of its reads; see `reap`).
 */
export const ORPHAN_GRACE_MS = 10 * 60_000;

/** What one reaper pass did. */
export interface ReapReport {
  /** Previews past their ttl, whose teardown was queued. */
  expired: string[];
  /** Labelled preview workloads no record knows, removed. */
  orphans: string[];
  /** Preview databases (and roles) on the shared Postgres no record owns, dropped. */
  databases: string[];
  /** Preview directories (checkouts, logs, a container database's data) no record owns, deleted. */
  directories: string[];
  /** Labelled preview networks no record knows, removed (after the orphan workloads on them). */
  networks: string[];
}

/** Directory of one preview (checkouts, build logs, a container database's data). */
export const previewDir = (dataDir: string, id: string): string => path.join(dataDir, 'previews', id);

/** The `database: container` server of a preview (one per preview, not per generation). */
export function isDatabaseWorkload(w: { labels: Record<string, string> }): boolean {
  return w.labels[LABEL_DATABASE] !== undefined;
}

export interface PreviewReaperDeps {
  config: BerthConfig;
  repo: PreviewsRepo;
  runtime: Runtime;
  log: Logger;
  postgres: PostgresInfra | null;
  databases?: PreviewDatabases | null | undefined;
}

/** Keeps, between passes, when each orphan candidate was first seen. */
export class PreviewReaper {
  /** Orphan candidates (`db:<name>`, `dir:<id>`) → when a pass first saw them. */
  private readonly orphanSince = new Map<string, number>();

  constructor(
    private readonly deps: PreviewReaperDeps,
    /** `requestDown`: queues the teardown of an expired preview (the preview service's job queue). */
    private readonly hooks: { requestDown(id: string): unknown },
  ) {}

  /**
   * Destroys previews older than their ttl (counted from the last update) and removes what no
   * preview record owns: labelled workloads (at once), and — once they have been seen ownerless for
   * ORPHAN_GRACE_MS — Berth's `preview_<id>` databases on the shared Postgres and preview
   * directories. Ownership is by preview id: a record owns everything named after its id.
   *
   * Why this cannot take a preview being built right now: its record is written before any of its
   * workloads, databases or files exist, and deleted only after they are gone. The reaper lists what
   * exists FIRST and reads the records AFTER, so anything it lists was made after its record, which
   * the later read sees. (Reading the records first would lose that race: a preview created between
   * the two reads would look like an orphan.) The grace period is the second line of defence, for
   * anything made by other means.
   */
  async reap(now = Date.now()): Promise<ReapReport> {
    const expired: string[] = [];
    for (const p of this.deps.repo.list()) {
      if (p.ttlMs !== null && now - Date.parse(p.updatedAt) > p.ttlMs && p.state !== 'building') {
        this.hooks.requestDown(p.id);
        expired.push(p.id);
      }
    }
    const workloads = await this.deps.runtime.list({ [LABEL_KIND]: 'preview' });
    const net = networkOps(this.deps.runtime);
    const networks = (await net?.listNetworks({ [LABEL_KIND]: 'preview' })) ?? [];
    const databases = await this.listSharedDatabases();
    const dirs = await this.listPreviewDirs();
    const known = new Set(this.deps.repo.list().map((p) => p.id));

    const orphans: string[] = [];
    const ownerless = workloads.filter((w) => !known.has(w.labels[LABEL_ID] ?? ''));
    // Services before database servers; those stop gracefully (see PreviewPostgres.remove).
    for (const w of [...ownerless.filter((w) => !isDatabaseWorkload(w)), ...ownerless.filter(isDatabaseWorkload)]) {
      if (isDatabaseWorkload(w)) await this.deps.runtime.stop(w.ref, { timeoutSeconds: 10 }).catch(() => {});
      await this.deps.runtime.remove(w.ref).catch((err: unknown) => this.deps.log.warn({ err, ref: w.ref }, 'could not remove an orphan preview workload'));
      orphans.push(w.name);
    }
    // After the orphan workloads, which were attached to them. One still in use is kept for a later pass.
    const orphanNetworks: string[] = [];
    for (const n of networks) {
      if (known.has(n.labels[LABEL_ID] ?? '')) continue;
      try {
        await net!.removeNetwork(n.name); // listed, so the runtime has networks
        orphanNetworks.push(n.name);
      } catch (err) {
        this.deps.log.warn({ err, network: n.name }, 'could not remove an orphan preview network');
      }
    }

    const candidates = new Set<string>();
    const dropped: string[] = [];
    for (const d of databases) {
      if (known.has(d.previewId) || !this.deps.postgres) continue;
      const key = `db:${d.name}`;
      candidates.add(key);
      if (!this.graceOver(key, now)) continue;
      try {
        await this.deps.postgres.dropDatabase(d.name);
        dropped.push(d.name);
        this.orphanSince.delete(key);
      } catch (err) {
        this.deps.log.warn({ err, database: d.name }, 'could not drop an orphan preview database');
      }
    }
    const directories: string[] = [];
    for (const id of dirs) {
      if (known.has(id)) continue;
      const key = `dir:${id}`;
      candidates.add(key);
      if (!this.graceOver(key, now)) continue;
      await rm(previewDir(this.deps.config.dataDir, id), { recursive: true, force: true });
      directories.push(id);
      this.orphanSince.delete(key);
    }
    // Candidates that found an owner again (or vanished) start over.
    for (const key of [...this.orphanSince.keys()]) if (!candidates.has(key)) this.orphanSince.delete(key);

    const report = { expired, orphans, databases: dropped, directories, networks: orphanNetworks };
    if (expired.length || orphans.length || dropped.length || directories.length || orphanNetworks.length) this.deps.log.info(report, 'preview reaper pass');
    return report;
  }

  /** Whether orphan candidate `key` has been seen for ORPHAN_GRACE_MS (first sighting starts the clock). */
  private graceOver(key: string, now: number): boolean {
    const since = this.orphanSince.get(key);
    if (since === undefined) {
      this.orphanSince.set(key, now);
      return false;
    }
    return now - since >= ORPHAN_GRACE_MS;
  }

  /** Preview databases on the shared Postgres; [] without one, or when it cannot be reached (logged). */
  private async listSharedDatabases(): Promise<{ name: string; previewId: string }[]> {
    if (!this.deps.databases) return [];
    try {
      return await this.deps.databases.list();
    } catch (err) {
      this.deps.log.warn({ err }, 'preview reaper: cannot list preview databases');
      return [];
    }
  }

  /** Ids of the preview directories under `<dataDir>/previews`. */
  private async listPreviewDirs(): Promise<string[]> {
    try {
      return (await readdir(path.join(this.deps.config.dataDir, 'previews'), { withFileTypes: true })).filter((d) => d.isDirectory() && ID_RE.test(d.name)).map((d) => d.name);
    } catch {
      return [];
    }
  }
}
