/**
 * One driver for the podman and docker CLIs, which share their syntax. The engine-specific bits
 * (binary, CLI environment, `ps` JSON format, whether `exec -t` works over pipes) live in an
 * `EngineProfile`; `createPodmanRuntime` and `createDockerRuntime` are thin factories that build
 * one (engines.ts). Every call is `execFile(bin, argv)` or `spawn(bin, argv)` — never a shell string.
 */
import { execFile, spawn } from 'node:child_process';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { promisify } from 'node:util';
import { BerthError } from '../../errors.js';
import { imageRefProblem } from '../../domain/image-ref.js';
import { argvRefusal, commandProblem, envProblem, hostPathProblem, labelsProblem, refProblem, specProblem } from './argv-guard.js';
import { mergeStampedLogs } from './log-merge.js';
import { listEngineVolumes } from './oci-volumes.js';
import { ptySession, TERM_NAME } from '../pty.js'
import { ociStats } from './oci-stats.js';
import {
  LABEL_ID,
  LABEL_KIND,
  type ExecResult,
  type ExecSession,
  type Runtime,
  type RuntimeContext,
  type RuntimeName,
  type WorkloadStatus,
  NETWORK_NAME_RE,
  networkProblem,
  VOLUME_NAME_RE,
} from '../runtime.js';
import {
  buildArgs,
  classifyEngineError,
  classifyNetworkError,
  classifyVolumeError,
  createArgs,
  engineMessage,
  execArgs,
  logsArgs,
  missingStatus,
  networkConnectArgs,
  networkCreateArgs,
  networkDisconnectArgs,
  networkLsArgs,
  networkRmArgs,
  parseNetworkLs,
  parseCreatedId,
  parseInfoVersion,
  parseInspect,
  parsePsOutput,
  psArgs,
  volumeCreateArgs,
  volumeRmArgs,
} from './oci-args.js';

const execFileAsync = promisify(execFile);

/** What differs between engines that speak the same CLI. */
export interface EngineProfile {
  name: Extract<RuntimeName, 'podman' | 'docker'>;
  bin: string;
  /** Resolves the CLI environment; may prepare files first (podman's containers.conf). */
  env: () => Promise<NodeJS.ProcessEnv>;
  /** `ps --format` / `network ls --format` value that yields JSON (array for podman, one object per line for docker). */
  psFormat: string;
  /** Driver options of `network create` that make a network isolated from the others `createNetwork` made. */
  networkCreateOptions: string[];
  /** Extra `rm -f` flags so removal kills at once instead of waiting out a stop timeout. */
  forceRemoveFlags: string[];
  /** `volume create` of an existing name fails with "already exists" (podman) rather than succeeding (docker). */
  volumeCreateRefusesExisting: boolean;
  /**
   * `logs` writes the container's stderr lines to the CLI's stderr (docker), so reading two pipes
   * loses their order: non-follow reads then ask for `--timestamps` and merge by them.
   */
  logsSplitStreams: boolean;
}

interface RunResult {
  stdout: string;
  stderr: string;
  /** Exit code, or null when the binary could not be started. */
  code: number | null;
  /** Spawn error code such as ENOENT. */
  spawnError: string | null;
}

/**
 * The driver over one engine's CLI; `createPodmanRuntime` / `createDockerRuntime` (engines.ts)
 * give it the engine's profile.
 */
export function createOciRuntime(ctx: RuntimeContext, engine: EngineProfile): Runtime {
  const log = ctx.log.child({ runtime: engine.name });
  const { bin } = engine;

  /** Runs `<bin> argv…` to completion; never throws for a non-zero exit (callers decide). */
  async function run(argv: string[], opts: { timeoutMs?: number } = {}): Promise<RunResult> {
    // Last wall: node refuses a NUL in argv with a TypeError that would read as "podman not found".
    if (argv.some((a) => a.includes('\0'))) throw refused(argv[0] ?? '', 'an argument contains a NUL character');
    const env = await engine.env();
    try {
      const { stdout, stderr } = await execFileAsync(bin, argv, {
        env,
        maxBuffer: 64 * 1024 * 1024,
        timeout: opts.timeoutMs ?? 0,
      });
      return { stdout, stderr, code: 0, spawnError: null };
    } catch (err) {
      const e = err as NodeJS.ErrnoException & { stdout?: string; stderr?: string; code?: number | string };
      if (typeof e.code === 'string') {
        return { stdout: '', stderr: e.message, code: null, spawnError: e.code };
      }
      return { stdout: e.stdout ?? '', stderr: e.stderr ?? '', code: typeof e.code === 'number' ? e.code : 1, spawnError: null };
    }
  }

  /** The error for a failed verb: not-found / not-running get their own codes, the rest is E_RUNTIME. */
  function failure(verb: string, res: RunResult): BerthError {
    const words = res.spawnError ? `${bin} not found (${res.spawnError})` : engineMessage(res.stderr) || `exit ${res.code}`;
    const message = `${bin} ${verb} failed: ${words}`;
    switch (classifyEngineError(res.stderr)) {
      case 'not-found':
        return new BerthError('E_NOT_FOUND', message);
      case 'not-running':
        return new BerthError('E_INVALID_STATE', message);
      case 'name-taken':
        return new BerthError('E_NAME_TAKEN', message);
      default:
        return new BerthError('E_RUNTIME', message);
    }
  }

  const refused = (verb: string, problem: string): BerthError => argvRefusal(bin, verb, problem);
  const check = (verb: string, problem: string | null): void => {
    if (problem) throw refused(verb, problem);
  };
  // A name the engines would take for an option or a path is refused before any call.
  const checkNetworkName = (name: string): void => check('network', NETWORK_NAME_RE.test(name) ? null : `invalid network name ${JSON.stringify(name)}`);

  async function must(verb: string, argv: string[]): Promise<RunResult> {
    const res = await run(argv);
    if (res.code !== 0) throw failure(verb, res);
    return res;
  }

  async function inspect(ref: string): Promise<WorkloadStatus> {
    check('inspect', refProblem(ref));
    const res = await run(['inspect', '--type=container', '--', ref]);
    if (res.code === 0) return parseInspect(res.stdout);
    if (classifyEngineError(res.stderr) === 'not-found') return missingStatus();
    throw failure('inspect', res);
  }

  /**
   * Creates volume `name` with the workload's `labels` unless it exists (kept as it
   * is); resolves true when this call made it, so a create that fails next can remove it again.
   */
  async function createVolume(name: string, labels: Record<string, string>): Promise<boolean> {
    // docker's create succeeds on an existing volume, so only a look first tells "made" from
    // "was there"; podman's refuses, which saves a call on every workspace create (bench/create-to-running.ts).
    if (!engine.volumeCreateRefusesExisting && (await run(['volume', 'inspect', '--', name])).code === 0) return false;
    // All the workload's labels (kind, id, installation, owner…): a volume kept after its
    // workload is gone still says whose it was (listVolumes).
    const res = await run(volumeCreateArgs(name, labels));
    if (res.code === 0) return true;
    // Made by someone else in between (podman says so; docker's create is idempotent).
    if (/already exists/i.test(res.stderr)) return false;
    throw failure(`volume create ${name}`, res);
  }

  /** exec and logs need an existing (and, for exec, running) container; say so with a stable code. */
  async function requireState(ref: string, verb: string, running: boolean): Promise<void> {
    const st = await inspect(ref);
    if (st.state === 'missing') throw new BerthError('E_NOT_FOUND', `${bin} ${verb} failed: no such container ${ref}`);
    if (running && st.state !== 'running') {
      throw new BerthError('E_INVALID_STATE', `${bin} ${verb} failed: container ${ref} is ${st.state}, not running`);
    }
  }

  async function spawnEngine(argv: string[]) {
    return spawn(bin, argv, { env: await engine.env(), stdio: ['pipe', 'pipe', 'pipe'] });
  }

  const runtime: Runtime = {
    name: engine.name,
    capabilities: { isolation: true, images: true, build: true, volumes: true, resources: true, portMapping: true, networks: true },

    async probe() {
      const res = await run(['info', '--format', 'json'], { timeoutMs: 30_000 });
      if (res.code !== 0) {
        const words = res.spawnError ? `${bin} not found (${res.spawnError})` : engineMessage(res.stderr) || `exit ${res.code}`;
        throw new BerthError('E_RUNTIME_UNAVAILABLE', words, {
          hint: `check that \`${bin} info\` works for the daemon's user, or choose another runtime (BERTH_RUNTIME)`,
        });
      }
      const version = parseInfoVersion(res.stdout);
      return version ? `${engine.name} ${version}` : engine.name;
    },

    async create(spec) {
      if (!spec.labels[LABEL_KIND] || !spec.labels[LABEL_ID]) {
        throw new BerthError('E_BAD_REQUEST', `workload ${spec.name} must carry labels ${LABEL_KIND} and ${LABEL_ID}`);
      }
      check('create', specProblem(spec));
      // Volumes are made here, labelled like their workload (kind, id, installation), rather than
      // by `-v` on first use, which cannot label them. One that exists is kept as it is.
      const madeVolumes: string[] = [];
      for (const v of spec.volumes ?? []) if (await createVolume(v.name, spec.labels)) madeVolumes.push(v.name);
      // A failed create (bad image, name taken) leaves nothing behind in either engine, and
      // removing by name here could delete the workload that already holds the name. The volumes
      // this call made go again.
      const res = await run(createArgs(spec));
      if (res.code !== 0) {
        for (const v of madeVolumes) await run(volumeRmArgs(v));
        throw failure('create', res);
      }
      const id = parseCreatedId(res.stdout);
      if (!id) throw new BerthError('E_RUNTIME', `${bin} create printed no container id: ${res.stdout.trim()}`);
      log.debug({ name: spec.name, id }, 'created');
      return id;
    },

    async start(ref) {
      check('start', refProblem(ref));
      await must('start', ['start', '--', ref]);
    },

    async stop(ref, opts = {}) {
      check('stop', refProblem(ref));
      const res = await run(['stop', '-t', String(Math.max(0, Math.floor(opts.timeoutSeconds ?? 10))), '--', ref]);
      // Stopping something that is gone is a no-op, like stopping something already stopped.
      if (res.code !== 0 && classifyEngineError(res.stderr) !== 'not-found') throw failure('stop', res);
    },

    async remove(ref) {
      check('rm', refProblem(ref));
      const res = await run(['rm', '-f', '-v', ...engine.forceRemoveFlags, '--', ref]);
      if (res.code !== 0 && classifyEngineError(res.stderr) !== 'not-found') throw failure('rm', res);
    },

    inspect,

    async logs(ref, opts = {}) {
      check('logs', refProblem(ref));
      await requireState(ref, 'logs', false);
      if (engine.logsSplitStreams && !opts.follow) {
        const res = await must('logs', logsArgs(ref, { ...opts, timestamps: true }));
        return Readable.from([mergeStampedLogs(res.stdout, res.stderr)]);
      }
      // Follow (and podman): lines are relayed as they come; docker's two streams may interleave
      // out of order by a few lines, which a live view tolerates.
      const child = await spawnEngine(logsArgs(ref, opts));
      child.stdin.end();
      // The container's stdout and stderr arrive on the CLI's stdout and stderr: merge them.
      const out = new PassThrough();
      child.stdout.pipe(out, { end: false });
      child.stderr.pipe(out, { end: false });
      child.on('close', () => out.end());
      child.on('error', (err) => out.destroy(err));
      out.on('close', () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      });
      return out as Readable;
    },

    async exec(ref, argv, opts = {}): Promise<ExecResult | ExecSession> {
      check('exec', refProblem(ref) ?? envProblem(opts.env ?? {}) ?? commandProblem(argv));
      await requireState(ref, 'exec', true);
      if (!opts.tty) {
        const res = await run(execArgs(ref, argv, { env: opts.env }));
        if (res.spawnError) throw failure('exec', res);
        return { kind: 'result', exitCode: res.code ?? 1, stdout: res.stdout, stderr: res.stderr };
      }
      // The CLI on a host PTY: it sizes the container's terminal from its own, now and on every
      // SIGWINCH, through the engine's resize API (see runtime/pty.ts for why not pipes).
      const args = execArgs(ref, argv, { tty: true, env: { TERM: TERM_NAME, ...opts.env } });
      return ptySession(bin, args, { env: await engine.env(), cols: opts.cols, rows: opts.rows });
    },

    async list(labels) {
      check('ps', labelsProblem(labels));
      const res = await must('ps', psArgs(labels, engine.psFormat));
      return parsePsOutput(res.stdout);
    },

    async stats(refs, opts = {}) {
      for (const ref of refs) check('stats', refProblem(ref));
      return ociStats(engine.name, run, refs, opts);
    },

    async build(contextDir, containerfile, tag) {
      const file = path.resolve(contextDir, containerfile);
      check('build', hostPathProblem('build context', contextDir) ?? hostPathProblem('Containerfile', file) ?? imageRefProblem(tag));
      const res = await run(buildArgs(contextDir, file, tag));
      if (res.code !== 0) {
        // Build errors sit at the end of a long transcript; keep the tail.
        const tail = `${res.stdout}\n${res.stderr}`.trim().split('\n').slice(-20).join('\n');
        throw new BerthError('E_RUNTIME', `${bin} build failed: ${tail}`);
      }
      return `${res.stdout}${res.stderr}`;
    },

    async removeVolume(name) {
      if (!VOLUME_NAME_RE.test(name)) throw refused('volume rm', `invalid volume name ${JSON.stringify(name)}`);
      const res = await run(volumeRmArgs(name));
      if (res.code === 0) return;
      const kind = classifyVolumeError(res.stderr);
      if (kind === 'not-found') return;
      if (kind === 'in-use') {
        throw new BerthError('E_INVALID_STATE', `${bin} volume rm ${name} failed: ${engineMessage(res.stderr)}`, {
          hint: 'remove the workload that mounts it first',
        });
      }
      throw failure(`volume rm ${name}`, res);
    },

    async listVolumes(labels) {
      check('volume ls', labelsProblem(labels));
      return listEngineVolumes(run, labels, failure);
    },

    async createNetwork(name, labels) {
      checkNetworkName(name);
      check('network create', labelsProblem(labels));
      const res = await run(networkCreateArgs(name, labels, engine.networkCreateOptions));
      if (res.code === 0) {
        log.debug({ network: name }, 'network created');
        return true;
      }
      if (classifyNetworkError(res.stderr) === 'exists') return false;
      throw failure(`network create ${name}`, res);
    },

    async removeNetwork(name) {
      checkNetworkName(name);
      const res = await run(networkRmArgs(name));
      if (res.code === 0) return;
      const kind = classifyNetworkError(res.stderr);
      if (kind === 'not-found') return;
      if (kind === 'in-use') {
        throw new BerthError('E_INVALID_STATE', `${bin} network rm ${name} failed: ${engineMessage(res.stderr)}`, {
          hint: 'remove the workloads attached to it first',
        });
      }
      throw failure(`network rm ${name}`, res);
    },

    async connectNetwork(name, ref, aliases) {
      checkNetworkName(name);
      check('network connect', refProblem(ref) ?? networkProblem({ name, aliases }));
      const res = await run(networkConnectArgs(name, ref, aliases));
      if (res.code === 0) return;
      // Already attached: docker says "endpoint with name … already exists", podman (running
      // container) "… is already connected to network …".
      if (classifyNetworkError(res.stderr) === 'exists' || /already connected/i.test(res.stderr)) return;
      if (classifyNetworkError(res.stderr) === 'not-found') throw new BerthError('E_NOT_FOUND', `${bin} network connect ${name} failed: ${engineMessage(res.stderr)}`);
      throw failure(`network connect ${name}`, res);
    },

    async disconnectNetwork(name, ref) {
      checkNetworkName(name);
      check('network disconnect', refProblem(ref));
      const res = await run(networkDisconnectArgs(name, ref));
      if (res.code === 0) return;
      if (/is not connected to (the )?network/i.test(res.stderr)) return;
      const kind = classifyNetworkError(res.stderr);
      if (kind === 'not-found' || classifyEngineError(res.stderr) === 'not-found') return;
      throw failure(`network disconnect ${name}`, res);
    },

    async listNetworks(labels) {
      check('network ls', labelsProblem(labels));
      const res = await must('network ls', networkLsArgs(labels, engine.psFormat));
      return parseNetworkLs(res.stdout, labels);
    },

    async removeImage(tag) {
      // No --force: that would also remove containers using the image, and two tags of one
      // build may share an image id. With another tag left, rmi only untags. Missing is fine.
      check('rmi', imageRefProblem(tag));
      const res = await run(['rmi', '--', tag]);
      if (res.code !== 0 && !/image not known|No such image|not found/i.test(res.stderr)) {
        throw new BerthError('E_RUNTIME', `${bin} rmi ${tag} failed: ${res.stderr.trim()}`);
      }
    },
  };
  return runtime;
}
