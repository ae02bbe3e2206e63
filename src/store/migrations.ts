/**
 * Numbered schema migrations. Append only: a released migration never changes, a new version
 * is added instead. `version` is stored in `PRAGMA user_version`.
 */
export const migrations: { version: number; sql: string }[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE workspaces (
        id            TEXT PRIMARY KEY,
        name          TEXT NOT NULL UNIQUE,
        state         TEXT NOT NULL,
        reason        TEXT,
        image         TEXT NOT NULL,
        command       TEXT,
        env           TEXT NOT NULL,
        hosting       TEXT NOT NULL,
        runtime_ref   TEXT,
        upstream_host TEXT NOT NULL DEFAULT '127.0.0.1',
        exit_code     INTEGER,
        created_at    TEXT NOT NULL,
        updated_at    TEXT NOT NULL
      );
      -- One row per allocated host port; the primary key makes double allocation impossible.
      CREATE TABLE port_allocations (
        host_port      INTEGER PRIMARY KEY,
        workload_kind  TEXT NOT NULL,
        workload_id    TEXT NOT NULL,
        container_port INTEGER NOT NULL
      );
      CREATE INDEX port_allocations_workload ON port_allocations (workload_id);
    `,
  },
];
