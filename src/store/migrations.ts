/**
 * Numbered schema migrations. Append only: a released migration never changes, a new version
 * is added instead. `version` is stored in `PRAGMA user_version`.
 */
export const migrations: { version: number; sql: string }[] = [
  {
    // Catalog apps (src/services/apps.ts). Ports live in port_allocations (workload_kind 'app',
    // workload_id = app name); secrets, database passwords and Redis indexes outlive an uninstall
    // without --purge, so a reinstall finds its data and keeps its env.
    version: 2,
    sql: `
      CREATE TABLE apps (
        name          TEXT PRIMARY KEY,
        state         TEXT NOT NULL,
        reason        TEXT,
        settings      TEXT NOT NULL,
        hosting       TEXT NOT NULL,
        -- JSON [[portName, hostPort], …]: which allocated port is which (http first).
        port_names    TEXT NOT NULL DEFAULT '[]',
        -- The manifest's embed settings at install time (routing must not need the catalog).
        embed         TEXT NOT NULL DEFAULT '{"subpath":true,"stripPrefix":true}',
        runtime_ref   TEXT,
        upstream_host TEXT NOT NULL DEFAULT '127.0.0.1',
        created_at    TEXT NOT NULL,
        updated_at    TEXT NOT NULL
      );
      CREATE TABLE app_secrets (
        app   TEXT NOT NULL,
        name  TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (app, name)
      );
      CREATE TABLE app_postgres (
        app      TEXT PRIMARY KEY,
        database TEXT NOT NULL,
        password TEXT NOT NULL
      );
      CREATE TABLE app_redis (
        app TEXT PRIMARY KEY,
        db  INTEGER NOT NULL UNIQUE
      );
    `,
  },
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
  {
    // Access control. (Versions 2 and 3 belong to the catalog and preview streams; the runner
    // applies migrations in version order, so the numbers only need to be unique.)
    version: 4,
    sql: `
      CREATE TABLE users (
        id            TEXT PRIMARY KEY,
        username      TEXT NOT NULL UNIQUE,
        password_hash TEXT,
        role          TEXT NOT NULL CHECK (role IN ('admin', 'member')),
        created_at    TEXT NOT NULL
      );
      -- Only a hash of the session id is stored: a leaked database does not leak live sessions.
      CREATE TABLE sessions (
        id_hash      TEXT PRIMARY KEY,
        user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        csrf_token   TEXT NOT NULL,
        created_at   INTEGER NOT NULL,
        last_seen_at INTEGER NOT NULL,
        ip           TEXT
      );
      CREATE TABLE api_tokens (
        id           TEXT PRIMARY KEY,
        user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        name         TEXT NOT NULL,
        token_hash   TEXT NOT NULL UNIQUE,
        scopes       TEXT NOT NULL,
        created_at   TEXT NOT NULL,
        last_used_at TEXT
      );
      CREATE TABLE audit_log (
        id     INTEGER PRIMARY KEY AUTOINCREMENT,
        at     TEXT NOT NULL,
        actor  TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT,
        ip     TEXT,
        detail TEXT
      );
      CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      ALTER TABLE workspaces ADD COLUMN owner_id TEXT;
      ALTER TABLE workspaces ADD COLUMN visibility TEXT NOT NULL DEFAULT 'private';
    `,
  },
  {
    // Durable job queue (src/jobs/queue.ts) and the webhook deliveries log. Listed after 4 because
    // it was written in parallel; the runner sorts by version and records each one it applies.
    version: 3,
    sql: `
      CREATE TABLE jobs (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        type          TEXT NOT NULL,
        key           TEXT NOT NULL,
        payload       TEXT NOT NULL,
        -- JSON array of job types this job supersedes while they are pending (coalescing).
        replaces      TEXT NOT NULL DEFAULT '[]',
        state         TEXT NOT NULL CHECK (state IN ('pending', 'running', 'done', 'failed', 'superseded')),
        attempts      INTEGER NOT NULL DEFAULT 0,
        max_attempts  INTEGER NOT NULL,
        run_after     INTEGER NOT NULL,
        dedupe_id     TEXT UNIQUE,
        error         TEXT,
        superseded_by INTEGER,
        created_at    INTEGER NOT NULL,
        started_at    INTEGER,
        finished_at   INTEGER
      );
      CREATE INDEX jobs_state ON jobs (state, run_after);
      CREATE INDEX jobs_key ON jobs (key, state);
      CREATE TABLE webhook_deliveries (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        delivery_id TEXT NOT NULL,
        event       TEXT NOT NULL,
        action      TEXT,
        repo        TEXT,
        pr          INTEGER,
        received_at INTEGER NOT NULL,
        outcome     TEXT NOT NULL,
        job_id      INTEGER
      );
      CREATE INDEX webhook_deliveries_delivery ON webhook_deliveries (delivery_id);
      CREATE INDEX webhook_deliveries_received ON webhook_deliveries (received_at);
    `,
  },
  {
    // Pull-request previews (src/store/previews-repo.ts). Ports live in port_allocations with
    // workload_kind 'preview' and workload_id '<preview id>.<generation>'.
    version: 5,
    sql: `
      CREATE TABLE previews (
        id             TEXT PRIMARY KEY,
        repo           TEXT NOT NULL,
        pr             INTEGER NOT NULL,
        sha            TEXT NOT NULL,
        ref            TEXT,
        clone_url      TEXT NOT NULL,
        private        INTEGER NOT NULL DEFAULT 0,
        state          TEXT NOT NULL,
        reason         TEXT,
        url            TEXT,
        generation     INTEGER NOT NULL DEFAULT 0,
        services       TEXT NOT NULL DEFAULT '[]',
        routes         TEXT NOT NULL DEFAULT '[]',
        database_name  TEXT,
        -- Kept so every generation of a preview connects with the same credentials.
        database_password TEXT,
        ttl_ms         INTEGER,
        build_log      TEXT,
        created_at     TEXT NOT NULL,
        updated_at     TEXT NOT NULL,
        UNIQUE (repo, pr)
      );
    `,
  },
  {
    // A delete records its intent first, so a crash between "workload removed" and "row deleted"
    // is finished by the reconciler instead of leaving a failed record holding its ports.
    version: 6,
    sql: `ALTER TABLE workspaces ADD COLUMN deleting INTEGER NOT NULL DEFAULT 0;`,
  },
  {
    // Restart policy of a workspace and how often it was restarted since its last healthy start.
    version: 7,
    sql: `
      ALTER TABLE workspaces ADD COLUMN restart_policy TEXT NOT NULL DEFAULT 'no';
      ALTER TABLE workspaces ADD COLUMN restart_count INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE workspaces ADD COLUMN next_restart_at INTEGER;
    `,
  },
  {
    // Apps: the volumes they mount (so --purge removes exactly those), and a restart policy with
    // the same bookkeeping as workspaces (the reconciler restarts crashed apps).
    version: 8,
    sql: `
      ALTER TABLE apps ADD COLUMN volumes TEXT NOT NULL DEFAULT '[]';
      ALTER TABLE apps ADD COLUMN restart_policy TEXT NOT NULL DEFAULT 'always';
      ALTER TABLE apps ADD COLUMN restart_count INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE apps ADD COLUMN next_restart_at INTEGER;
      ALTER TABLE apps ADD COLUMN exit_code INTEGER;
    `,
  },
  {
    // Per-workspace LLM credentials (src/services/llm-tokens.ts): only a hash is kept, and the row
    // goes with its workspace, so deleting a workspace revokes its credential.
    version: 9,
    sql: `
      CREATE TABLE workspace_llm_tokens (
        workspace_id TEXT PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
        token_hash   TEXT NOT NULL UNIQUE,
        created_at   TEXT NOT NULL
      );
    `,
  },
  {
    // Workspaces as dev environments (issue #12): a prefix mode per port (`keep` forwards
    // /hosted/{id}/{port}/ unchanged), a persistent data volume and where it is mounted, idle
    // stop with the last activity and its reason, resource limits, and the repository (and
    // devcontainer settings) a workspace was made from. Old rows: strip, no volume, no idle stop.
    version: 10,
    sql: `
      ALTER TABLE port_allocations ADD COLUMN prefix_mode TEXT NOT NULL DEFAULT 'strip';
      ALTER TABLE port_allocations ADD COLUMN label TEXT;
      ALTER TABLE workspaces ADD COLUMN data_volume TEXT;
      ALTER TABLE workspaces ADD COLUMN data_path TEXT;
      ALTER TABLE workspaces ADD COLUMN idle_stop_ms INTEGER;
      ALTER TABLE workspaces ADD COLUMN last_active_at TEXT;
      ALTER TABLE workspaces ADD COLUMN last_active_reason TEXT;
      ALTER TABLE workspaces ADD COLUMN cpus REAL;
      ALTER TABLE workspaces ADD COLUMN memory_mb INTEGER;
      ALTER TABLE workspaces ADD COLUMN source TEXT;
    `,
  },
];
