/**
 * Table access for installed catalog apps (migration 2): the app rows, their host ports (in the
 * shared `port_allocations` table, workload_kind 'app'), generated secrets, stored Postgres
 * passwords and Redis database indexes. Synchronous (better-sqlite3).
 */
import { BerthError } from '../errors.js';
import { pickFreePorts } from '../domain/ports.js';
import type { HostingInfo, PortMapping, RestartPolicy } from '../domain/workspace.js';
import type { Db } from './db.js';

/**
 * Lifecycle of an installed app. A `failed` install keeps no workload and no ports; an app that
 * crashed after it ran keeps both (its logs stay readable, its restart policy may start it again).
 */
export type AppState = 'installing' | 'running' | 'failed';

/** A named volume an app mounts: the engine's volume name and where it is mounted. */
export interface AppVolume {
  name: string;
  target: string;
}

/** One installed (or failed) app. */
export interface InstalledApp {
  name: string;
  state: AppState;
  /** Why the app failed (the last health-check output), else null. */
  reason: string | null;
  /** Env overrides given at install time. */
  settings: Record<string, string>;
  hosting: HostingInfo;
  /** The manifest's `embed` at install time: how the edge serves the app. */
  embed: { subpath: boolean; stripPrefix: boolean };
  runtimeRef: string | null;
  upstreamHost: string;
  /** Host ports by manifest port name; `http` is the one the edge serves. */
  ports: (PortMapping & { name: string })[];
  /** Volumes mounted at install time (what `--purge` removes). */
  volumes: AppVolume[];
  restartPolicy: RestartPolicy;
  /** Restarts by the policy since the install. */
  restartCount: number;
  /** When the reconciler restarts a crashed app (epoch ms), else null. */
  nextRestartAt: number | null;
  /** Exit code of the crashed workload, else null. */
  exitCode: number | null;
  createdAt: string;
  updatedAt: string;
}

interface AppRow {
  name: string;
  state: AppState;
  reason: string | null;
  settings: string;
  hosting: string;
  runtime_ref: string | null;
  upstream_host: string;
  port_names: string;
  embed: string;
  volumes: string;
  restart_policy: RestartPolicy;
  restart_count: number;
  next_restart_at: number | null;
  exit_code: number | null;
  created_at: string;
  updated_at: string;
}

interface PortRow {
  workload_id: string;
  host_port: number;
  container_port: number;
}

export type AppPatch = Partial<
  Pick<InstalledApp, 'state' | 'reason' | 'runtimeRef' | 'upstreamHost' | 'volumes' | 'restartCount' | 'nextRestartAt' | 'exitCode'>
>;

/** Installed apps and what they keep across reinstalls. */
export class AppsRepo {
  constructor(private readonly db: Db) {}

  /**
   * Inserts (or resets a failed row of) app `name` in state `installing` and allocates one host
   * port per named port in ONE transaction. `containerPorts` lists `[name, containerPort]`;
   * `containerPortFor` maps it to what the workload listens on (the host port itself when the
   * runtime has no port mapping). Port names are kept in port order (`http` first).
   */
  insertWithPorts(
    app: { name: string; settings: Record<string, string>; hosting: HostingInfo; embed: InstalledApp['embed']; restartPolicy?: RestartPolicy },
    containerPorts: [string, number][],
    range: { start: number; end: number },
    containerPortFor: (containerPort: number, hostPort: number) => number,
  ): InstalledApp {
    const now = new Date().toISOString();
    this.db
      .transaction(() => {
        const existing = this.row(app.name);
        if (existing && existing.state !== 'failed') {
          throw new BerthError('E_NAME_TAKEN', `app "${app.name}" is already installed`, { hint: 'uninstall it first to reinstall' });
        }
        this.db.prepare('DELETE FROM port_allocations WHERE workload_id = ? AND workload_kind = ?').run(app.name, 'app');
        const used = new Set((this.db.prepare('SELECT host_port FROM port_allocations').all() as { host_port: number }[]).map((r) => r.host_port));
        const hostPorts = pickFreePorts(used, range.start, range.end, containerPorts.length);
        if (!hostPorts) {
          throw new BerthError('E_PORTS_EXHAUSTED', `no ${containerPorts.length} free host ports left in ${range.start}-${range.end}`, {
            hint: 'remove unused workspaces or apps, or widen BERTH_PORT_RANGE_END',
          });
        }
        this.db
          .prepare(
            `INSERT INTO apps (name, state, reason, settings, hosting, embed, runtime_ref, upstream_host, restart_policy, created_at, updated_at)
             VALUES (?, 'installing', NULL, ?, ?, ?, NULL, '127.0.0.1', ?, ?, ?)
             ON CONFLICT (name) DO UPDATE SET state = 'installing', reason = NULL, settings = excluded.settings,
               hosting = excluded.hosting, embed = excluded.embed, runtime_ref = NULL, restart_policy = excluded.restart_policy,
               restart_count = 0, next_restart_at = NULL, exit_code = NULL, volumes = '[]', updated_at = excluded.updated_at`,
          )
          .run(app.name, JSON.stringify(app.settings), JSON.stringify(app.hosting), JSON.stringify(app.embed), app.restartPolicy ?? 'always', now, now);
        const insert = this.db.prepare(
          `INSERT INTO port_allocations (host_port, workload_kind, workload_id, container_port) VALUES (?, 'app', ?, ?)`,
        );
        containerPorts.forEach(([, cp], i) => insert.run(hostPorts[i]!, app.name, containerPortFor(cp, hostPorts[i]!)));
        const names = containerPorts.map(([n], i) => [n, hostPorts[i]!]);
        this.db.prepare('UPDATE apps SET port_names = ? WHERE name = ?').run(JSON.stringify(names), app.name);
      })
      .immediate();
    return this.get(app.name)!;
  }

  get(name: string): InstalledApp | undefined {
    const row = this.row(name);
    return row ? this.toApp(row) : undefined;
  }

  list(): InstalledApp[] {
    return (this.db.prepare('SELECT * FROM apps ORDER BY created_at, name').all() as AppRow[]).map((r) => this.toApp(r));
  }

  update(name: string, patch: AppPatch): InstalledApp {
    const cols: Record<keyof AppPatch, string> = {
      state: 'state',
      reason: 'reason',
      runtimeRef: 'runtime_ref',
      upstreamHost: 'upstream_host',
      volumes: 'volumes',
      restartCount: 'restart_count',
      nextRestartAt: 'next_restart_at',
      exitCode: 'exit_code',
    };
    const sets: string[] = [];
    const values: unknown[] = [];
    for (const [key, col] of Object.entries(cols) as [keyof AppPatch, string][]) {
      if (key in patch) {
        sets.push(`${col} = ?`);
        values.push(key === 'volumes' ? JSON.stringify(patch.volumes ?? []) : (patch[key] ?? null));
      }
    }
    sets.push('updated_at = ?');
    values.push(new Date().toISOString());
    this.db.prepare(`UPDATE apps SET ${sets.join(', ')} WHERE name = ?`).run(...values, name);
    const app = this.get(name);
    if (!app) throw new BerthError('E_NOT_FOUND', `app "${name}" is not installed`);
    return app;
  }

  /** Marks the app failed and releases its ports in one transaction (the row stays, with the reason). */
  markFailed(name: string, reason: string): InstalledApp {
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM port_allocations WHERE workload_id = ? AND workload_kind = ?').run(name, 'app');
      this.db
        .prepare(`UPDATE apps SET state = 'failed', reason = ?, runtime_ref = NULL, next_restart_at = NULL, updated_at = ? WHERE name = ?`)
        .run(reason, new Date().toISOString(), name);
    })();
    return this.get(name)!;
  }

  /** Deletes the row and its ports; with `purge` also its secrets, Postgres password and Redis index. */
  delete(name: string, purge: boolean): void {
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM port_allocations WHERE workload_id = ? AND workload_kind = ?').run(name, 'app');
      this.db.prepare('DELETE FROM apps WHERE name = ?').run(name);
      if (purge) {
        this.db.prepare('DELETE FROM app_secrets WHERE app = ?').run(name);
        this.db.prepare('DELETE FROM app_postgres WHERE app = ?').run(name);
        this.db.prepare('DELETE FROM app_redis WHERE app = ?').run(name);
      }
    })();
  }

  /** The stored secret `secret`, created with `generate()` the first time (stable across reinstalls). */
  secret(app: string, secret: string, generate: () => string): string {
    this.db.prepare('INSERT OR IGNORE INTO app_secrets (app, name, value) VALUES (?, ?, ?)').run(app, secret, generate());
    return (this.db.prepare('SELECT value FROM app_secrets WHERE app = ? AND name = ?').get(app, secret) as { value: string }).value;
  }

  postgresPassword(app: string): { database: string; password: string } | undefined {
    return this.db.prepare('SELECT database, password FROM app_postgres WHERE app = ?').get(app) as { database: string; password: string } | undefined;
  }

  savePostgres(app: string, database: string, password: string): void {
    this.db.prepare('INSERT OR REPLACE INTO app_postgres (app, database, password) VALUES (?, ?, ?)').run(app, database, password);
  }

  /** Every app → Redis index assignment (including uninstalled, unpurged apps). */
  redisAssignments(): Map<string, number> {
    return new Map((this.db.prepare('SELECT app, db FROM app_redis').all() as { app: string; db: number }[]).map((r) => [r.app, r.db]));
  }

  saveRedis(app: string, db: number): void {
    this.db.prepare('INSERT OR IGNORE INTO app_redis (app, db) VALUES (?, ?)').run(app, db);
  }

  private row(name: string): AppRow | undefined {
    return this.db.prepare('SELECT * FROM apps WHERE name = ?').get(name) as AppRow | undefined;
  }

  private toApp(row: AppRow): InstalledApp {
    const ports = this.db
      .prepare(`SELECT workload_id, host_port, container_port FROM port_allocations WHERE workload_kind = 'app' AND workload_id = ?`)
      .all(row.name) as PortRow[];
    const byHostPort = new Map(ports.map((p) => [p.host_port, p]));
    const named = (JSON.parse(row.port_names) as [string, number][]).filter(([, hp]) => byHostPort.has(hp));
    return {
      name: row.name,
      state: row.state,
      reason: row.reason,
      settings: JSON.parse(row.settings) as Record<string, string>,
      hosting: JSON.parse(row.hosting) as HostingInfo,
      embed: JSON.parse(row.embed) as InstalledApp['embed'],
      runtimeRef: row.runtime_ref,
      upstreamHost: row.upstream_host,
      ports: named.map(([name, hp]) => ({ name, containerPort: byHostPort.get(hp)!.container_port, hostPort: hp })),
      volumes: JSON.parse(row.volumes) as AppVolume[],
      restartPolicy: row.restart_policy,
      restartCount: row.restart_count,
      nextRestartAt: row.next_restart_at,
      exitCode: row.exit_code,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    };
  }
}
