/**
 * Pure argv builders and output parsers shared by the podman and docker drivers. Nothing here
 * runs a process: oci-runtime.ts does the I/O, this file turns specs into argv and engine output
 * into domain types, so both directions are table-tested without an engine.
 */
import type { NetworkSummary, WorkloadSpec, WorkloadState, WorkloadStatus, WorkloadSummary } from '../runtime.js';

/** Host the edge dials for published ports: single-host engines publish on loopback only. */
export const UPSTREAM_HOST = '127.0.0.1';

/**
 * argv for `<bin> create …`: options first, then `--`, the image and the optional command. Every
 * value rides in its option's own word (`--env=K=V`), and `--` ends the options, so no user value
 * can read as an engine option — a command argument `--privileged` reaches the command (both
 * engines, also for `build` and `exec`, take `--` this way: checked on podman 4.3 and docker 28).
 * The driver validates the values first (argv-guard.ts); this shape is the second wall.
 */
export function createArgs(spec: WorkloadSpec): string[] {
  const args = ['create', `--name=${spec.name}`];
  for (const [k, v] of Object.entries(spec.labels)) args.push(`--label=${k}=${v}`);
  for (const [k, v] of Object.entries(spec.env)) args.push(`--env=${k}=${v}`);
  // Loopback only: the edge is the one way in (DESIGN "Published ports bind 127.0.0.1 only").
  for (const p of spec.ports) args.push(`--publish=${UPSTREAM_HOST}:${p.hostPort}:${p.containerPort}`);
  for (const dns of spec.dnsServers ?? []) args.push(`--dns=${dns}`);
  if (spec.resources?.cpus !== undefined) args.push(`--cpus=${spec.resources.cpus}`);
  if (spec.resources?.memoryMb !== undefined) args.push(`--memory=${spec.resources.memoryMb}m`);
  for (const f of spec.files ?? []) args.push(`--volume=${f.hostPath}:${f.containerPath}:ro`);
  // A name (not a path) before the colon: the engine's named volume, created on first use.
  for (const v of spec.volumes ?? []) args.push(`--volume=${v.name}:${v.target}`);
  if (spec.network) {
    args.push(`--network=${spec.network.name}`);
    for (const alias of spec.network.aliases) args.push(`--network-alias=${alias}`);
  }
  args.push('--', spec.image);
  if (spec.command) args.push(...spec.command);
  return args;
}

/** argv for `<bin> logs`; `timestamps` prefixes every line with the time the engine logged it. */
export function logsArgs(ref: string, opts: { follow?: boolean; tail?: number; timestamps?: boolean } = {}): string[] {
  const args = ['logs'];
  if (opts.follow) args.push('-f');
  if (opts.timestamps) args.push('--timestamps');
  if (opts.tail !== undefined) args.push(`--tail=${Math.max(0, Math.floor(opts.tail))}`);
  args.push('--', ref);
  return args;
}

/**
 * argv for `<bin> exec`. With `tty` (`-i -t`) the CLI must run on a terminal of its own: the
 * driver starts it on a host PTY (runtime/pty.ts), which is also how resizes reach the session.
 */
export function execArgs(ref: string, argv: string[], opts: { tty?: boolean; env?: Record<string, string> } = {}): string[] {
  const args = ['exec'];
  if (opts.tty) args.push('-i', '-t');
  for (const [k, v] of Object.entries(opts.env ?? {})) args.push(`--env=${k}=${v}`);
  // `--` before the container, not after it: after it, both engines would run `--` as the command.
  args.push('--', ref, ...argv);
  return args;
}

/** argv for `<bin> ps` filtered by every label; `format` is the engine's JSON format flag value. */
export function psArgs(labels: Record<string, string>, format: string): string[] {
  const args = ['ps', '-a', '--no-trunc'];
  for (const [k, v] of Object.entries(labels)) args.push(`--filter=label=${k}=${v}`);
  args.push(`--format=${format}`);
  return args;
}

/** argv for `<bin> build`; the containerfile is resolved by the caller (both paths absolute). */
export function buildArgs(contextDir: string, containerfile: string, tag: string): string[] {
  return ['build', `--file=${containerfile}`, `--tag=${tag}`, '--', contextDir];
}

/** Engine states → the four Berth states. Paused/restarting containers still hold their process. */
export function normalizeState(raw: string): WorkloadState {
  switch (raw.toLowerCase()) {
    case 'running':
    case 'paused':
    case 'restarting':
    case 'stopping':
      return 'running';
    case 'created':
    case 'configured':
    case 'initialized':
      return 'created';
    default:
      // exited, stopped, dead, removing, unknown: the process is gone.
      return 'exited';
  }
}

/** Engines report "never" as the zero time (`0001-01-01T00:00:00Z`); Berth says null. */
export function normalizeTime(raw: unknown): string | null {
  if (typeof raw !== 'string' || raw === '' || raw.startsWith('0001-01-01')) return null;
  return raw;
}

interface RawInspect {
  State?: { Status?: string; ExitCode?: number; StartedAt?: string; FinishedAt?: string };
  NetworkSettings?: { IPAddress?: string; Networks?: Record<string, { IPAddress?: string }> | null };
}

/** `<bin> inspect` JSON (an array) → status; an empty array means the container is missing. */
export function parseInspect(stdout: string): WorkloadStatus {
  const parsed = JSON.parse(stdout) as RawInspect[] | RawInspect;
  const first = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!first?.State) return missingStatus();
  const state = normalizeState(first.State.Status ?? '');
  return {
    state,
    // Engines report 0 for containers that never ran; only an exited container has an exit code.
    exitCode: state === 'exited' && typeof first.State.ExitCode === 'number' ? first.State.ExitCode : null,
    upstreamHost: UPSTREAM_HOST,
    startedAt: normalizeTime(first.State.StartedAt),
    finishedAt: state === 'exited' ? normalizeTime(first.State.FinishedAt) : null,
    networkAddress: state === 'running' ? containerAddress(first.NetworkSettings) : null,
  };
}

/** The container's IP on its (first) network: top-level IPAddress, else the first network's. */
function containerAddress(ns: RawInspect['NetworkSettings']): string | null {
  if (ns?.IPAddress) return ns.IPAddress;
  for (const net of Object.values(ns?.Networks ?? {})) if (net?.IPAddress) return net.IPAddress;
  return null;
}

/** Status of a workload the engine does not know. */
export function missingStatus(): WorkloadStatus {
  return { state: 'missing', exitCode: null, upstreamHost: UPSTREAM_HOST, startedAt: null, finishedAt: null };
}

/** One row of `ps` output in either engine's shape. */
interface RawPs {
  Id?: string;
  ID?: string;
  Names?: string[] | string;
  Labels?: Record<string, string> | string | null;
  State?: string;
}

/**
 * `ps` output → summaries. Podman's `--format json` prints one JSON array; docker's
 * `--format '{{json .}}'` prints one object per line with `Names`/`Labels` as comma-joined strings.
 */
export function parsePsOutput(stdout: string): WorkloadSummary[] {
  const text = stdout.trim();
  if (text === '') return [];
  const rows: RawPs[] = text.startsWith('[')
    ? (JSON.parse(text) as RawPs[])
    : text.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as RawPs);
  return rows.map((row) => {
    const names = typeof row.Names === 'string' ? row.Names.split(',') : (row.Names ?? []);
    return {
      ref: row.Id ?? row.ID ?? '',
      name: (names[0] ?? '').replace(/^\//, ''),
      labels: parseLabels(row.Labels),
      state: normalizeState(row.State ?? ''),
    };
  });
}

/**
 * Docker joins labels as `k=v,k2=v2`. A value containing a comma cannot be split back exactly;
 * Berth's own labels (kind, ids) never contain one, and the ps filter already matched them.
 */
function parseLabels(raw: RawPs['Labels']): Record<string, string> {
  if (!raw) return {};
  if (typeof raw !== 'string') return { ...raw };
  const out: Record<string, string> = {};
  for (const pair of raw.split(',')) {
    const eq = pair.indexOf('=');
    if (eq > 0) out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

/** The id `create` prints: the last non-empty stdout line (pull progress may precede it). */
export function parseCreatedId(stdout: string): string | null {
  const lines = stdout.split('\n').map((l) => l.trim()).filter(Boolean);
  const last = lines[lines.length - 1];
  return last && /^[0-9a-f]{12,64}$/.test(last) ? last : null;
}

/**
 * The part of engine stderr worth showing: `Error…` lines when there are some (podman prefixes
 * retries and warnings with `time=… level=warning`), else the whole text; trimmed and bounded.
 */
export function engineMessage(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter(Boolean);
  const errors = lines.filter((l) => /^error/i.test(l));
  const text = (errors.length ? errors : lines).join('\n');
  return text.length > 2000 ? `…${text.slice(-2000)}` : text;
}

/** argv for `<bin> volume rm` (no `-f`: podman's would remove the containers using the volume). */
export function volumeRmArgs(name: string): string[] {
  return ['volume', 'rm', '--', name];
}

/** Recognizes the engine's way of saying a volume does not exist, or is still used by a container. */
export function classifyVolumeError(stderr: string): 'not-found' | 'in-use' | null {
  if (/no such volume|no volume with name/i.test(stderr)) return 'not-found';
  if (/volume is (being )?used|volume is in use|being used by/i.test(stderr)) return 'in-use';
  return null;
}

/**
 * argv for `<bin> network create`. `options` are the engine's driver options (podman's
 * `--opt isolate=true`); they come before the labels and the name.
 */
export function networkCreateArgs(name: string, labels: Record<string, string>, options: readonly string[] = []): string[] {
  const args = ['network', 'create', ...options];
  for (const [k, v] of Object.entries(labels)) args.push(`--label=${k}=${v}`);
  args.push('--', name);
  return args;
}

/** argv for `<bin> network rm` (no `-f`: podman's would remove the containers attached to it). */
export function networkRmArgs(name: string): string[] {
  return ['network', 'rm', '--', name];
}

/** argv for `<bin> network ls` filtered by every label; `format` as for `psArgs`. */
export function networkLsArgs(labels: Record<string, string>, format: string): string[] {
  const args = ['network', 'ls'];
  for (const [k, v] of Object.entries(labels)) args.push(`--filter=label=${k}=${v}`);
  args.push(`--format=${format}`);
  return args;
}

/** One row of `network ls` output: podman's JSON array (lowercase keys) or docker's JSON lines. */
interface RawNetwork {
  name?: string;
  Name?: string;
  labels?: Record<string, string> | null;
  Labels?: Record<string, string> | string | null;
}

/**
 * `network ls` output → summaries carrying ALL of `labels`. The engines filter already; matching
 * again here keeps "all labels" true whatever an engine version makes of repeated filters.
 */
export function parseNetworkLs(stdout: string, labels: Record<string, string> = {}): NetworkSummary[] {
  const text = stdout.trim();
  if (text === '') return [];
  const rows: RawNetwork[] = text.startsWith('[')
    ? (JSON.parse(text) as RawNetwork[])
    : text.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as RawNetwork);
  return rows
    .map((row) => ({ name: row.name ?? row.Name ?? '', labels: parseLabels(row.labels ?? row.Labels ?? null) }))
    .filter((n) => n.name !== '' && Object.entries(labels).every(([k, v]) => n.labels[k] === v));
}

/** Recognizes the engine's way of saying a network exists already, does not exist, or has containers attached. */
export function classifyNetworkError(stderr: string): 'exists' | 'not-found' | 'in-use' | null {
  // podman: "network name X already used: network already exists"; docker: "network with name X already exists".
  if (/already exists|already used/i.test(stderr)) return 'exists';
  // podman: "has associated containers with it … network is being used"; docker: "has active endpoints".
  if (/network is being used|associated containers|active endpoints/i.test(stderr)) return 'in-use';
  // podman: "unable to find network with name or ID X: network not found"; docker: "network X not found" / "No such network".
  if (/network not found|no such network|network \S+ not found/i.test(stderr)) return 'not-found';
  return null;
}

/** Recognizes the engine's way of saying a container does not exist, is not running, or its name is taken. */
export function classifyEngineError(stderr: string): 'not-found' | 'not-running' | 'name-taken' | null {
  if (/no such (container|object)|no container with name or id/i.test(stderr)) return 'not-found';
  if (/name .* is already in use/i.test(stderr)) return 'name-taken';
  if (/is not running|can only create exec sessions on running containers|container state improper/i.test(stderr)) {
    return 'not-running';
  }
  return null;
}

/** `<bin> info --format json` → the engine version (podman: version.Version; docker: ServerVersion). */
export function parseInfoVersion(stdout: string): string | null {
  try {
    const info = JSON.parse(stdout) as { version?: { Version?: string }; ServerVersion?: string };
    return info.version?.Version ?? info.ServerVersion ?? null;
  } catch {
    return null;
  }
}

/** argv for `<bin> network connect`: the workload joins `name` too, reachable there by `aliases`. */
export function networkConnectArgs(name: string, ref: string, aliases: readonly string[]): string[] {
  return ['network', 'connect', ...aliases.map((alias) => `--alias=${alias}`), '--', name, ref];
}

/** argv for `<bin> network disconnect` (no `-f`). */
export function networkDisconnectArgs(name: string, ref: string): string[] {
  return ['network', 'disconnect', '--', name, ref];
}

/** argv for `<bin> volume create` carrying `labels` (the name is checked by VOLUME_NAME_RE first). */
export function volumeCreateArgs(name: string, labels: Record<string, string>): string[] {
  return ['volume', 'create', ...Object.entries(labels).map(([k, v]) => `--label=${k}=${v}`), '--', name];
}
