import { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';
import type { BerthConfig } from '../config/schema.js';
import { BerthError, isBerthError } from '../errors.js';
import { newId } from '../domain/ids.js';
import { checkWorkspaceName, type HostingInfo, type RestartPolicy, type Visibility, type Workspace } from '../domain/workspace.js';
import type { Logger } from '../log.js';
import { type ExecOptions, type ExecResult, type ExecSession, type Runtime } from '../runtime/runtime.js';
import type { WorkspacesRepo } from '../store/workspaces-repo.js';
import { isAdmin, type Principal } from './auth.js';
import type { LlmTokens } from './llm-tokens.js';
import { dropNetwork, ownNetwork, workspaceNetworkName } from '../runtime/networks.js';
import { llmUrlOf, workloadSpec } from './workspace-spec.js';
import { dataFor, dropDataVolume } from './workspace-data.js';
import { checkRecreatable, noWorkloadError, recreateWorkload, type RecreateOptions, type RecreateProgress } from './workspace-recreate.js';
import { VolumeService } from './volumes.js';
import { createPortOptions, resolvePortChanges, type PortSpec } from './workspace-ports.js';
import { checkLimits } from './workspace-limits.js';
import { WorkspaceUsageSampler } from './workspace-usage.js';

export interface CreateWorkspaceInput {
  name: string;
  image?: string | undefined;
  command?: string[] | undefined;
  env?: Record<string, string> | undefined;
  visibility?: Visibility | undefined;
  restart?: RestartPolicy | undefined;
  /** Where the data volume is mounted (default BERTH_WORKSPACE_DATA_PATH); null: no data volume. */
  dataPath?: string | null | undefined;
  /** Mount this kept volume (`ws rm --keep-data`) instead of a new one. */
  dataVolume?: string | undefined;
  /** Per-port prefix mode and label (see workspace-ports.ts); unnamed ports strip. */
  ports?: readonly PortSpec[] | undefined;
  /** CPU limit in CPUs (1.5 = one and a half); checked by workspace-limits.ts. */
  cpus?: number | undefined;
  /** Memory limit in megabytes. */
  memoryMb?: number | undefined;
  /** Stop after this long without activity; null: never; absent: the server default (BERTH_WORKSPACE_IDLE_STOP). */
  idleStopMs?: number | null | undefined;
}

export interface WorkspaceServiceDeps {
  config: BerthConfig;
  log: Logger;
  repo: WorkspacesRepo;
  runtime: Runtime;
  /** Host path of the `berth-url` helper, mounted into containers. */
  berthUrlHelper: string;
  /** Per-workspace `/llm/` credentials (issued at create when BERTH_LLM_BASE_URL is set). */
  llmTokens: LlmTokens;
  /** This installation's id (store/instance-id.ts): part of engine-visible names. */
  installation?: string | undefined;
}

/** Who asks for a workload to run or for a shell in it (absent: Berth itself, e.g. a restart policy). */
export type Actor = Pick<Principal, 'role' | 'scopes'>;

export { workloadName } from './workspace-spec.js';

/**
 * Orchestrates workspace lifecycles: store rows + port allocations + runtime workloads.
 * Emits `changed` after every state change so the edge can rebuild its route table.
 *
 * Failure rule: a create that fails at any step removes what it made (workload, row, ports) and
 * throws; a stop/start/remove that fails leaves the record as it was, so it can be retried.
 */
export class WorkspaceService extends EventEmitter<{ changed: [] }> {
  /** Ids with a lifecycle operation in flight; the reconciler leaves them alone. */
  private readonly inFlight = new Set<string>();
  /** This installation's volumes (`berth volume ls|rm`), workspace data volumes among them. */
  readonly volumes: VolumeService;
  /** CPU, memory and disk of running workspaces, cached briefly (see workspace-usage.ts). */
  readonly usage: WorkspaceUsageSampler;

  constructor(private readonly deps: WorkspaceServiceDeps) {
    super();
    this.volumes = new VolumeService({ runtime: deps.runtime, repo: deps.repo });
    this.usage = new WorkspaceUsageSampler(deps.runtime, {
      onError: (err) => deps.log.warn({ err }, 'workspace usage could not be measured; usage is left out of answers'),
    });
  }

  busyIds(): ReadonlySet<string> {
    return this.inFlight;
  }

  private async track<T>(id: string, op: () => Promise<T>): Promise<T> {
    this.inFlight.add(id);
    try {
      return await op();
    } finally {
      this.inFlight.delete(id);
    }
  }

  list(): Workspace[] {
    return this.deps.repo.list();
  }

  /** Number of host ports currently allocated. */
  portsInUse(): number {
    return this.deps.repo.portsInUse();
  }

  get(idOrName: string): Workspace {
    const ws = this.deps.repo.find(idOrName);
    if (!ws) {
      throw new BerthError('E_NOT_FOUND', `workspace "${idOrName}" not found`, {
        hint: 'list workspaces with `berth ws ls`',
      });
    }
    return ws;
  }

  /**
   * Whether `by` may run code on this runtime. A runtime without isolation (`process`) runs every
   * workload as Berth's own user — root when Berth runs as root — able to read the data directory,
   * its token and every secret in the store: that is an admin's power, so members get it only when
   * the admin opted in (BERTH_PROCESS_RUNTIME_MEMBERS=allow).
   */
  mayRun(by: Actor): boolean {
    return this.deps.runtime.capabilities.isolation || isAdmin(by) || this.deps.config.processRuntimeMembers === 'allow';
  }

  /** Throws E_FORBIDDEN (with what to do) when `by` may not run code here; see mayRun. */
  checkMayRun(by: Actor | undefined): void {
    if (!by || this.mayRun(by)) return;
    const name = this.deps.runtime.name;
    throw new BerthError('E_FORBIDDEN', `the ${name} runtime does not isolate workloads from the host: only admins (and admins' tokens with the admin scope) may run workloads on it`, {
      hint: "ask an admin to run Berth on podman or docker (BERTH_RUNTIME), or to set BERTH_PROCESS_RUNTIME_MEMBERS=allow (members' workloads then run as Berth's own user)",
    });
  }

  /**
   * Creates and starts a workspace; resolves when it is running. `by`: who asks (see mayRun);
   * absent for Berth's own calls.
   */
  async create(input: CreateWorkspaceInput, hosting: HostingInfo, ownerId: string | null = null, by?: Actor): Promise<Workspace> {
    const { config, repo, runtime } = this.deps;
    this.checkMayRun(by);
    const nameProblem = checkWorkspaceName(input.name);
    if (nameProblem) throw new BerthError('E_INVALID_NAME', nameProblem, { hint: 'a name like my-app: lowercase letters, digits and dashes, at most 40' });
    const limits = checkLimits(input, runtime);
    const portMapping = runtime.capabilities.portMapping;
    // Resolved before allocation: an unknown port refuses the create with nothing made.
    const portOptions = createPortOptions(input.ports ?? [], { count: config.portsPerWorkspace, containerPortBase: portMapping ? config.containerPortBase : null });
    const id = newId();
    // A kept volume is mounted again only by someone who may see it, and never by two records.
    const reused = input.dataVolume !== undefined ? await this.volumes.claim(input.dataVolume, by ? { ...by, userId: ownerId ?? '' } : null) : null;
    const data = dataFor(id, input, this.deps, reused);
    const ws = repo.insertWithPorts(
      {
        id,
        name: input.name,
        image: input.image ?? config.defaultImage,
        command: input.command && input.command.length > 0 ? input.command : null,
        env: input.env ?? {},
        hosting,
        ownerId,
        visibility: input.visibility ?? 'private',
        restartPolicy: input.restart ?? 'no',
        ...data,
        ...limits,
        idleStopMs: input.idleStopMs === undefined ? config.workspaceIdleStop : input.idleStopMs,
      },
      {
        rangeStart: config.portRangeStart,
        rangeEnd: config.portRangeEnd,
        count: config.portsPerWorkspace,
        containerPortFor: (i, hostPort) => (portMapping ? config.containerPortBase + i : hostPort),
        portOptions,
      },
    );
    const log = this.deps.log.child({ workspaceId: ws.id, name: ws.name });
    log.info({ ports: ws.ports }, 'workspace creating');
    this.emit('changed');

    this.inFlight.add(ws.id);
    let ref: string | null = null;
    try {
      // Issued inside the try: a failed create deletes the row, and the credential with it.
      const llmToken = config.llmBaseUrl ? this.deps.llmTokens.issue(ws.id) : undefined;
      const network = await ownNetwork(runtime, workspaceNetworkName(this.deps.installation, ws.id), { kind: 'workspace', id: ws.id });
      ref = await runtime.create(workloadSpec(ws, { config, berthUrlHelper: this.deps.berthUrlHelper, installation: this.deps.installation, network, llmToken }));
      repo.update(ws.id, { runtimeRef: ref });
      await runtime.start(ref);
      const status = await runtime.inspect(ref);
      const running = repo.update(ws.id, { state: 'running', upstreamHost: status.upstreamHost, reason: null });
      log.info('workspace running');
      this.emit('changed');
      return running;
    } catch (err) {
      log.warn({ err }, 'workspace create failed; cleaning up');
      if (ref) await runtime.remove(ref).catch((e: unknown) => log.error({ err: e }, 'cleanup: remove failed'));
      // The volume this create made goes too (an engine create that failed removed it already); a reused one stays.
      if (!reused) await dropDataVolume(runtime, ws, log);
      this.deps.llmTokens.revoke(ws.id);
      // Left behind if this fails: the reconciler sweeps networks no record claims.
      await dropNetwork(runtime, workspaceNetworkName(this.deps.installation, ws.id)).catch((e: unknown) => log.warn({ err: e }, 'cleanup: network remove failed'));
      repo.delete(ws.id);
      this.emit('changed');
      throw asRuntimeError(err, 'create');
    } finally {
      this.inFlight.delete(ws.id);
    }
  }

  /** Stops a workspace; `reason` is recorded as its reason (e.g. why the idle stopper stopped it). */
  async stop(idOrName: string, opts: { reason?: string } = {}): Promise<Workspace> {
    const ws = this.get(idOrName);
    const ref = ws.runtimeRef;
    if (!ref) throw noWorkloadError(ws);
    return this.track(ws.id, async () => {
      try {
        await this.deps.runtime.stop(ref);
      } catch (err) {
        throw asRuntimeError(err, 'stop');
      }
      const status = await this.deps.runtime.inspect(ref).catch(() => null);
      const stopped = this.deps.repo.update(ws.id, { state: 'stopped', exitCode: status?.exitCode ?? null, ...(opts.reason ? { reason: opts.reason } : {}) });
      this.emit('changed');
      return stopped;
    });
  }

  /** Starts a stopped workspace; `by` as for create. */
  async start(idOrName: string, by?: Actor): Promise<Workspace> {
    const ws = this.get(idOrName);
    this.checkMayRun(by);
    const ref = ws.runtimeRef;
    if (!ref) throw noWorkloadError(ws);
    return this.track(ws.id, async () => {
      try {
        await this.deps.runtime.start(ref);
        const status = await this.deps.runtime.inspect(ref);
        const running = this.deps.repo.update(ws.id, {
          state: 'running',
          reason: null,
          exitCode: null,
          upstreamHost: status.upstreamHost,
          // Started by hand: the policy's backoff starts over.
          restartCount: 0,
          nextRestartAt: null,
        });
        this.emit('changed');
        return running;
      } catch (err) {
        throw asRuntimeError(err, 'start');
      }
    });
  }

  /** Changes who may reach the workspace's hosted apps; the edge picks it up at once. */
  setVisibility(idOrName: string, visibility: Visibility): Workspace {
    const ws = this.deps.repo.update(this.get(idOrName).id, { visibility });
    this.emit('changed');
    return ws;
  }

  /** Sets (or, with null, turns off) the workspace's idle stop; the idle stopper reads it on its next sweep. */
  setIdleStop(idOrName: string, idleStopMs: number | null): Workspace {
    const ws = this.deps.repo.update(this.get(idOrName).id, { idleStopMs });
    this.emit('changed');
    return ws;
  }

  /**
   * Changes how ports forward their prefix (`strip` | `keep`); the edge applies it at once (open
   * WebSockets on a changed port are closed). The workload is not touched: its BERTH_BASE_PATH_*
   * are the same in both modes.
   */
  setPorts(idOrName: string, specs: readonly PortSpec[]): Workspace {
    const ws = this.get(idOrName);
    for (const c of resolvePortChanges(ws, specs)) this.deps.repo.setPortPrefix(ws.id, c.hostPort, c.prefix);
    const updated = this.deps.repo.update(ws.id, {}); // bumps updatedAt
    this.emit('changed');
    return updated;
  }

  /**
   * Marks the workspace deleting (its routes answer 503 from then on), removes the workload, then
   * its data volume (unless `keepData`: it is listed by `berth volume ls` and can be mounted again),
   * the record and its ports. A failed removal clears the mark and the routes come back.
   */
  async remove(idOrName: string, opts: { keepData?: boolean } = {}): Promise<void> {
    const ws = this.get(idOrName);
    const ref = ws.runtimeRef;
    await this.track(ws.id, async () => {
      this.deps.repo.setDeleting(ws.id, true);
      this.emit('changed');
      if (ref) {
        try {
          await this.deps.runtime.remove(ref);
        } catch (err) {
          this.deps.repo.setDeleting(ws.id, false);
          this.emit('changed');
          throw asRuntimeError(err, 'remove');
        }
      }
      this.deps.llmTokens.revoke(ws.id);
      // After the workload that used it; a failure is repaired by the reconciler's network sweep.
      await dropNetwork(this.deps.runtime, workspaceNetworkName(this.deps.installation, ws.id)).catch((err: unknown) =>
        this.deps.log.warn({ err, workspaceId: ws.id }, 'workspace network remove failed; the reconciler retries'),
      );
      if (!opts.keepData) await dropDataVolume(this.deps.runtime, ws, this.deps.log);
      this.deps.repo.delete(ws.id);
    });
    this.deps.log.info({ workspaceId: ws.id, name: ws.name, keptVolume: opts.keepData ? ws.dataVolume : null }, 'workspace removed');
    this.emit('changed');
  }

  /** Throws, before anything is touched, when `recreate` would refuse (for the API to answer before it streams). */
  checkRecreate(idOrName: string, opts: RecreateOptions, by?: Actor): Workspace {
    const ws = this.get(idOrName);
    this.checkMayRun(by);
    if (this.inFlight.has(ws.id)) throw new BerthError('E_INVALID_STATE', `workspace "${ws.name}" is busy with another operation`, { hint: 'retry in a moment' });
    checkRecreatable(ws, opts.image ?? ws.image);
    return ws;
  }

  /**
   * Replaces the workload with a new one from the same record (same id, ports, data volume), with
   * `opts.image` if given; see workspace-recreate.ts. `progress` hears each step.
   */
  async recreate(idOrName: string, opts: RecreateOptions, by?: Actor, progress: (p: RecreateProgress) => void = () => {}): Promise<Workspace> {
    const ws = this.checkRecreate(idOrName, opts, by);
    return this.track(ws.id, () => recreateWorkload(this.deps, ws, opts, progress, () => this.emit('changed')));
  }

  /**
   * Issues the workspace a new `/llm/` credential and revokes its old one at once (a leak is
   * contained the moment this returns). The token is returned once and never stored in clear.
   * A workload's environment is fixed when it is created, so a running workload keeps the old
   * (now refused) BERTH_LLM_TOKEN: hand it the new one (e.g. `export BERTH_LLM_TOKEN=…` in its
   * shell). Workspaces created before per-workspace credentials existed get their first one here.
   */
  rotateLlmToken(idOrName: string): { token: string; baseUrl: string } {
    const ws = this.get(idOrName);
    const baseUrl = this.llmUrl(ws);
    if (!baseUrl) {
      throw new BerthError('E_INVALID_STATE', 'the LLM proxy is not configured', { hint: 'set BERTH_LLM_BASE_URL (and BERTH_LLM_API_KEY) and restart Berth' });
    }
    if (ws.deleting) throw new BerthError('E_INVALID_STATE', `workspace "${ws.name}" is being deleted`);
    const token = this.deps.llmTokens.issue(ws.id);
    this.deps.log.info({ workspaceId: ws.id, name: ws.name }, 'workspace LLM credential rotated');
    return { token, baseUrl };
  }

  /**
   * Re-reads the workload's state from the runtime and records a crash: a `running` record
   * whose workload exited becomes `failed` with its exit code.
   */
  async refresh(idOrName: string): Promise<Workspace> {
    const ws = this.get(idOrName);
    // A stop in flight is no crash: its workload exits before the stop records 'stopped'.
    if (ws.state !== 'running' || !ws.runtimeRef || this.inFlight.has(ws.id)) return ws;
    const status = await this.deps.runtime.inspect(ws.runtimeRef).catch(() => null);
    if (!status || status.state === 'running' || this.inFlight.has(ws.id)) return ws;
    const reason =
      status.state === 'missing' ? 'the workload disappeared from the runtime' : `the workload exited with code ${status.exitCode ?? '?'}`;
    const failed = this.deps.repo.update(ws.id, { state: 'failed', reason, exitCode: status.exitCode });
    this.emit('changed');
    return failed;
  }

  async logs(idOrName: string, opts: { follow: boolean; tail?: number | undefined }): Promise<Readable> {
    const ws = this.get(idOrName);
    if (!ws.runtimeRef) throw new BerthError('E_INVALID_STATE', `workspace "${ws.name}" has no workload yet`);
    try {
      return await this.deps.runtime.logs(ws.runtimeRef, { follow: opts.follow, ...(opts.tail !== undefined ? { tail: opts.tail } : {}) });
    } catch (err) {
      throw asRuntimeError(err, 'logs');
    }
  }

  /** Runs `argv` in a running workspace; `by` as for create. */
  async exec(idOrName: string, argv: string[], opts: ExecOptions, by?: Actor): Promise<ExecResult | ExecSession> {
    const ws = this.get(idOrName);
    this.checkMayRun(by);
    if (ws.state !== 'running' || !ws.runtimeRef) {
      throw new BerthError('E_INVALID_STATE', `workspace "${ws.name}" is ${ws.state}`, { hint: 'start it with `berth ws start`' });
    }
    return this.deps.runtime.exec(ws.runtimeRef, argv, opts);
  }

  /** Berth's `/llm/` as the workspace reaches it (see workspace-spec.ts), or undefined when the LLM proxy is off. */
  private llmUrl(ws: Workspace): string | undefined {
    return llmUrlOf(this.deps.config, ws);
  }
}

function asRuntimeError(err: unknown, verb: string): BerthError {
  if (isBerthError(err)) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new BerthError('E_RUNTIME', `runtime ${verb} failed: ${message}`, { cause: err });
}
