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
}

export type RuntimeName = 'process' | 'podman' | 'docker';

export interface RuntimeCapabilities {
  /** Workloads are isolated from the host (containers). `process` is not. */
  isolation: boolean;
  /** The driver honours `spec.image`. */
  images: boolean;
  /** Can build images from a context directory. */
  build: boolean;
  volumes: boolean;
  /** Honours `spec.resources`. */
  resources: boolean;
  /**
   * Container ports are remapped to the allocated host ports. When false (process), the workload
   * listens on the host port itself: containerPort === hostPort.
   */
  portMapping: boolean;
}

/** The engine's identifier of a workload: container id, or the process driver's directory name. */
export type WorkloadRef = string;

/** Labels every workload carries so the reconciler can find it. */
export const LABEL_KIND = 'berth.kind';
export const LABEL_ID = 'berth.id';

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
  /** Must include LABEL_KIND and LABEL_ID. */
  labels: Record<string, string>;
  resources?: { cpus?: number; memoryMb?: number };
  dnsServers?: string[];
  /** Host files mounted read-only into the workload (containers) — e.g. the berth-url helper. */
  files?: { hostPath: string; containerPath: string }[];
  /**
   * Host directory the command runs in, for drivers without images (process: the checkout of a
   * preview). Container drivers ignore it: the image's working directory applies.
   */
  workdir?: string;
}

export type WorkloadState = 'created' | 'running' | 'exited' | 'missing';

export interface WorkloadStatus {
  state: WorkloadState;
  exitCode: number | null;
  /** Host the edge dials for this workload's published ports (loopback for single-host drivers). */
  upstreamHost: string;
  startedAt: string | null;
  finishedAt: string | null;
}

export interface WorkloadSummary {
  ref: WorkloadRef;
  name: string;
  labels: Record<string, string>;
  state: WorkloadState;
}

export interface ExecOptions {
  tty?: boolean;
  env?: Record<string, string>;
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
  resize?(cols: number, rows: number): void;
  wait(): Promise<number>;
}

export interface RuntimeContext {
  log: Logger;
  /** Directory the driver may keep state and logs in. */
  dataDir: string;
}

/** Drivers are typed factories: `export const createPodmanRuntime: RuntimeFactory<PodmanOptions> = …`. */
export type RuntimeFactory<Options> = (ctx: RuntimeContext, opts: Options) => Runtime;
