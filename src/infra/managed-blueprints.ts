/**
 * How Berth's own PostgreSQL and Redis run as workloads of the current runtime (`berth infra up`):
 * one blueprint per service and runtime flavour. On a runtime that runs images (podman, docker) they
 * are the official images with a named volume; on the process runtime they are the host's Debian
 * binaries with their data in a directory. The choice reads `capabilities.images`, never the
 * driver's name.
 *
 * Process runtime, PostgreSQL: `initdb` the first time (superuser `postgres`, SCRAM passwords,
 * UTF8), then `postgres -D <data> -h 127.0.0.1 -p <port>` with Unix sockets off. PostgreSQL refuses
 * to run as root: as root it runs as the `postgres` OS user (`runuser`), and since that user cannot
 * enter Berth's 0700 data directory, its cluster lives in that user's home
 * (`/var/lib/postgresql/berth-<hash of the data dir>`); otherwise in `<dataDir>/infra/postgres`.
 * Redis: `redis-server <dataDir>/infra/redis/redis.conf` (password in the 0600 file, not in argv).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chown, mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import type { BerthConfig } from '../config/schema.js';
import type { InfraKind } from '../domain/app.js';
import { BerthError, isBerthError } from '../errors.js';
import { LABEL_ID, LABEL_KIND, type Runtime, type WorkloadSpec, type WorkloadStatus } from '../runtime/runtime.js';
import { scopedName } from '../runtime/installation.js';
import { findPostgresBin, findRedisServer, postgresOsUser } from './host-binaries.js';
import { createPostgresInfra } from './postgres.js';
import { probeRedis } from './redis.js';

const execFileAsync = promisify(execFile);

/** Label kind of Berth's own shared services (not apps, not workspaces: the reconciler leaves them alone). */
export const INFRA_LABEL_KIND = 'infra';

/**
 * Engine-visible name of a managed service's workload (and, on image runtimes, of its volume):
 * `berth-<installation tag>-infra-<kind>`; records made before names carried the installation keep
 * `berth-infra-<kind>` (their data is in that volume).
 */
export const infraWorkloadName = (kind: InfraKind, installation?: string): string => scopedName(installation, 'infra', kind);

/** The name apps reach Berth's own `kind` by, on their networks (runtime/networks.ts). */
export const infraAlias = (kind: InfraKind): string => `berth-${kind}`;

/** What Berth remembers about one managed service (in `<dataDir>/infra/infra.json`, mode 0600). */
export interface ManagedRecord {
  /** Runtime it was set up on: its data is only reachable through that runtime. */
  runtime: Runtime['name'];
  /** `up` after `berth infra up`, `down` after `berth infra down` (data kept). */
  wanted: 'up' | 'down';
  /** Loopback port the daemon connects to (published port, or the process's own). */
  port: number;
  /** Password of the `postgres` superuser / Redis `requirepass`. */
  password: string;
  /**
   * The installation whose names it uses (`infraWorkloadName`); absent in records made before
   * names carried it, which keep the old names.
   */
  installation?: string | undefined;
  /** Where apps reach it (a container's network address, or loopback), once it ran. */
  appHost: string | null;
  appPort: number | null;
}

export interface Blueprint {
  kind: InfraKind;
  spec: WorkloadSpec;
  /** Where the data lives: a host directory or an engine volume name. */
  data: string;
  /** Idempotent preparation before create/start (directories, the first `initdb`). */
  prepare(): Promise<void>;
  /** A graceful stop before `runtime.stop` (PostgreSQL's fast shutdown); failures are ignored. */
  beforeStop?(): Promise<void>;
  /** Deletes the data; the workload must be removed first. */
  purge(): Promise<void>;
  /** Admin URL on loopback (the daemon's side). */
  adminUrl: string;
  /** Where apps connect, from the running workload's status; null when the runtime reports none. */
  appEndpoint(status: WorkloadStatus): { host: string; port: number } | null;
}

export interface BlueprintContext {
  config: BerthConfig;
  runtime: Runtime;
}

const CONTAINER_PORT: Record<InfraKind, number> = { postgres: 5432, redis: 6379 };

const labels = (kind: InfraKind): Record<string, string> => ({ [LABEL_KIND]: INFRA_LABEL_KIND, [LABEL_ID]: kind });

/** The blueprint of `kind` for the current runtime. */
export async function blueprintFor(kind: InfraKind, rec: ManagedRecord, ctx: BlueprintContext): Promise<Blueprint> {
  if (ctx.runtime.capabilities.images) return kind === 'postgres' ? imagePostgres(rec, ctx) : imageRedis(rec, ctx);
  return kind === 'postgres' ? processPostgres(rec, ctx) : processRedis(rec, ctx);
}

const adminPostgresUrl = (rec: ManagedRecord): string => `postgres://postgres:${encodeURIComponent(rec.password)}@127.0.0.1:${rec.port}/postgres`;
const adminRedisUrl = (rec: ManagedRecord): string => `redis://:${encodeURIComponent(rec.password)}@127.0.0.1:${rec.port}`;

function imagePostgres(rec: ManagedRecord, { config, runtime }: BlueprintContext): Blueprint {
  const volume = infraWorkloadName('postgres', rec.installation);
  return {
    kind: 'postgres',
    spec: {
      name: infraWorkloadName('postgres', rec.installation),
      image: config.infraPostgresImage,
      env: { POSTGRES_USER: 'postgres', POSTGRES_PASSWORD: rec.password },
      ports: [{ containerPort: CONTAINER_PORT.postgres, hostPort: rec.port }],
      labels: labels('postgres'),
      volumes: [{ name: volume, target: '/var/lib/postgresql/data' }],
    },
    data: `volume ${volume}`,
    prepare: async () => {},
    purge: async () => runtime.removeVolume?.(volume),
    adminUrl: adminPostgresUrl(rec),
    appEndpoint: (st) => (st.networkAddress ? { host: infraAlias('postgres'), port: CONTAINER_PORT.postgres } : null),
  };
}

async function imageRedis(rec: ManagedRecord, { config, runtime }: BlueprintContext): Promise<Blueprint> {
  const volume = infraWorkloadName('redis', rec.installation);
  // The image's redis user must read the file: 0644, inside Berth's 0700 data directory.
  const confDir = path.join(config.dataDir, 'infra', 'redis-conf');
  const conf = path.join(confDir, 'redis.conf');
  return {
    kind: 'redis',
    spec: {
      name: infraWorkloadName('redis', rec.installation),
      image: config.infraRedisImage,
      command: ['redis-server', '/etc/berth/redis.conf'],
      env: {},
      ports: [{ containerPort: CONTAINER_PORT.redis, hostPort: rec.port }],
      labels: labels('redis'),
      volumes: [{ name: volume, target: '/data' }],
      files: [{ hostPath: conf, containerPath: '/etc/berth/redis.conf' }],
    },
    data: `volume ${volume}`,
    prepare: async () => {
      await mkdir(confDir, { recursive: true, mode: 0o700 });
      await writeFile(conf, redisConf({ port: CONTAINER_PORT.redis, bind: null, dir: '/data', password: rec.password }), { mode: 0o644 });
    },
    purge: async () => {
      await runtime.removeVolume?.(volume);
      await rm(confDir, { recursive: true, force: true });
    },
    adminUrl: adminRedisUrl(rec),
    appEndpoint: (st) => (st.networkAddress ? { host: infraAlias('redis'), port: CONTAINER_PORT.redis } : null),
  };
}

async function processPostgres(rec: ManagedRecord, { config }: BlueprintContext): Promise<Blueprint> {
  const bin = findPostgresBin();
  if (!bin) {
    throw new BerthError('E_INFRA_UNAVAILABLE', 'PostgreSQL server binaries not found under /usr/lib/postgresql', {
      hint: "install Debian's postgresql package (scripts/install-deps --test), or set BERTH_POSTGRES_URL to an existing server",
    });
  }
  const user = await postgresOsUser();
  const tag = createHash('sha256').update(path.resolve(config.dataDir)).digest('hex').slice(0, 12);
  const root = user ? path.join(user.home, `berth-${tag}`) : path.join(config.dataDir, 'infra', 'postgres');
  const data = path.join(root, 'data');
  const as = (argv: string[]): [string, string[]] => {
    const full = [...(user?.prefix ?? []), ...argv];
    return [full[0]!, full.slice(1)];
  };
  return {
    kind: 'postgres',
    spec: {
      name: infraWorkloadName('postgres', rec.installation),
      image: 'host',
      // Unix sockets off (`-k ''`): everything, the daemon included, connects over loopback TCP.
      command: [...(user?.prefix ?? []), path.join(bin, 'postgres'), '-D', data, '-h', '127.0.0.1', '-p', String(rec.port), '-k', ''],
      env: { LC_ALL: 'C' },
      ports: [{ containerPort: rec.port, hostPort: rec.port }],
      labels: labels('postgres'),
      // A directory the postgres user may be in (it cannot enter Berth's data directory when root).
      workdir: root,
    },
    data: data,
    async prepare() {
      await mkdir(root, { recursive: true, mode: 0o700 });
      if (user) await chown(root, user.uid, user.gid);
      if (await exists(path.join(data, 'PG_VERSION'))) return;
      const pwfile = path.join(root, '.initdb-pw');
      await writeFile(pwfile, `${rec.password}\n`, { mode: 0o600 });
      if (user) await chown(pwfile, user.uid, user.gid);
      try {
        const [file, args] = as([
          path.join(bin, 'initdb'), '-D', data, '-U', 'postgres', `--pwfile=${pwfile}`,
          '--auth-local=scram-sha-256', '--auth-host=scram-sha-256', '--encoding=UTF8', '--locale=C',
        ]);
        await execFileAsync(file, args, { cwd: root, timeout: 120_000 });
      } catch (err) {
        const e = err as { stderr?: string; message: string };
        throw new BerthError('E_INFRA_UNAVAILABLE', `initdb of Berth's PostgreSQL in ${data} failed: ${(e.stderr || e.message).trim().slice(-1500)}`, {
          hint: user ? `the ${user.name} OS user must be able to write ${root}` : `check that ${root} is writable`,
          cause: err,
        });
      } finally {
        await rm(pwfile, { force: true });
      }
    },
    async beforeStop() {
      const [file, args] = as([path.join(bin, 'pg_ctl'), '-D', data, 'stop', '-m', 'fast', '-w', '-t', '30']);
      await execFileAsync(file, args, { cwd: root, timeout: 40_000 }).catch(() => undefined);
    },
    purge: async () => rm(root, { recursive: true, force: true }),
    adminUrl: adminPostgresUrl(rec),
    appEndpoint: () => ({ host: '127.0.0.1', port: rec.port }),
  };
}

async function processRedis(rec: ManagedRecord, { config }: BlueprintContext): Promise<Blueprint> {
  const bin = findRedisServer();
  if (!bin) {
    throw new BerthError('E_INFRA_UNAVAILABLE', 'redis-server not found on PATH', {
      hint: "install Debian's redis-server package (scripts/install-deps --test), or set BERTH_REDIS_URL to an existing server",
    });
  }
  const root = path.join(config.dataDir, 'infra', 'redis');
  const conf = path.join(root, 'redis.conf');
  return {
    kind: 'redis',
    spec: {
      name: infraWorkloadName('redis', rec.installation),
      image: 'host',
      command: [bin, conf],
      env: {},
      ports: [{ containerPort: rec.port, hostPort: rec.port }],
      labels: labels('redis'),
      workdir: root,
    },
    data: root,
    async prepare() {
      await mkdir(root, { recursive: true, mode: 0o700 });
      await writeFile(conf, redisConf({ port: rec.port, bind: '127.0.0.1', dir: root, password: rec.password }), { mode: 0o600 });
    },
    purge: async () => rm(root, { recursive: true, force: true }),
    adminUrl: adminRedisUrl(rec),
    appEndpoint: () => ({ host: '127.0.0.1', port: rec.port }),
  };
}

/** A redis.conf: password required, append-only file for durability, no daemonizing (the runtime supervises). */
export function redisConf(o: { port: number; bind: string | null; dir: string; password: string }): string {
  return [
    `port ${o.port}`,
    ...(o.bind ? [`bind ${o.bind}`] : []),
    // A password is set, so protected mode (which refuses non-loopback clients) is not needed in a container.
    `protected-mode ${o.bind ? 'yes' : 'no'}`,
    `dir "${o.dir}"`,
    `requirepass "${o.password}"`,
    'appendonly yes',
    'daemonize no',
    '',
  ].join('\n');
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

/** The version string of the server at `url`; throws (E_INFRA_UNAVAILABLE) when it does not answer. */
export async function probe(kind: InfraKind, url: string): Promise<string> {
  if (kind === 'redis') return probeRedis(url);
  return createPostgresInfra({ adminUrl: url, connectTimeoutMs: 2000 }).probe();
}

/** The error for a failed create: on image runtimes, almost always an image that is neither local nor pullable. */
export function createFailed(kind: InfraKind, bp: Blueprint, runtime: Runtime, err: unknown): BerthError {
  const words = err instanceof Error ? err.message : String(err);
  if (!runtime.capabilities.images) return isBerthError(err) ? err : new BerthError('E_RUNTIME', words, { cause: err });
  const variable = kind === 'postgres' ? 'BERTH_INFRA_POSTGRES_IMAGE' : 'BERTH_INFRA_REDIS_IMAGE';
  const url = kind === 'postgres' ? 'BERTH_POSTGRES_URL' : 'BERTH_REDIS_URL';
  return new BerthError('E_INFRA_UNAVAILABLE', `cannot create Berth's ${kind} from ${bp.spec.image}: the image is not available locally and could not be pulled (${words})`, {
    hint: `load the image into ${runtime.name} (\`${runtime.name} load\`, or \`${runtime.name} pull\` where a registry is reachable), set ${variable} to an image that is, or set ${url} to an existing server`,
    cause: err,
  });
}

/** A loopback port nothing listens on right now (the OS's choice, outside Berth's allocation range in practice). */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}
