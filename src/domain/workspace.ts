/** Pure workspace types and rules. No I/O here. */

export type WorkspaceState = 'creating' | 'running' | 'stopped' | 'failed';

/** What happens when the workload exits on its own: nothing, restart after a failure, or always. */
export type RestartPolicy = 'no' | 'on-failure' | 'always';

/**
 * Backoff before the n-th consecutive restart (n ≥ 1): 1 s, 2 s, 4 s … capped at 5 minutes, so
 * a workload that crashes at once does not spin.
 */
export function restartDelayMs(n: number): number {
  return Math.min(300_000, 1000 * 2 ** Math.max(0, n - 1));
}

/**
 * A workload that ran at least this long before it exited was healthy: its backoff starts over at
 * 1 s (the restart count stays as history). Without this, an app that crashes once a week would
 * climb to the 5-minute cap over a few months and stay there.
 */
export const BACKOFF_RESET_AFTER_MS = 10 * 60_000;

/**
 * Delay before restarting a workload that exited after running from `startedAt` to `finishedAt`
 * (ISO times from the runtime; null when unknown), with `restartCount` restarts so far.
 */
export function crashRestartDelayMs(restartCount: number, startedAt: string | null, finishedAt: string | null): number {
  const ran = startedAt && finishedAt ? Date.parse(finishedAt) - Date.parse(startedAt) : NaN;
  return restartDelayMs(ran >= BACKOFF_RESET_AFTER_MS ? 1 : restartCount + 1);
}

/** Whether a workload that exited with `exitCode` should be restarted under `policy`. */
export function shouldRestart(policy: RestartPolicy, exitCode: number | null): boolean {
  return policy === 'always' || (policy === 'on-failure' && exitCode !== 0);
}

/**
 * `private`: only the owner's or an admin's Berth session reaches its hosted apps.
 * `authenticated`: any signed-in Berth user. `public`: anyone (the seeds' behaviour).
 */
export type Visibility = 'private' | 'authenticated' | 'public';

/**
 * What the edge forwards for `/hosted/{id}/{port}/rest`: `strip` sends `/rest` (tools that serve at
 * the root); `keep` sends the full path (tools told their base path: Jupyter's `base_url`, Vite's
 * `base`, …). Both set `X-Forwarded-Prefix`.
 */
export type PrefixMode = 'strip' | 'keep';

/** A workspace port: its mapping, how its prefix is forwarded, and an optional label (devcontainer `portsAttributes`). */
export interface WorkspacePort extends PortMapping {
  prefix: PrefixMode;
  label: string | null;
}

/**
 * Where a workspace was made from (`berth ws create --repo`): the repository, the ref, and the
 * devcontainer settings that apply at every start. Stored as JSON; absent for image-only workspaces.
 */
export interface WorkspaceSource {
  repo: string;
  ref: string | null;
  /** Path of the devcontainer.json used, relative to the repository, or null. */
  devcontainer: string | null;
  /** Extra settings the devcontainer driver keeps (postStartCommand, remoteUser, workspaceFolder…). */
  settings?: Record<string, unknown>;
}

/** A container port of a workload and the host port Berth allocated for it. */
export interface PortMapping {
  containerPort: number;
  hostPort: number;
}

/** Where the outside world reaches this Berth; used to build hosted URLs. */
export interface HostingInfo {
  proto: 'http' | 'https';
  /** host[:port] as the browser sees it. */
  host: string;
  /** Outer prefix without trailing slash ('' at the root, '/berth' behind a sub-path proxy). */
  basePath: string;
  /**
   * The dashboard's URL when this is the apps origin's hosting (where a refused browser signs
   * in). Absent in records made before the two origins: their hosting was the dashboard's.
   */
  dashboardUrl?: string;
}

/** The dashboard URL of a stored hosting (records made before the two origins stored the dashboard's own). */
export function dashboardUrlOf(h: HostingInfo): string {
  return h.dashboardUrl ?? `${h.proto}://${h.host}${h.basePath}`;
}

export interface Workspace {
  id: string;
  name: string;
  state: WorkspaceState;
  /** Why the workspace is `failed` (engine message, exit code…). */
  reason: string | null;
  image: string;
  command: string[] | null;
  env: Record<string, string>;
  ports: WorkspacePort[];
  hosting: HostingInfo;
  /** Engine's identifier of the workload (container id, or process dir). */
  runtimeRef: string | null;
  /** Address the edge dials for this workload's host ports, as the runtime reported it. */
  upstreamHost: string;
  exitCode: number | null;
  /** User id of the owner (null for workspaces made before accounts existed: admins only). */
  ownerId: string | null;
  visibility: Visibility;
  restartPolicy: RestartPolicy;
  /** Restarts by the policy since the workspace was last started by hand. */
  restartCount: number;
  /** A delete has begun (recorded first, so a crash mid-delete is finished by the reconciler). */
  deleting: boolean;
  /** Engine volume (or process-runtime directory name) holding the workspace's data; null: none (made before volumes). */
  dataVolume: string | null;
  /** Where the data volume is mounted inside the workload (default `/workspace`). */
  dataPath: string | null;
  /** Stop after this long without activity; null: never. */
  idleStopMs: number | null;
  /** Last activity (ISO) and what it was ("WebSocket on 9000", "exec session", …). */
  lastActiveAt: string | null;
  lastActiveReason: string | null;
  /** Resource limits given at create; null: the engine's default (unlimited). */
  cpus: number | null;
  memoryMb: number | null;
  source: WorkspaceSource | null;
  createdAt: string;
  updatedAt: string;
}

const NAME_RE = /^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/;

/** Returns an error message, or null when the name is valid. */
export function checkWorkspaceName(name: unknown): string | null {
  if (typeof name !== 'string' || name.length === 0) return 'name is required';
  if (name.length > 40) return 'name must be at most 40 characters';
  if (!NAME_RE.test(name)) {
    return 'name must be lowercase letters, digits and dashes, starting and ending with a letter or digit';
  }
  return null;
}

/** Public URL of a hosted port: `{proto}://{host}{basePath}/hosted/{id}/{hostPort}/`. */
export function hostedUrl(hosting: HostingInfo, workspaceId: string, hostPort: number): string {
  return `${hosting.proto}://${hosting.host}${hostedBasePath(hosting, workspaceId, hostPort)}`;
}

/**
 * Public base path of a hosted port, outer prefix included, with its trailing slash:
 * `{basePath}/hosted/{id}/{hostPort}/`. What a tool is told as its base (`--base-url`, Vite `base`);
 * a `keep` port receives requests under exactly this path (see workspace-routes.ts).
 */
export function hostedBasePath(hosting: Pick<HostingInfo, 'basePath'>, workspaceId: string, hostPort: number): string {
  return `${hosting.basePath}/hosted/${workspaceId}/${hostPort}/`;
}

/** `8000:9000,8001:9001,…` as injected into workloads. */
export function portMappingsEnv(ports: PortMapping[]): string {
  return ports.map((p) => `${p.containerPort}:${p.hostPort}`).join(',');
}

/**
 * The environment Berth injects into every workspace; user env cannot override these keys.
 * `llmUrl` is Berth's `/llm/` (BERTH_LLM_BASE_URL, and BERTH_LLM_URL as before) and `llmToken`
 * the workspace's own credential for it (BERTH_LLM_TOKEN) — never the operator's key.
 */
export function injectedEnv(ws: Pick<Workspace, 'id' | 'ports' | 'hosting'>, extra: { llmUrl?: string; llmToken?: string } = {}): Record<string, string> {
  const first = ws.ports[0];
  const env: Record<string, string> = {
    BERTH_WORKSPACE_ID: ws.id,
    BERTH_PORT_MAPPINGS: portMappingsEnv(ws.ports),
    BERTH_HOSTING_HOSTNAME: ws.hosting.host,
    BERTH_HOSTING_PROTO: ws.hosting.proto,
    BERTH_HOSTING_BASE_PATH: ws.hosting.basePath,
  };
  if (first) {
    env.PORT = String(first.containerPort);
    // The base path of $PORT, so a one-line recipe works on every runtime (the process runtime's
    // container ports are its host ports, unknown until create).
    env.BERTH_BASE_PATH = hostedBasePath(ws.hosting, ws.id, first.hostPort);
  }
  // Every port's base path: the same in `strip` and `keep` mode, so a mode change needs no restart.
  for (const p of ws.ports) env[`BERTH_BASE_PATH_${p.containerPort}`] = hostedBasePath(ws.hosting, ws.id, p.hostPort);
  if (extra.llmUrl) {
    env.BERTH_LLM_URL = extra.llmUrl;
    env.BERTH_LLM_BASE_URL = extra.llmUrl;
    if (extra.llmToken) env.BERTH_LLM_TOKEN = extra.llmToken;
  }
  return env;
}
