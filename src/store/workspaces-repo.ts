import { BerthError } from '../errors.js';
import { pickFreePorts } from '../domain/ports.js';
import type { HostingInfo, PrefixMode, RestartPolicy, Visibility, Workspace, WorkspacePort, WorkspaceSource, WorkspaceState } from '../domain/workspace.js';
import type { Db } from './db.js';

interface WorkspaceRow {
  id: string;
  name: string;
  state: WorkspaceState;
  reason: string | null;
  image: string;
  command: string | null;
  env: string;
  hosting: string;
  runtime_ref: string | null;
  upstream_host: string;
  exit_code: number | null;
  owner_id: string | null;
  visibility: Visibility;
  restart_policy: RestartPolicy;
  restart_count: number;
  next_restart_at: number | null;
  deleting: number;
  data_volume: string | null;
  data_path: string | null;
  idle_stop_ms: number | null;
  last_active_at: string | null;
  last_active_reason: string | null;
  cpus: number | null;
  memory_mb: number | null;
  source: string | null;
  created_at: string;
  updated_at: string;
}

/** What a new workspace row needs; ports are allocated by the repo. */
export interface NewWorkspace {
  id: string;
  name: string;
  image: string;
  command: string[] | null;
  env: Record<string, string>;
  hosting: HostingInfo;
  ownerId: string | null;
  visibility: Visibility;
  restartPolicy?: RestartPolicy;
  dataVolume?: string | null;
  dataPath?: string | null;
  idleStopMs?: number | null;
  cpus?: number | null;
  memoryMb?: number | null;
  source?: WorkspaceSource | null;
}

/** Port row as stored. */
interface PortRow {
  host_port: number;
  container_port: number;
  prefix_mode: PrefixMode;
  label: string | null;
}

export interface PortPolicy {
  rangeStart: number;
  rangeEnd: number;
  count: number;
  /**
   * Container port for the i-th allocated host port. Containers map 8000+i; the process runtime
   * has no mapping, so there the container port is the host port itself.
   */
  containerPortFor(i: number, hostPort: number): number;
  /** Prefix mode and label of the i-th port (default: strip, no label). */
  portOptions?(i: number, containerPort: number): { prefix?: PrefixMode; label?: string | null };
}

export type WorkspacePatch = Partial<
  Pick<
    Workspace,
    | 'state' | 'reason' | 'runtimeRef' | 'upstreamHost' | 'exitCode' | 'visibility' | 'restartCount' | 'image'
    | 'dataVolume' | 'dataPath' | 'idleStopMs' | 'lastActiveAt' | 'lastActiveReason' | 'cpus' | 'memoryMb'
  > & {
    nextRestartAt: number | null;
    command: string[] | null;
    env: Record<string, string>;
    source: WorkspaceSource | null;
  }
>;

/** Columns whose values are stored as JSON text. */
const JSON_COLUMNS = new Set(['command', 'env', 'source']);

/** Table access for workspaces and their port allocations. Synchronous (better-sqlite3). */
export class WorkspacesRepo {
  private readonly byId;
  private readonly byName;
  private readonly all;
  private readonly portsOf;
  private readonly allPorts;
  private readonly usedPorts;

  constructor(private readonly db: Db) {
    this.byId = db.prepare<[string], WorkspaceRow>('SELECT * FROM workspaces WHERE id = ?');
    this.byName = db.prepare<[string], WorkspaceRow>('SELECT * FROM workspaces WHERE name = ?');
    this.all = db.prepare<[], WorkspaceRow>('SELECT * FROM workspaces ORDER BY created_at, name');
    this.portsOf = db.prepare<[string], PortRow>(
      'SELECT host_port, container_port, prefix_mode, label FROM port_allocations WHERE workload_id = ? ORDER BY host_port',
    );
    this.allPorts = db.prepare<[], PortRow & { workload_id: string }>(
      'SELECT workload_id, host_port, container_port, prefix_mode, label FROM port_allocations ORDER BY host_port',
    );
    this.usedPorts = db.prepare<[], { host_port: number }>('SELECT host_port FROM port_allocations');
  }

  /**
   * Inserts the workspace in state `creating` and allocates its ports in ONE transaction, so two
   * concurrent creates never share a port and a failure leaves neither row nor allocation.
   */
  insertWithPorts(ws: NewWorkspace, policy: PortPolicy): Workspace {
    const now = new Date().toISOString();
    const tx = this.db.transaction(() => {
      if (this.byName.get(ws.name)) {
        throw new BerthError('E_NAME_TAKEN', `a workspace named "${ws.name}" already exists`, {
          hint: 'choose another name, or remove the existing workspace first',
        });
      }
      const used = new Set(this.usedPorts.all().map((r) => r.host_port));
      const hostPorts = pickFreePorts(used, policy.rangeStart, policy.rangeEnd, policy.count);
      if (!hostPorts) {
        throw new BerthError(
          'E_PORTS_EXHAUSTED',
          `no ${policy.count} free host ports left in ${policy.rangeStart}-${policy.rangeEnd}`,
          { hint: 'remove unused workspaces or widen BERTH_PORT_RANGE_END' },
        );
      }
      this.db
        .prepare(
          `INSERT INTO workspaces (id, name, state, reason, image, command, env, hosting, runtime_ref,
             upstream_host, exit_code, owner_id, visibility, restart_policy, data_volume, data_path,
             idle_stop_ms, cpus, memory_mb, source, created_at, updated_at)
           VALUES (?, ?, 'creating', NULL, ?, ?, ?, ?, NULL, '127.0.0.1', NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          ws.id,
          ws.name,
          ws.image,
          ws.command ? JSON.stringify(ws.command) : null,
          JSON.stringify(ws.env),
          JSON.stringify(ws.hosting),
          ws.ownerId,
          ws.visibility,
          ws.restartPolicy ?? 'no',
          ws.dataVolume ?? null,
          ws.dataPath ?? null,
          ws.idleStopMs ?? null,
          ws.cpus ?? null,
          ws.memoryMb ?? null,
          ws.source ? JSON.stringify(ws.source) : null,
          now,
          now,
        );
      const insertPort = this.db.prepare(
        `INSERT INTO port_allocations (host_port, workload_kind, workload_id, container_port, prefix_mode, label) VALUES (?, 'workspace', ?, ?, ?, ?)`,
      );
      hostPorts.forEach((hp, i) => {
        const containerPort = policy.containerPortFor(i, hp);
        const opts = policy.portOptions?.(i, containerPort) ?? {};
        insertPort.run(hp, ws.id, containerPort, opts.prefix ?? 'strip', opts.label ?? null);
      });
    });
    tx.immediate();
    return this.get(ws.id)!;
  }

  get(id: string): Workspace | undefined {
    const row = this.byId.get(id);
    return row ? this.toWorkspace(row, this.portsOf.all(id)) : undefined;
  }

  /** Looks up by id first, then by name (the API and CLI accept either). */
  find(idOrName: string): Workspace | undefined {
    const row = this.byId.get(idOrName) ?? this.byName.get(idOrName);
    return row ? this.toWorkspace(row, this.portsOf.all(row.id)) : undefined;
  }

  list(): Workspace[] {
    const ports = new Map<string, PortRow[]>();
    for (const p of this.allPorts.all()) {
      let list = ports.get(p.workload_id);
      if (!list) ports.set(p.workload_id, (list = []));
      list.push(p);
    }
    return this.all.all().map((row) => this.toWorkspace(row, ports.get(row.id) ?? []));
  }

  update(id: string, patch: WorkspacePatch): Workspace {
    const sets: string[] = [];
    const values: unknown[] = [];
    const cols: Record<keyof WorkspacePatch, string> = {
      state: 'state',
      reason: 'reason',
      runtimeRef: 'runtime_ref',
      upstreamHost: 'upstream_host',
      exitCode: 'exit_code',
      visibility: 'visibility',
      restartCount: 'restart_count',
      nextRestartAt: 'next_restart_at',
      image: 'image',
      command: 'command',
      env: 'env',
      dataVolume: 'data_volume',
      dataPath: 'data_path',
      idleStopMs: 'idle_stop_ms',
      lastActiveAt: 'last_active_at',
      lastActiveReason: 'last_active_reason',
      cpus: 'cpus',
      memoryMb: 'memory_mb',
      source: 'source',
    };
    for (const [key, col] of Object.entries(cols) as [keyof WorkspacePatch, string][]) {
      if (key in patch) {
        const value = patch[key] ?? null;
        sets.push(`${col} = ?`);
        values.push(value !== null && JSON_COLUMNS.has(col) ? JSON.stringify(value) : value);
      }
    }
    sets.push('updated_at = ?');
    values.push(new Date().toISOString());
    this.db.prepare(`UPDATE workspaces SET ${sets.join(', ')} WHERE id = ?`).run(...values, id);
    const ws = this.get(id);
    if (!ws) throw new BerthError('E_NOT_FOUND', `workspace ${id} not found`);
    return ws;
  }

  /**
   * Records the last activity of several workspaces in one transaction, without touching
   * `updated_at` (activity is not a change of the workspace). Unknown ids are skipped.
   */
  recordActivity(entries: readonly { id: string; at: string; reason: string }[]): void {
    if (entries.length === 0) return;
    const stmt = this.db.prepare('UPDATE workspaces SET last_active_at = ?, last_active_reason = ? WHERE id = ?');
    this.db.transaction(() => {
      for (const e of entries) stmt.run(e.at, e.reason, e.id);
    })();
  }

  /** Sets how one allocated port of a workspace forwards its prefix; false when the workspace has no such host port. */
  setPortPrefix(id: string, hostPort: number, prefix: PrefixMode): boolean {
    const r = this.db
      .prepare(`UPDATE port_allocations SET prefix_mode = ? WHERE workload_kind = 'workspace' AND workload_id = ? AND host_port = ?`)
      .run(prefix, id, hostPort);
    return r.changes === 1;
  }

  /** Records (or clears) the intent to delete, before the workload is removed. */
  setDeleting(id: string, deleting: boolean): void {
    this.db.prepare('UPDATE workspaces SET deleting = ? WHERE id = ?').run(deleting ? 1 : 0, id);
  }

  /** When the next policy restart of a workspace is due (epoch ms), if one is scheduled. */
  nextRestartAt(id: string): number | null {
    return (this.db.prepare('SELECT next_restart_at AS t FROM workspaces WHERE id = ?').get(id) as { t: number | null } | undefined)?.t ?? null;
  }

  /** Deletes the row and releases its ports in one transaction. */
  delete(id: string): void {
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM port_allocations WHERE workload_id = ?').run(id);
      this.db.prepare('DELETE FROM workspaces WHERE id = ?').run(id);
    })();
  }

  portsInUse(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM port_allocations').get() as { n: number }).n;
  }

  private toWorkspace(row: WorkspaceRow, ports: PortRow[]): Workspace {
    const mapped: WorkspacePort[] = ports.map((p) => ({
      containerPort: p.container_port,
      hostPort: p.host_port,
      prefix: p.prefix_mode,
      label: p.label,
    }));
    mapped.sort((a, b) => a.containerPort - b.containerPort);
    return {
      id: row.id,
      name: row.name,
      state: row.state,
      reason: row.reason,
      image: row.image,
      command: row.command ? (JSON.parse(row.command) as string[]) : null,
      env: JSON.parse(row.env) as Record<string, string>,
      ports: mapped,
      hosting: JSON.parse(row.hosting) as HostingInfo,
      runtimeRef: row.runtime_ref,
      upstreamHost: row.upstream_host,
      exitCode: row.exit_code,
      ownerId: row.owner_id,
      visibility: row.visibility,
      restartPolicy: row.restart_policy,
      restartCount: row.restart_count,
      deleting: row.deleting === 1,
      dataVolume: row.data_volume,
      dataPath: row.data_path,
      idleStopMs: row.idle_stop_ms,
      lastActiveAt: row.last_active_at,
      lastActiveReason: row.last_active_reason,
      cpus: row.cpus,
      memoryMb: row.memory_mb,
      source: row.source ? (JSON.parse(row.source) as WorkspaceSource) : null,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    };
  }
}
