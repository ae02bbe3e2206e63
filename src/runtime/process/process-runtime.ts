/**
 * The process runtime: runs workloads as plain host processes, for trying Berth anywhere. There is
 * no isolation, no images and no port remapping (the workload listens on its host port itself).
 *
 * Each workload is a directory `<dataDir>/process/<name>/` holding `spec.json` (written by
 * `create`), `state.json` and `output.log` (written by the supervisor, see supervisor.ts). The
 * directory is the workload: `list` scans directories, `remove` deletes one, and a restarted daemon
 * finds running workloads again because supervisors run detached in their own session.
 *
 * Volumes: a process cannot be given a mount, so a named volume is the directory
 * `<dataDir>/volumes/<name>/` (made by `create` with its labels, kept by `remove`, deleted by
 * `removeVolume`, listed by `listVolumes`; volumes.ts), and env values and command arguments naming
 * the volume's target path are rewritten to it (see `WorkloadSpec.volumes`).
 */
import { spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { constants } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { BerthError } from '../../errors.js';
import {
  LABEL_ID,
  LABEL_KIND,
  type ExecResult,
  type ExecSession,
  type Runtime,
  type RuntimeFactory,
  type WorkloadSpec,
  type WorkloadStatus,
  type WorkloadSummary,
  VOLUME_NAME_RE,
  volumeProblem,
} from '../runtime.js';
import { processStats } from './proc-stats.js';
import { SUPERVISOR_SOURCE } from './supervisor.js';
import { processVolumes, substituteVolumes } from './volumes.js';
import { readLog } from './log-reader.js';
import { commandOnPty } from '../pty.js';

/** Options of the process driver. */
export interface ProcessRuntimeOptions {
  /** Host variables every workload gets besides its spec env (default: the daemon's PATH and HOME). */
  hostEnv?: Record<string, string>;
  /** Node binary that runs supervisors (default: the daemon's own). */
  nodeBin?: string;
}

/** What `create` stores; the supervisor reads the same file. */
interface StoredSpec {
  name: string;
  labels: Record<string, string>;
  command?: string[];
  /** Full environment of the workload (host PATH/HOME + spec env). */
  env: Record<string, string>;
  ports: WorkloadSpec['ports'];
  /** Directory the command runs in (default: the workload directory). */
  workdir?: string;
  /** Named volumes as given; their directories are `<dataDir>/volumes/<name>`. */
  volumes?: { name: string; target: string }[];
}

/** What the supervisor records (see supervisor.ts). */
interface SupervisorState {
  runId: string;
  supervisorPid: number;
  supervisorStart: string | null;
  pid: number | null;
  startedAt: string;
  finishedAt: string | null;
  exitCode: number | null;
}

/** A name doubles as a directory name: no separators, no dot-dirs, nothing to escape. */
const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/;
const UPSTREAM_HOST = '127.0.0.1';
const POLL_MS = 50;

/** Process driver: host processes under detached supervisors; see the module comment. */
export const createProcessRuntime: RuntimeFactory<ProcessRuntimeOptions> = (ctx, opts) => {
  const log = ctx.log.child({ runtime: 'process' });
  log.warn('process runtime: no isolation — workloads run as host processes with the daemon user\'s rights');
  const root = path.join(path.resolve(ctx.dataDir), 'process');
  const vols = processVolumes(ctx.dataDir);
  const nodeBin = opts.nodeBin ?? process.execPath;
  const hostEnv: Record<string, string> = opts.hostEnv ?? pickDefined({ PATH: process.env.PATH, HOME: process.env.HOME });
  // Content-addressed, so an upgrade never rewrites the file a running supervisor was started from.
  const supervisorFile = path.join(root, `.supervisor-${createHash('sha256').update(SUPERVISOR_SOURCE).digest('hex').slice(0, 12)}.mjs`);
  let supervisorReady: Promise<void> | undefined;

  const dirOf = (ref: string): string | null => (NAME_RE.test(ref) ? path.join(root, ref) : null);

  function ensureSupervisor(): Promise<void> {
    return (supervisorReady ??= (async () => {
      await mkdir(root, { recursive: true });
      const tmp = `${supervisorFile}.${process.pid}.tmp`;
      await writeFile(tmp, SUPERVISOR_SOURCE);
      await rename(tmp, supervisorFile);
    })());
  }

  /** Everything known about a workload; `spec` null means it does not exist. */
  async function load(ref: string): Promise<{ dir: string; spec: StoredSpec | null; state: SupervisorState | null; running: boolean }> {
    const dir = dirOf(ref);
    if (!dir) return { dir: '', spec: null, state: null, running: false };
    const spec = await readJson<StoredSpec>(path.join(dir, 'spec.json'));
    const state = spec ? await readJson<SupervisorState>(path.join(dir, 'state.json')) : null;
    const running = !!state && state.finishedAt === null && (await supervisorAlive(state));
    return { dir, spec, state, running };
  }

  function toStatus(w: Awaited<ReturnType<typeof load>>): WorkloadStatus {
    const base = { upstreamHost: UPSTREAM_HOST, startedAt: w.state?.startedAt ?? null };
    if (!w.spec) return { ...base, state: 'missing', exitCode: null, finishedAt: null };
    if (!w.state) return { ...base, state: 'created', exitCode: null, finishedAt: null };
    if (w.running) return { ...base, state: 'running', exitCode: null, finishedAt: null };
    // A supervisor that vanished without recording (SIGKILL, reboot) leaves exitCode null.
    return { ...base, state: 'exited', exitCode: w.state.exitCode, finishedAt: w.state.finishedAt };
  }

  async function mustExist(ref: string, verb: string) {
    const w = await load(ref);
    if (!w.spec) throw new BerthError('E_NOT_FOUND', `process ${verb} failed: no workload ${ref}`);
    return w as typeof w & { spec: StoredSpec };
  }

  async function waitUntilDead(state: SupervisorState, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      if (!(await supervisorAlive(state))) return true;
      await sleep(POLL_MS);
    }
    return !(await supervisorAlive(state));
  }

  const runtime: Runtime = {
    name: 'process',
    // No networks: processes share the host's loopback, so spec.network is ignored.
    capabilities: { isolation: false, images: false, build: false, volumes: false, resources: false, portMapping: false, networks: false },

    async probe() {
      await ensureSupervisor();
      return 'process (no isolation)';
    },

    async create(spec) {
      if (!spec.labels[LABEL_KIND] || !spec.labels[LABEL_ID]) {
        throw new BerthError('E_BAD_REQUEST', `workload ${spec.name} must carry labels ${LABEL_KIND} and ${LABEL_ID}`);
      }
      const dir = dirOf(spec.name);
      if (!dir) throw new BerthError('E_BAD_REQUEST', `process runtime: invalid workload name ${JSON.stringify(spec.name)}`);
      const badVolume = volumeProblem(spec.volumes ?? []);
      if (badVolume) throw new BerthError('E_BAD_REQUEST', `process create failed: ${badVolume}`);
      const remapped = spec.ports.find((p) => p.containerPort !== p.hostPort);
      if (remapped) {
        throw new BerthError('E_BAD_REQUEST', `process runtime cannot remap ports (${remapped.containerPort} → ${remapped.hostPort}); pass containerPort === hostPort`);
      }
      await mkdir(root, { recursive: true });
      try {
        await mkdir(dir);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
          throw new BerthError('E_NAME_TAKEN', `process create failed: the name "${spec.name}" is already in use`);
        }
        throw new BerthError('E_RUNTIME', `process create failed: ${(err as Error).message}`, { cause: err });
      }
      const volumes = spec.volumes ?? [];
      for (const v of volumes) await vols.ensure(v.name, spec.labels);
      const onHost = (value: string): string => substituteVolumes(value, volumes, vols.dir);
      const stored: StoredSpec = {
        name: spec.name,
        labels: { ...spec.labels },
        ...(spec.command ? { command: spec.command.map(onHost) } : {}),
        env: { ...hostEnv, ...Object.fromEntries(Object.entries(spec.env).map(([k, v]) => [k, onHost(v)])) },
        ports: spec.ports,
        ...(spec.workdir ? { workdir: path.resolve(spec.workdir) } : {}),
        ...(volumes.length ? { volumes: volumes.map((v) => ({ ...v })) } : {}),
      };
      // The env may hold secrets: owner-only.
      await writeFile(path.join(dir, 'spec.json'), JSON.stringify(stored, null, 2), { mode: 0o600 });
      await writeFile(path.join(dir, 'output.log'), '', { flag: 'a', mode: 0o600 });
      return spec.name;
    },

    async start(ref) {
      const w = await mustExist(ref, 'start');
      if (w.running) return;
      await ensureSupervisor();
      const runId = randomUUID();
      const child = spawn(nodeBin, [supervisorFile, w.dir, runId], { cwd: w.dir, env: hostEnv, detached: true, stdio: 'ignore' });
      let early: string | null = null;
      child.on('error', (err) => (early = err.message));
      child.on('exit', (code, signal) => (early ??= `supervisor exited (${code ?? signal}) before recording its start`));
      child.unref();
      // Wait for the supervisor's first state write so inspect() right after start says running.
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline) {
        const state = await readJson<SupervisorState>(path.join(w.dir, 'state.json'));
        if (state?.runId === runId) return;
        if (early) break;
        await sleep(20);
      }
      const tail = (await readFile(path.join(w.dir, 'output.log'), 'utf8').catch(() => '')).split('\n').slice(-10).join('\n');
      throw new BerthError('E_RUNTIME', `process start failed: ${early ?? 'supervisor did not start within 10 s'}${tail.trim() ? `\n${tail.trim()}` : ''}`);
    },

    async stop(ref, opts = {}) {
      const w = await load(ref);
      if (!w.running || !w.state) return;
      const state = w.state;
      signalGroup(state.supervisorPid, 'SIGTERM');
      if (await waitUntilDead(state, (opts.timeoutSeconds ?? 10) * 1000)) return;
      log.warn({ ref }, 'workload ignored SIGTERM; killing its process group');
      signalGroup(state.supervisorPid, 'SIGKILL');
      await waitUntilDead(state, 5000);
      // The supervisor died with its group and could not record the end: record it for it.
      const latest = await readJson<SupervisorState>(path.join(w.dir, 'state.json'));
      if (latest && latest.runId === state.runId && latest.finishedAt === null) {
        await writeJsonAtomic(path.join(w.dir, 'state.json'), {
          ...latest,
          finishedAt: new Date().toISOString(),
          exitCode: 128 + constants.signals.SIGKILL,
        });
      }
    },

    async remove(ref) {
      const w = await load(ref);
      if (!w.dir) return;
      if (w.running && w.state) {
        // No grace period (the contract's `rm -f`); the directory goes, so nothing is recorded.
        signalGroup(w.state.supervisorPid, 'SIGKILL');
        await waitUntilDead(w.state, 5000);
      }
      await rm(w.dir, { recursive: true, force: true });
    },

    async inspect(ref) {
      return toStatus(await load(ref));
    },

    async logs(ref, opts = {}) {
      const w = await mustExist(ref, 'logs');
      const file = path.join(w.dir, 'output.log');
      const isRunning = async () => (await load(ref)).running;
      return Readable.from(readLog(file, opts.tail, opts.follow ? isRunning : null), { objectMode: false });
    },

    async exec(ref, argv, opts = {}): Promise<ExecResult | ExecSession> {
      const w = await mustExist(ref, 'exec');
      if (!w.running) throw new BerthError('E_INVALID_STATE', `process exec failed: workload ${ref} is not running`);
      const [file, ...args] = argv;
      if (!file) throw new BerthError('E_BAD_REQUEST', 'process exec failed: empty argv');
      const env = { ...w.spec.env, ...opts.env };
      // No engine here: the command itself runs on a host PTY (a resize is a plain TIOCSWINSZ).
      if (opts.tty) return commandOnPty(file, args, { cwd: w.dir, env, cols: opts.cols, rows: opts.rows });
      const child = spawn(file, args, { cwd: w.dir, env, stdio: ['pipe', 'pipe', 'pipe'] });
      let spawnError = '';
      // Exit code like a shell's (and podman's): 127 when the program does not exist.
      const exited = new Promise<number>((resolve) => {
        child.on('error', (err: NodeJS.ErrnoException) => {
          spawnError = `${file}: ${err.message}\n`;
          resolve(err.code === 'ENOENT' ? 127 : 126);
        });
        child.on('close', (code, signal) => resolve(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0)));
      });
      child.stdin.end();
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const exitCode = await exited;
      return { kind: 'result', exitCode, stdout, stderr: stderr + spawnError };
    },

    async list(labels) {
      const out: WorkloadSummary[] = [];
      for (const w of await loadAll()) {
        const spec = w.spec;
        if (!Object.entries(labels).every(([k, v]) => spec.labels[k] === v)) continue;
        out.push({ ref: path.basename(w.dir), name: spec.name, labels: spec.labels, state: toStatus(w).state });
      }
      return out;
    },

    async stats(refs, opts = {}) {
      const loaded = await Promise.all(refs.map(async (ref) => ({ ref, w: await load(ref) })));
      return processStats(
        loaded.flatMap(({ ref, w }) => (w.spec ? [{ ref, dir: w.dir, supervisorPid: w.running && w.state ? w.state.supervisorPid : null }] : [])),
        opts,
      );
    },

    async removeVolume(name) {
      if (!VOLUME_NAME_RE.test(name)) throw new BerthError('E_BAD_REQUEST', `invalid volume name ${JSON.stringify(name)}`);
      const user = (await loadAll()).find((w) => w.spec.volumes?.some((v) => v.name === name));
      if (user) {
        throw new BerthError('E_INVALID_STATE', `process volume rm ${name} failed: workload ${user.spec.name} uses it`, {
          hint: 'remove the workload that uses it first',
        });
      }
      await vols.remove(name);
    },
    listVolumes: (labels) => vols.list(labels),
  };

  /** Every existing workload (a directory with a spec). */
  async function loadAll(): Promise<(Awaited<ReturnType<typeof load>> & { spec: StoredSpec })[]> {
    let names: string[];
    try {
      names = await readdir(root);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const out: (Awaited<ReturnType<typeof load>> & { spec: StoredSpec })[] = [];
    for (const name of names) {
      const w = await load(name);
      if (w.spec) out.push(w as typeof w & { spec: StoredSpec });
    }
    return out;
  }
  return runtime;
};

/**
 * Whether the supervisor recorded in `state` still runs. The pid alone could have been reused by
 * an unrelated process after a reboot, so on Linux its start time must match too; a zombie
 * (exited, not yet reaped by the daemon) counts as dead.
 */
async function supervisorAlive(state: SupervisorState): Promise<boolean> {
  let stat: string;
  try {
    stat = await readFile(`/proc/${state.supervisorPid}/stat`, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    // No procfs (macOS, BSD): the pid check is all there is.
    try {
      process.kill(state.supervisorPid, 0);
      return true;
    } catch {
      return false;
    }
  }
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (fields[0] === 'Z' || fields[0] === 'X') return false;
  return state.supervisorStart === null || fields[19] === state.supervisorStart;
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

async function readJson<T>(file: string): Promise<T | null> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw new BerthError('E_RUNTIME', `process runtime: unreadable ${file}: ${(err as Error).message}`, { cause: err });
  }
}

async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(value, null, 2));
  await rename(tmp, file);
}

function pickDefined(vars: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(vars)) if (v !== undefined) out[k] = v;
  return out;
}
