/**
 * The shared PostgreSQL and Redis apps use: either servers named by BERTH_POSTGRES_URL /
 * BERTH_REDIS_URL, or — for whichever is not set — Berth's own, started as workloads of the current
 * runtime by `berth infra up` (see managed-blueprints.ts for how each runs).
 *
 * Lifecycle: `up` records the service (port, password) in `<dataDir>/infra/infra.json` (0600) before
 * it starts anything, prepares its data the first time, creates or starts the workload and waits
 * until it answers; `down` stops and removes the workload and keeps the data (`purge` deletes it);
 * `ensureUp` (every reconcile pass) starts again a service that should be up but is not — the
 * reconciler's restart policy for Berth's own infrastructure. Operations run one at a time.
 *
 * Apps read the current servers through `SharedInfra`, so an `infra up` is used by the next install
 * without a daemon restart.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { BerthConfig } from '../config/schema.js';
import { INFRA_KINDS, type InfraKind } from '../domain/app.js';
import { BerthError } from '../errors.js';
import type { Logger } from '../log.js';
import { logTail } from '../runtime/log-tail.js';
import { LABEL_ID, LABEL_KIND, type Runtime, type WorkloadSummary } from '../runtime/runtime.js';
import { blueprintFor, createFailed, freeLoopbackPort, infraAlias, infraWorkloadName, INFRA_LABEL_KIND, probe, type Blueprint, type ManagedRecord } from './managed-blueprints.js';
import { createPostgresInfra, type PostgresInfra } from './postgres.js';
import { parseRedisUrl } from './resp.js';
import type { InfraServiceStatus, InfraStatus, ManagedServiceRef, RedisEndpoint, SharedInfra } from './shared-infra.js';
import { appNetworkName, dropNetwork, infraNetworkName, networkOps, ownNetwork } from '../runtime/networks.js';

export interface InfraServiceDeps {
  config: BerthConfig;
  runtime: Runtime;
  log: Logger;
  /** Installed apps that use `kind` (down refuses to pull the floor from under them unless forced). */
  usersOf?: (kind: InfraKind) => string[];
  /** This Berth's instance id: marks its databases on a shared PostgreSQL (see postgres.ts managedMarker). */
  instanceId?: string | undefined;
}

type State = Partial<Record<InfraKind, ManagedRecord>>;

const READY_TIMEOUT_MS = 120_000;

/** Berth's shared services; see the module comment. */
export class InfraService implements SharedInfra {
  private readonly file: string;
  private state: State;
  private queue: Promise<unknown> = Promise.resolve();
  private busy = false;
  private envPostgres: PostgresInfra | undefined;
  private managedPostgres: { key: string; infra: PostgresInfra } | undefined;

  constructor(private readonly deps: InfraServiceDeps) {
    this.file = path.join(deps.config.dataDir, 'infra', 'infra.json');
    try {
      this.state = existsSync(this.file) ? (JSON.parse(readFileSync(this.file, 'utf8')) as State) : {};
    } catch (err) {
      throw new BerthError('E_CONFIG', `cannot read ${this.file}: ${(err as Error).message}`, {
        hint: "fix or remove the file (removing it forgets Berth's own PostgreSQL/Redis; their data stays where it was)",
        cause: err,
      });
    }
  }

  private envUrl(kind: InfraKind): string | undefined {
    return kind === 'postgres' ? this.deps.config.postgresUrl : this.deps.config.redisUrl;
  }

  /** The managed record of `kind` when it is wanted up and usable on this runtime. */
  private upRecord(kind: InfraKind): ManagedRecord | undefined {
    const r = this.state[kind];
    return !this.envUrl(kind) && r?.wanted === 'up' && r.runtime === this.deps.runtime.name ? r : undefined;
  }

  postgres(): PostgresInfra | undefined {
    const { config, log } = this.deps;
    if (config.postgresUrl) {
      return (this.envPostgres ??= createPostgresInfra({ adminUrl: config.postgresUrl, appHost: config.infraHost, log: log.child({ component: 'postgres' }), instanceId: this.deps.instanceId }));
    }
    const r = this.upRecord('postgres');
    if (!r) return undefined;
    const key = `${r.port}|${r.password}|${this.appHost('postgres', r)}|${r.appPort}`;
    if (this.managedPostgres?.key !== key) {
      const infra = createPostgresInfra({
        adminUrl: `postgres://postgres:${encodeURIComponent(r.password)}@127.0.0.1:${r.port}/postgres`,
        appHost: this.appHost('postgres', r),
        appPort: r.appPort ?? r.port,
        log: log.child({ component: 'postgres' }),
        instanceId: this.deps.instanceId,
      });
      this.managedPostgres = { key, infra };
    }
    return this.managedPostgres.infra;
  }

  redis(): RedisEndpoint | undefined {
    const { config } = this.deps;
    if (config.redisUrl) return { url: config.redisUrl, appHost: config.infraHost };
    const r = this.upRecord('redis');
    if (!r) return undefined;
    return { url: `redis://:${encodeURIComponent(r.password)}@127.0.0.1:${r.port}`, appHost: this.appHost('redis', r), appPort: r.appPort ?? r.port };
  }

  /**
   * Where apps reach `kind`: on runtimes with networks its alias on each app's network (a record
   * from before per-app networks may still hold the address it had on the old shared network).
   */
  private appHost(kind: InfraKind, r: ManagedRecord): string {
    if (r.appHost && networkOps(this.deps.runtime)) return infraAlias(kind);
    return r.appHost ?? '127.0.0.1';
  }

  async managedServices(kinds: readonly InfraKind[]): Promise<ManagedServiceRef[]> {
    if (!networkOps(this.deps.runtime)) return [];
    const out: ManagedServiceRef[] = [];
    for (const kind of kinds) {
      if (!this.upRecord(kind)) continue;
      const w = (await this.workloads(kind))[0];
      if (w) out.push({ kind, ref: w.ref, alias: infraAlias(kind) });
    }
    return out;
  }

  /**
   * Whether an unlabelled workload (made before workloads carried their installation) is this
   * installation's `kind` server: its record predates installation names too and the name matches.
   */
  claimsUnlabelled(w: WorkloadSummary): boolean {
    const kind = w.labels[LABEL_ID] as InfraKind;
    const r = INFRA_KINDS.includes(kind) ? this.state[kind] : undefined;
    return !!r && r.installation === undefined && w.name === infraWorkloadName(kind);
  }

  /** What runs where; asks each server for its version. */
  async status(): Promise<InfraStatus> {
    const services: InfraServiceStatus[] = [];
    for (const kind of INFRA_KINDS) services.push(await this.statusOf(kind));
    return { runtime: this.deps.runtime.name, services };
  }

  /** Starts Berth's own server for every shared service whose BERTH_*_URL is not set. */
  up(onProgress: (message: string) => void = () => {}): Promise<InfraStatus> {
    return this.serialized(async () => {
      for (const kind of INFRA_KINDS) {
        if (this.envUrl(kind)) {
          onProgress(`${kind}: using ${kind === 'postgres' ? 'BERTH_POSTGRES_URL' : 'BERTH_REDIS_URL'} (not managed by Berth)`);
          continue;
        }
        const rec = this.state[kind];
        this.checkRuntime(kind, rec);
        const next: ManagedRecord = rec ?? {
          runtime: this.deps.runtime.name,
          wanted: 'up',
          port: await freeLoopbackPort(),
          password: randomBytes(24).toString('base64url'),
          appHost: null,
          appPort: null,
          installation: this.deps.instanceId,
        };
        this.save(kind, { ...next, wanted: 'up' });
        try {
          await this.bringUp(kind, onProgress);
        } catch (err) {
          // Back to what was recorded before, so reconcile passes do not retry a failed first start.
          if (!rec) for (const w of await this.workloads(kind)) await this.deps.runtime.remove(w.ref).catch(() => undefined);
          this.save(kind, rec);
          await this.dropInfraNetwork();
          throw err;
        }
      }
      return this.status();
    });
  }

  /** Refuses (E_INVALID_STATE) a `down` that would take the database from installed apps, unless `force`. */
  checkDown(opts: { force?: boolean | undefined }): void {
    const managed = INFRA_KINDS.filter((k) => !this.envUrl(k) && this.state[k]);
    const users = [...new Set(managed.flatMap((k) => this.deps.usersOf?.(k) ?? []))];
    if (users.length && !opts.force) {
      throw new BerthError('E_INVALID_STATE', `installed apps use Berth's shared services: ${users.join(', ')}`, {
        hint: 'uninstall them first, or pass --force (they lose their database and Redis until `berth infra up`)',
      });
    }
  }

  /** Stops and removes Berth's own servers; their data stays unless `purge`. */
  down(opts: { purge?: boolean | undefined; force?: boolean | undefined } = {}, onProgress: (message: string) => void = () => {}): Promise<InfraStatus> {
    return this.serialized(async () => {
      this.checkDown(opts);
      const managed = INFRA_KINDS.filter((k) => !this.envUrl(k) && this.state[k]);
      for (const kind of managed) {
        const rec = this.state[kind]!;
        this.checkRuntime(kind, rec);
        const bp = await blueprintFor(kind, rec, this.deps);
        for (const w of await this.workloads(kind)) {
          onProgress(`${kind}: stopping ${w.name}`);
          if (w.state === 'running') await bp.beforeStop?.();
          await this.deps.runtime.stop(w.ref, { timeoutSeconds: 30 });
          await this.deps.runtime.remove(w.ref);
        }
        if (opts.purge) {
          onProgress(`${kind}: deleting its data (${bp.data})`);
          await bp.purge();
          this.save(kind, undefined);
        } else {
          onProgress(`${kind}: data kept in ${bp.data}`);
          this.save(kind, { ...rec, wanted: 'down' });
        }
      }
      await this.dropInfraNetwork();
      return this.status();
    });
  }

  /**
   * Starts again every managed service that should be up but is not (it crashed, the host
   * rebooted). Skips when an up/down is in flight. Resolves to the kinds it started.
   */
  async ensureUp(): Promise<InfraKind[]> {
    if (this.busy) return [];
    return this.serialized(async () => {
      const started: InfraKind[] = [];
      for (const kind of INFRA_KINDS) {
        if (!this.upRecord(kind)) continue;
        const w = (await this.workloads(kind))[0];
        if (w?.state === 'running') continue;
        this.deps.log.warn({ kind, state: w?.state ?? 'missing' }, "Berth's shared service is not running; starting it");
        try {
          await this.bringUp(kind, () => {});
          started.push(kind);
        } catch (err) {
          this.deps.log.error({ err, kind }, "Berth's shared service did not come back");
        }
      }
      return started;
    });
  }

  private checkRuntime(kind: InfraKind, rec: ManagedRecord | undefined): void {
    if (rec && rec.runtime !== this.deps.runtime.name) {
      throw new BerthError('E_INVALID_STATE', `Berth's ${kind} was set up on the ${rec.runtime} runtime; this daemon runs ${this.deps.runtime.name}`, {
        hint: `start Berth with BERTH_RUNTIME=${rec.runtime}, or remove ${path.dirname(this.file)} to start over (its data is lost)`,
      });
    }
  }

  /** Prepares, creates or starts, and waits for `kind` to answer; records where apps reach it. */
  private async bringUp(kind: InfraKind, onProgress: (message: string) => void): Promise<void> {
    const { runtime, log } = this.deps;
    const rec = this.state[kind]!;
    const bp = await blueprintFor(kind, rec, this.deps);
    onProgress(`${kind}: preparing ${bp.data}`);
    await bp.prepare();
    let w = (await this.workloads(kind))[0];
    if (!w) {
      onProgress(`${kind}: creating ${bp.spec.name}${runtime.capabilities.images ? ` from ${bp.spec.image}` : ''}`);
      try {
        // A network of its own; it joins the network of each app that uses it (runtime/networks.ts).
        const network = await ownNetwork(runtime, infraNetworkName(this.deps.instanceId), { kind: INFRA_LABEL_KIND, id: 'network' });
        await runtime.create({ ...bp.spec, ...(network ? { network } : {}) });
      } catch (err) {
        throw createFailed(kind, bp, runtime, err);
      }
      w = (await this.workloads(kind))[0]!;
    }
    if (w.state !== 'running') {
      onProgress(`${kind}: starting ${w.name}`);
      await runtime.start(w.ref);
    }
    onProgress(`${kind}: waiting for it to answer on 127.0.0.1:${rec.port}`);
    const version = await this.waitReady(kind, bp, w.ref);
    const status = await runtime.inspect(w.ref);
    const app = bp.appEndpoint(status);
    if (!app) {
      throw new BerthError('E_INFRA_UNAVAILABLE', `${runtime.name} reports no network address for ${w.name}, so apps could not reach it`, {
        hint: 'check `podman inspect` of the container, or set BERTH_POSTGRES_URL / BERTH_REDIS_URL',
      });
    }
    this.save(kind, { ...rec, appHost: app.host, appPort: app.port });
    await this.joinAppNetworks(kind, w.ref);
    log.info({ kind, version, app }, "Berth's shared service is up");
    onProgress(`${kind}: ${kind === 'postgres' ? 'PostgreSQL' : 'Redis'} ${version} is up; apps reach it at ${app.host}:${app.port}`);
  }

  private async waitReady(kind: InfraKind, bp: Blueprint, ref: string): Promise<string> {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    let last = '';
    for (;;) {
      try {
        return await probe(kind, bp.adminUrl);
      } catch (err) {
        last = err instanceof Error ? err.message : String(err);
      }
      const st = await this.deps.runtime.inspect(ref);
      if (st.state !== 'running' || Date.now() > deadline) {
        const tail = (await logTail(this.deps.runtime, ref, 15)).trim().slice(-2000);
        throw new BerthError(
          'E_INFRA_UNAVAILABLE',
          `Berth's ${kind} ${st.state === 'running' ? `did not answer in ${READY_TIMEOUT_MS / 1000} s` : `exited (code ${st.exitCode ?? '?'})`}: ${last}${tail ? `\nlast output:\n${tail}` : ''}`,
          { hint: 'see the output above; `berth infra down --purge` starts over from empty data' },
        );
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  private async statusOf(kind: InfraKind): Promise<InfraServiceStatus> {
    const none: InfraServiceStatus = { kind, source: 'none', state: 'none', address: null, appAddress: null, data: null, version: null, problem: null };
    const env = this.envUrl(kind);
    if (env) {
      const { host, port } = kind === 'postgres' ? hostPortOf(env, 5432) : parseRedisUrl(env);
      const appHost = this.deps.config.infraHost ?? host;
      const out: InfraServiceStatus = { ...none, source: 'env', state: 'external', address: `${host}:${port}`, appAddress: `${appHost}:${port}` };
      return probe(kind, env).then(
        (version) => ({ ...out, version }),
        (err: unknown) => ({ ...out, problem: err instanceof Error ? err.message : String(err) }),
      );
    }
    const rec = this.state[kind];
    if (!rec) return none;
    const bp = rec.runtime === this.deps.runtime.name ? await blueprintFor(kind, rec, this.deps).catch(() => null) : null;
    const base: InfraServiceStatus = {
      ...none,
      source: 'managed',
      address: `127.0.0.1:${rec.port}`,
      appAddress: rec.appHost ? `${rec.appHost}:${rec.appPort ?? rec.port}` : null,
      data: bp?.data ?? null,
    };
    if (rec.runtime !== this.deps.runtime.name) return { ...base, state: 'down', problem: `set up on the ${rec.runtime} runtime, this daemon runs ${this.deps.runtime.name}` };
    if (rec.wanted === 'down') return { ...base, state: 'down' };
    const w = (await this.workloads(kind))[0];
    if (w?.state !== 'running') return { ...base, state: 'stopped', problem: w ? `the workload is ${w.state}` : 'the workload is missing' };
    return probe(kind, bp!.adminUrl).then(
      (version) => ({ ...base, state: 'running' as const, version }),
      (err: unknown) => ({ ...base, state: 'running' as const, problem: err instanceof Error ? err.message : String(err) }),
    );
  }

  /** Removes the network Berth's servers are created on once none is left on it (a no-op otherwise). */
  private async dropInfraNetwork(): Promise<void> {
    await dropNetwork(this.deps.runtime, infraNetworkName(this.deps.instanceId)).catch((err: unknown) => this.deps.log.warn({ err }, 'infra network remove failed'));
  }

  /** A new (or re-created) server joins the network of every installed app that uses it, under its alias. */
  private async joinAppNetworks(kind: InfraKind, ref: string): Promise<void> {
    const net = networkOps(this.deps.runtime);
    if (!net) return;
    for (const app of this.deps.usersOf?.(kind) ?? []) {
      await net.connectNetwork(appNetworkName(this.deps.instanceId, app), ref, [infraAlias(kind)]).catch((err: unknown) =>
        this.deps.log.warn({ err, kind, app }, "could not join an app's network"),
      );
    }
  }

  private workloads(kind: InfraKind): Promise<WorkloadSummary[]> {
    return this.deps.runtime.list({ [LABEL_KIND]: INFRA_LABEL_KIND, [LABEL_ID]: kind });
  }

  private save(kind: InfraKind, rec: ManagedRecord | undefined): void {
    this.state = { ...this.state, [kind]: rec };
    if (!rec) delete this.state[kind];
    mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.state, null, 2), { mode: 0o600 });
    renameSync(tmp, this.file);
  }

  private serialized<T>(op: () => Promise<T>): Promise<T> {
    const guarded = async (): Promise<T> => {
      this.busy = true;
      try {
        return await op();
      } finally {
        this.busy = false;
      }
    };
    const run = this.queue.then(guarded, guarded);
    this.queue = run.catch(() => {});
    return run;
  }
}

function hostPortOf(url: string, defaultPort: number): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1', port: u.port ? Number(u.port) : defaultPort };
}

