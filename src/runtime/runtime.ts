import type { Readable } from 'node:stream';
import type { Logger } from '../log.js';

/**
 * The contract every runtime driver implements (process, podman, docker, …).
 *
 * Lifecycle of a workload: `create(spec)` → `start(ref)` → (`stop(ref)` ⇄ `start(ref)`)* →
 * `remove(ref)`. `remove` is safe on a workload that failed half-way through `create` and on one
 * that is already gone (idempotent), so callers can always clean up. Workloads outlive the daemon:
 * `list(labels)` finds them again after a restart.
 *
 * Drivers never run shell strings: they call binaries with `execFile(bin, argv)` or speak an API.
 * Callers never branch on the driver's name; they read `capabilities`.
 */
export interface Runtime {
  readonly name: RuntimeName;
  readonly capabilities: RuntimeCapabilities;
  /**
   * Checks the engine answers; throws BerthError('E_RUNTIME_UNAVAILABLE') with the engine's words if not.
   * May resolve to a short description of what answered (e.g. `podman 4.3.1`) for logs and `selectRuntime`.
   */
  probe(): Promise<string | void>;
  /** Creates (but does not start) a workload; returns its engine reference. */
  create(spec: WorkloadSpec): Promise<WorkloadRef>;
  start(ref: WorkloadRef): Promise<void>;
  /** Stops gracefully, killing after `timeoutSeconds` (default 10). No-op if not running. */
  stop(ref: WorkloadRef, opts?: { timeoutSeconds?: number }): Promise<void>;
  /**
   * Removes the workload and its resources; no-op if it does not exist. A running workload is
   * killed without a grace period (like `docker rm -f`); call `stop` first for a graceful shutdown.
   */
  remove(ref: WorkloadRef): Promise<void>;
  inspect(ref: WorkloadRef): Promise<WorkloadStatus>;
  /** Combined stdout+stderr. With `follow`, the stream stays open until the workload stops or the stream is destroyed. */
  logs(ref: WorkloadRef, opts?: { follow?: boolean; tail?: number }): Promise<Readable>;
  /** Runs argv inside the workload. With `tty`, an interactive terminal is requested. */
  exec(ref: WorkloadRef, argv: string[], opts?: ExecOptions): Promise<ExecResult | ExecSession>;
  /** Every workload carrying all the given labels (for the reconciler). */
  list(labels: Record<string, string>): Promise<WorkloadSummary[]>;
  /**
   * Builds `tag` from `containerfile` (absolute, or relative to `contextDir`) offline; resolves to the
   * engine's build output. Present only when `capabilities.build` is true.
   */
  build?(contextDir: string, containerfile: string, tag: string): Promise<string>;
  /** Removes an image `build` made; no-op when it is gone. Present with `build`. */
  removeImage?(tag: string): Promise<void>;
  /**
   * Deletes the named volume (see `WorkloadSpec.volumes`) and everything in it; a no-op when it does
   * not exist (idempotent). Refuses with E_INVALID_STATE while a workload that mounts it still
   * exists (remove the workload first). Present on every driver that honours `spec.volumes`.
   */
  removeVolume?(name: string): Promise<void>;
  /**
   * Every volume carrying all the given labels, with its size on disk when the driver can read it
   * (null when it cannot, e.g. a docker engine on another host). Volumes carry the labels of the
   * workload whose `create` made them (see `WorkloadSpec.volumes`). Present with `removeVolume`.
   */
  listVolumes?(labels: Record<string, string>): Promise<VolumeSummary[]>;
  /**
   * Creates a network workloads can join (`WorkloadSpec.network`), carrying `labels` (which should
   * include LABEL_KIND and LABEL_ID, so `listNetworks` finds orphans; the installation scope adds
   * LABEL_INSTALLATION). Idempotent: a network that
   * already exists under `name` is kept as it is (its labels are not changed) and the call resolves
   * to false; true means this call made it, so a caller that fails later knows it may remove it.
   * Present when `capabilities.networks` is true.
   */
  createNetwork?(name: string, labels: Record<string, string>): Promise<boolean>;
  /**
   * Deletes a network; a no-op when it does not exist (idempotent). Refuses with E_INVALID_STATE
   * while any workload (running or not) is attached to it — remove the workloads first — rather
   * than removing them with it. Present when `capabilities.networks` is true.
   */
  removeNetwork?(name: string): Promise<void>;
  /**
   * Attaches an existing workload (created or running) to network `name` as well, where the other
   * workloads of that network reach it by each of `aliases`. Idempotent: already attached is a
   * no-op. E_NOT_FOUND when the network or the workload does not exist. Present when
   * `capabilities.networks` is true.
   */
  connectNetwork?(name: string, ref: WorkloadRef, aliases: string[]): Promise<void>;
  /** Detaches a workload from network `name`; a no-op when it is not attached or either is gone. */
  disconnectNetwork?(name: string, ref: WorkloadRef): Promise<void>;
  /** Every network carrying all the given labels (for reapers). Present when `capabilities.networks` is true. */
  listNetworks?(labels: Record<string, string>): Promise<NetworkSummary[]>;
  /**
   * What each of `refs` uses now: one call for many workloads, because every engine answers for
   * many as cheaply as for one (`ws top`, `/metrics`). A ref the engine does not know is absent
   * from the map; one that is not running has zero CPU and memory. Never runs a shell string.
   * Present on every driver that can measure (all three today); callers cache (see
   * services/workspace-usage.ts), so a poll does not reach the engine every time.
   */
  stats?(refs: WorkloadRef[], opts?: { disk?: boolean }): Promise<Map<WorkloadRef, WorkloadStats>>;
}

export type RuntimeName = 'process' | 'podman' | 'docker';

export interface RuntimeCapabilities {
  /** Workloads are isolated from the host (containers). `process` is not. */
  isolation: boolean;
  /** The driver honours `spec.image`. */
  images: boolean;
  /** Can build images from a context directory. */
  build: boolean;
  /**
   * `spec.volumes` are mounted at their `target` inside the workload. False (process): the driver
   * cannot mount; each volume is a host directory instead and the target path is substituted in
   * the workload's env and command (see `WorkloadSpec.volumes`). Persistence and `removeVolume`
   * work the same either way.
   */
  volumes: boolean;
  /** Honours `spec.resources`. */
  resources: boolean;
  /**
   * Container ports are remapped to the allocated host ports. When false (process), the workload
   * listens on the host port itself: containerPort === hostPort.
   */
  portMapping: boolean;
  /**
   * Workloads can be put on a network of their own (`createNetwork`, `spec.network`), where they
   * reach each other by alias, and workloads on another network made by `createNetwork` reach them
   * neither by alias nor by address. (Isolation from the engine's default network is the engine's
   * business: docker gives it, podman with netavark 1.4 does not, see oci-runtime.ts.) False
   * (process): every workload shares the host's loopback, `spec.network` is ignored and the
   * network methods are absent.
   */
  networks: boolean;
}

/** The engine's identifier of a workload: container id, or the process driver's directory name. */
export type WorkloadRef = string;

/**
 * Volume names: what both engines and a directory name accept (no separators, no dot-dirs).
 * Berth names them `berth-<kind>-<id>-<name>` so one workload's volumes are recognizable.
 */
export const VOLUME_NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/;

/** Volume targets: absolute, no `..`, not `/`, nothing the engines' `-v a:b:opts` syntax would split on. */
export const VOLUME_TARGET_RE = /^\/[^:,]*[^/:,]$/;

/** Why `spec.volumes` cannot be used (bad name or target, a target used twice), or null. Drivers refuse with E_BAD_REQUEST. */
export function volumeProblem(volumes: readonly { name: string; target: string }[]): string | null {
  const targets = new Set<string>();
  for (const v of volumes) {
    if (!VOLUME_NAME_RE.test(v.name)) return `invalid volume name ${JSON.stringify(v.name)}: letters, digits, "_", "." and "-"`;
    if (!VOLUME_TARGET_RE.test(v.target) || v.target.split('/').includes('..')) {
      return `invalid volume target ${JSON.stringify(v.target)}: an absolute path other than "/", without "..", ":" or ","`;
    }
    if (targets.has(v.target)) return `two volumes mount at ${v.target}`;
    targets.add(v.target);
  }
  return null;
}

/**
 * Network names: what both engines accept (the same shape as volume names). Aliases are DNS names
 * other workloads of the network resolve: a letter or digit first, at most 63 characters.
 */
export const NETWORK_NAME_RE = VOLUME_NAME_RE;
export const NETWORK_ALIAS_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/;

/** Why `spec.network` cannot be used (bad name or alias), or null. Drivers refuse with E_BAD_REQUEST. */
export function networkProblem(network: { name: string; aliases: readonly string[] }): string | null {
  if (!NETWORK_NAME_RE.test(network.name)) return `invalid network name ${JSON.stringify(network.name)}: letters, digits, "_", "." and "-"`;
  const bad = network.aliases.find((a) => !NETWORK_ALIAS_RE.test(a));
  return bad === undefined ? null : `invalid network alias ${JSON.stringify(bad)}: letters, digits, "_", "." and "-", at most 63`;
}

/** Labels every workload carries so the reconciler can find it. */
export const LABEL_KIND = 'berth.kind';
export const LABEL_ID = 'berth.id';
/**
 * The Berth installation (store/instance-id.ts) a workload, network or volume belongs to, so two
 * Berths on one engine each touch only their own (see runtime/installation.ts, which applies it).
 */
export const LABEL_INSTALLATION = 'berth.installation';
/** The Berth user id that owns a workload (workspaces); its volumes carry it too, so a kept volume still has an owner. */
export const LABEL_OWNER = 'berth.owner';

export interface WorkloadSpec {
  /** Engine-visible name, unique per host (e.g. `berth-ws-<id>`). */
  name: string;
  /** Image to run; ignored by drivers without `capabilities.images`. */
  image: string;
  /** argv; undefined = the image's default command (process driver: an idle placeholder). */
  command?: string[];
  env: Record<string, string>;
  /** Each container port is published on 127.0.0.1:hostPort (only loopback, never 0.0.0.0). */
  ports: { containerPort: number; hostPort: number }[];
  /**
   * Must include LABEL_KIND and LABEL_ID. LABEL_INSTALLATION is added by the installation scope
   * (runtime/installation.ts) the daemon wraps every driver in; drivers store whatever they get.
   */
  labels: Record<string, string>;
  resources?: { cpus?: number; memoryMb?: number };
  dnsServers?: string[];
  /**
   * Named, persistent volumes: data written under `target` outlives `remove` and is there again
   * for the next workload created with the same volume `name` (until `removeVolume(name)`).
   * Container drivers mount the engine volume `name` at `target` (`-v name:target`), creating it
   * first, when missing, with the workload's labels (LABEL_KIND, LABEL_ID, LABEL_INSTALLATION and
   * any other, e.g. LABEL_OWNER); a volume that exists keeps its labels. The process driver cannot mount (`capabilities.volumes` false): a
   * volume is the host directory `<dataDir>/volumes/<name>/`, and every env value and command
   * argument that is `target` or starts with `target/` is rewritten to that directory — so a
   * workload that reads its data path from its env (e.g. `DATA_DIR=/data`) works on both.
   */
  volumes?: { name: string; target: string }[];
  /** Host files mounted read-only into the workload (containers) — e.g. the berth-url helper. */
  files?: { hostPath: string; containerPath: string }[];
  /**
   * Host directory the command runs in, for drivers without images (process: the checkout of a
   * preview). Container drivers ignore it: the image's working directory applies.
   */
  workdir?: string;
  /**
   * Joins the workload to the network `name` (made with `createNetwork`) instead of the engine's
   * default one; the other workloads of that network reach it by each of `aliases` (and by its
   * `name`) on its container ports. Published `ports` stay bound to 127.0.0.1 as always. Ignored
   * by drivers without `capabilities.networks`, whose workloads share the host's loopback.
   */
  network?: { name: string; aliases: string[] };
}

export type WorkloadState = 'created' | 'running' | 'exited' | 'missing';

export interface WorkloadStatus {
  state: WorkloadState;
  exitCode: number | null;
  /** Host the edge dials for this workload's published ports (loopback for single-host drivers). */
  upstreamHost: string;
  /**
   * Address other workloads of the same runtime reach this one at on its own (container) ports,
   * e.g. the container's IP on the engine's network; absent or null when they use `upstreamHost`
   * and the published ports (process runtime) or when it is not running.
   */
  networkAddress?: string | null;
  startedAt: string | null;
  finishedAt: string | null;
}

export interface WorkloadSummary {
  ref: WorkloadRef;
  name: string;
  labels: Record<string, string>;
  state: WorkloadState;
}

/** A volume as `listVolumes` reports it. */
export interface VolumeSummary {
  name: string;
  labels: Record<string, string>;
  /** Bytes the volume's files take on disk; null when unknown. */
  sizeBytes: number | null;
}

/**
 * One measurement of a workload. CPU comes as a cumulative counter where the engine gives one, so
 * the caller computes the rate between two samples itself (engines' own "percent" fields are
 * averages since start on podman's CLI); docker's CLI gives only a percent, over its own ~1 s window.
 */
export interface WorkloadStats {
  /** CPU time used since start, in seconds; null when the engine reports only a percent (docker CLI). */
  cpuSeconds: number | null;
  /** CPU use over the engine's own window in percent of one CPU (200 = two CPUs busy), when it reports one. */
  cpuPercent: number | null;
  /** Memory in use now (the cgroup's usage; process runtime: resident set of its processes). */
  memoryBytes: number;
  /** The memory the workload may use (its limit, or the host's memory when unlimited); null when unknown. */
  memoryLimitBytes: number | null;
  /** Processes (or threads, as the engine counts them) in the workload. */
  pids: number;
  /**
   * Bytes the workload wrote to its own filesystem (the container's writable layer; process
   * runtime: its directory); null unless asked for with `{ disk: true }` (it costs more: the
   * engines walk the layer).
   */
  diskBytes: number | null;
  /** When the sample was taken (ms since the epoch), for rates between two samples. */
  at: number;
}

/** A network as `listNetworks` reports it. */
export interface NetworkSummary {
  name: string;
  labels: Record<string, string>;
}

export interface ExecOptions {
  /** An interactive session on a terminal (a PTY; stdout and stderr share it). */
  tty?: boolean;
  env?: Record<string, string>;
  /** Initial terminal size of a `tty` session (default 80×24); `resize` changes it later. */
  cols?: number;
  rows?: number;
}

/** A finished non-interactive exec. */
export interface ExecResult {
  kind: 'result';
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** An interactive exec: the caller pipes its terminal through. */
export interface ExecSession {
  kind: 'session';
  stdin: NodeJS.WritableStream;
  stdout: Readable;
  stderr: Readable;
  /** Sets the terminal size (columns × rows) of a `tty` session; the program gets SIGWINCH. */
  resize?(cols: number, rows: number): void;
  /** Hangs up a `tty` session (its client went away): SIGHUP to what runs on its terminal. */
  close?(): void;
  wait(): Promise<number>;
}

export interface RuntimeContext {
  log: Logger;
  /** Directory the driver may keep state and logs in. */
  dataDir: string;
}

/** Drivers are typed factories: `export const createPodmanRuntime: RuntimeFactory<PodmanOptions> = …`. */
export type RuntimeFactory<Options> = (ctx: RuntimeContext, opts: Options) => Runtime;
