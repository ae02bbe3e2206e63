/**
 * `database: container`: a PostgreSQL server of the preview's own, run as one more workload of the
 * current runtime next to the services. It belongs to the preview, not to a generation: every
 * generation of the preview connects to it, an update keeps its data, and destroy removes it with
 * its data. It carries the preview's labels (`berth.kind=preview`, `berth.id=<id>`) plus
 * `berth.database=postgres`, so the reaper and destroy find it like any preview workload.
 *
 * Where the server comes from depends on what the runtime can run (its capabilities, not its name):
 * - runtimes with images (podman, docker): the image `BERTH_PREVIEW_POSTGRES_IMAGE` (default
 *   docker.io/library/postgres:16), which must be present locally where no registry is reachable;
 *   its data lives in the container (the image's anonymous volume goes with `rm -v`). On a runtime
 *   with networks it joins the preview's network with the alias `postgres`, and DATABASE_URL names
 *   the host `postgres` (port 5432): the engine's DNS on that network answers it, the name survives
 *   the server being re-created with another address, and every generation gets the same URL.
 *   The container's address on 5432 is used instead when that name is not the server's alone (a
 *   service of the preview is itself called `postgres`) or the server predates the preview's
 *   network (it was made before Berth had networks, and is not on it).
 * - the process runtime: Debian's server binaries (newest /usr/lib/postgresql/<ver>/bin):
 *   `initdb` into `<preview dir>/postgres/data`, then `postgres` on a Berth-allocated port bound to
 *   127.0.0.1 (no unix socket). As root, both run as the `postgres` OS user (PostgreSQL refuses
 *   root) through `setpriv`, keeping only CAP_DAC_READ_SEARCH so they can reach a cluster that
 *   lies inside Berth's 0700 data directory.
 *
 * Credentials: the server's superuser `postgres` has a password derived from the preview id and a
 * key only Berth holds (`keyFile`, 0600, made on first use; HMAC, so one server's password tells
 * nothing of another's and the app cannot derive it); the app gets `DATABASE_URL` for role and
 * database `preview`, which it owns, without superuser rights.
 *
 * `ensure` is idempotent and safe to repeat after a crash at any point: an existing workload is
 * reused (started if it stopped) with the port recorded in its label; a cluster directory only
 * appears complete (initdb runs in a staging directory that is renamed at the end); role and
 * database are created if missing, else the role's password is set again.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chown, mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { BerthError, isBerthError } from '../errors.js';
import { findPostgresBin } from '../infra/host-binaries.js';
import { hostForUrl, scramSha256Verifier } from '../infra/postgres.js';
import { logTail } from '../runtime/log-tail.js';
import { loadKey, run, serverUser, superuserPassword, type ServerUser } from './preview-postgres-host.js';
import { LABEL_ID, LABEL_KIND, type Runtime, type WorkloadRef, type WorkloadSpec } from '../runtime/runtime.js';

export { superuserPassword } from './preview-postgres-host.js';

/** Marks the database workload of a preview (value `postgres`). */
export const LABEL_DATABASE = 'berth.database';
/** The host port the server listens on / is published on. */
export const LABEL_DATABASE_PORT = 'berth.port';
/** The network the server joined when it was created (absent: the engine's default one). */
export const LABEL_DATABASE_NETWORK = 'berth.network';
/** The server's alias on the preview's network, and the host of DATABASE_URL there. */
export const PREVIEW_POSTGRES_HOST = 'postgres';
/** Role and database the app gets in its own server. */
export const PREVIEW_APP_DATABASE = 'preview';
/** Port inside the container (images); the process runtime listens on the host port itself. */
const CONTAINER_PORT = 5432;
const DEFAULT_READY_TIMEOUT_MS = 120_000;

/** Engine name of a preview's database workload. */
export const previewPostgresName = (id: string): string => `berth-pv-${id}-postgres`;

/** Labels that find the database workload of one preview. */
export const previewPostgresLabels = (id: string): Record<string, string> => ({ [LABEL_KIND]: 'preview', [LABEL_ID]: id, [LABEL_DATABASE]: 'postgres' });

export interface PreviewPostgresOptions {
  runtime: Runtime;
  /** File holding the key superuser passwords are derived from (created 0600 when missing). */
  keyFile: string;
  /** BERTH_PREVIEW_POSTGRES_IMAGE: used by runtimes that run images. */
  image: string;
  dnsServers?: readonly string[];
  /** Directory of the server binaries for the process runtime; default: the newest Debian install. */
  binDir?: string | null;
  /** How long the server may take to accept connections (default 120 s: an image's first start runs initdb). */
  readyTimeoutMs?: number;
}

export interface PreviewPostgresRequest {
  previewId: string;
  /** The preview's directory; on the process runtime the cluster lives in `<dir>/postgres/data`. */
  dir: string;
  /** The app role's password (kept in the preview record, so every generation gets the same URL). */
  password: string;
  /**
   * Allocates the host port for the server. Called only when the workload has to be created, right
   * after `releasePort` (which frees what an interrupted earlier attempt may have allocated).
   */
  allocatePort(): number;
  releasePort(): void;
  /** Appends a line to the build log. */
  say(line: string): Promise<void>;
  signal?: AbortSignal | undefined;
  /**
   * The preview's network (runtimes with `capabilities.networks`), which a server created now joins
   * with the alias `postgres`. `nameFree` false — a service of the preview is itself named
   * `postgres`, so the name would answer with two addresses — makes the URL use the address.
   */
  network?: { name: string; nameFree: boolean } | undefined;
}

export interface PreviewPostgres {
  /** Creates or finds again the preview's server, waits until it accepts connections, provisions the app's role and database. */
  ensure(req: PreviewPostgresRequest): Promise<{ url: string; ref: WorkloadRef; created: boolean }>;
  /** Stops and removes the preview's server workload and deletes its data; returns the removed workload names. */
  remove(previewId: string, dir: string): Promise<string[]>;
}

/**
 * `runtime.create`, except that a workload holding the name without being listed by its labels (a
 * create interrupted half-way by a crash: the process driver's directory before its spec) is
 * removed first. Only for names that belong to the caller alone (they encode the preview id).
 */
export async function createFresh(runtime: Runtime, spec: WorkloadSpec): Promise<WorkloadRef> {
  try {
    return await runtime.create(spec);
  } catch (err) {
    if (!isBerthError(err) || err.code !== 'E_NAME_TAKEN') throw err;
    await runtime.remove(spec.name);
    return runtime.create(spec);
  }
}

/** DATABASE_URL of the app's role and database at host:port (an IPv6 address in brackets). */
function appUrl(password: string, host: string, port: number): string {
  return `postgres://${PREVIEW_APP_DATABASE}:${encodeURIComponent(password)}@${hostForUrl(host)}:${port}/${PREVIEW_APP_DATABASE}`;
}

/** Creates the preview-database manager for one runtime. */
export function createPreviewPostgres(opts: PreviewPostgresOptions): PreviewPostgres {
  const { runtime } = opts;
  const readyTimeoutMs = opts.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
  let key: Promise<Buffer> | undefined;

  function binDir(): string {
    const bin = opts.binDir === undefined ? findPostgresBin() : opts.binDir;
    if (!bin) {
      throw new BerthError('E_PREVIEW_BUILD', 'database: container on the process runtime needs the PostgreSQL server binaries, and none were found under /usr/lib/postgresql', {
        hint: "install Debian's postgresql package, or use database: host (shared PostgreSQL, BERTH_POSTGRES_URL)",
      });
    }
    return bin;
  }

  /**
   * initdb into a staging directory of its own, renamed to `data` once complete; a complete `data`
   * is kept as is. The staging name is new on every attempt: an initdb orphaned by a daemon crash
   * may still be writing into the old one.
   */
  async function initCluster(bin: string, pgDir: string, superPassword: string, user: ServerUser | null, req: PreviewPostgresRequest): Promise<string> {
    const data = path.join(pgDir, 'data');
    if (existsSync(path.join(data, 'PG_VERSION'))) return data;
    await mkdir(pgDir, { recursive: true, mode: 0o700 });
    if (user) await chown(pgDir, user.uid, user.gid);
    for (const name of await readdir(pgDir)) if (name.startsWith('data.init-')) await rm(path.join(pgDir, name), { recursive: true, force: true });
    await rm(data, { recursive: true, force: true });
    const staging = path.join(pgDir, `data.init-${randomBytes(4).toString('hex')}`);
    const pwFile = `${staging}.pw`;
    await writeFile(pwFile, `${superPassword}\n`, { mode: 0o600 });
    if (user) await chown(pwFile, user.uid, user.gid);
    await req.say(`initdb ${data} (${bin})`);
    const argv = [
      ...(user?.prefix ?? []),
      path.join(bin, 'initdb'),
      '-D', staging,
      '--username=postgres',
      `--pwfile=${pwFile}`,
      '--auth-host=scram-sha-256',
      '--auth-local=scram-sha-256',
      '--encoding=UTF8',
      '--locale=C',
    ];
    try {
      await run(argv[0]!, argv.slice(1), { timeoutMs: 180_000, signal: req.signal });
    } catch (err) {
      const words = ((err as { stderr?: string }).stderr || (err as Error).message).trim().split('\n').slice(-3).join(' ');
      throw new BerthError('E_PREVIEW_BUILD', `initdb for the preview's PostgreSQL failed: ${words}`, { cause: err });
    } finally {
      await rm(pwFile, { force: true });
    }
    await rename(staging, data);
    return data;
  }

  async function create(req: PreviewPostgresRequest, hostPort: number, superPassword: string): Promise<WorkloadRef> {
    const labels = { ...previewPostgresLabels(req.previewId), [LABEL_DATABASE_PORT]: String(hostPort) };
    const name = previewPostgresName(req.previewId);
    let spec: WorkloadSpec;
    if (runtime.capabilities.images) {
      const network = runtime.capabilities.networks ? req.network : undefined;
      spec = {
        name,
        image: opts.image,
        env: { POSTGRES_PASSWORD: superPassword },
        // Still published on 127.0.0.1: Berth itself connects there to provision the app's role.
        ports: [{ containerPort: CONTAINER_PORT, hostPort }],
        labels: network ? { ...labels, [LABEL_DATABASE_NETWORK]: network.name } : labels,
        ...(opts.dnsServers?.length ? { dnsServers: [...opts.dnsServers] } : {}),
        ...(network ? { network: { name: network.name, aliases: [PREVIEW_POSTGRES_HOST] } } : {}),
      };
      await req.say(`starting PostgreSQL from ${opts.image} on port ${hostPort}`);
    } else {
      const bin = binDir();
      const user = await serverUser();
      const data = await initCluster(bin, path.join(req.dir, 'postgres'), superPassword, user, req);
      spec = {
        name,
        image: '',
        command: [
          ...(user?.prefix ?? []),
          path.join(bin, 'postgres'),
          '-D', data,
          '-c', 'listen_addresses=127.0.0.1',
          '-p', String(hostPort),
          '-c', 'unix_socket_directories=',
        ],
        env: {},
        ports: [{ containerPort: hostPort, hostPort }],
        labels,
      };
      await req.say(`starting PostgreSQL (${bin}) on 127.0.0.1:${hostPort}`);
    }
    try {
      return await createFresh(runtime, spec);
    } catch (err) {
      if (!runtime.capabilities.images) throw err;
      const words = err instanceof Error ? err.message : String(err);
      const missing = /initializing source|trying to pull|pinging container registry|unable to find image|image not known|no such image|manifest unknown|pull access denied/i.test(words);
      throw new BerthError(
        'E_PREVIEW_BUILD',
        missing
          ? `database: container needs the image ${opts.image}, which is not present locally and could not be pulled (${words.split('\n')[0]})`
          : `database: container could not create its PostgreSQL from image ${opts.image}: ${words}`,
        {
          hint: `load ${opts.image} into the ${runtime.name} image store (e.g. \`${runtime.name} load -i postgres.tar\`), or set BERTH_PREVIEW_POSTGRES_IMAGE to an image that is present locally`,
          cause: err,
        },
      );
    }
  }

  /** Connects as the superuser once the server accepts connections; fails fast when the workload exits. */
  async function connectWhenReady(ref: WorkloadRef, host: string, port: number, password: string, signal: AbortSignal | undefined): Promise<pg.Client> {
    const deadline = Date.now() + readyTimeoutMs;
    let last = 'no answer';
    for (;;) {
      signal?.throwIfAborted();
      const status = await runtime.inspect(ref);
      if (status.state !== 'running') {
        const out = (await logTail(runtime, ref, 15)).trim().slice(-2000);
        throw new BerthError('E_PREVIEW_BUILD', `the preview's PostgreSQL exited (code ${status.exitCode ?? '?'}) before it accepted connections${out ? `:\n${out}` : ''}`);
      }
      const client = new pg.Client({ host, port, user: 'postgres', password, database: 'postgres', connectionTimeoutMillis: 2000, application_name: 'berth' });
      client.on('error', () => {});
      try {
        await client.connect();
        return client;
      } catch (err) {
        last = (err as Error).message;
        await client.end().catch(() => {});
        // A server that answers but refuses the password will not change its mind.
        if ((err as { code?: string }).code === '28P01') {
          throw new BerthError('E_PREVIEW_BUILD', `the preview's PostgreSQL refuses Berth's superuser password: ${last}`, {
            hint: `its server was set up with another key than ${opts.keyFile}; destroy the preview and build it again (its data is lost)`,
          });
        }
      }
      if (Date.now() > deadline) {
        throw new BerthError('E_PREVIEW_BUILD', `the preview's PostgreSQL did not accept connections within ${Math.round(readyTimeoutMs / 1000)} s (last: ${last})`);
      }
      await sleep(200, undefined, signal ? { signal } : undefined);
    }
  }

  /** Role and database `preview`, owned by the role; the role's password is (re)set every time. */
  async function provisionApp(client: pg.Client, password: string): Promise<void> {
    const ident = pg.escapeIdentifier(PREVIEW_APP_DATABASE);
    const verifier = pg.escapeLiteral(scramSha256Verifier(password));
    const role = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [PREVIEW_APP_DATABASE]);
    if (role.rowCount === 0) await client.query(`CREATE ROLE ${ident} WITH LOGIN NOSUPERUSER NOCREATEROLE PASSWORD ${verifier}`);
    else await client.query(`ALTER ROLE ${ident} WITH LOGIN PASSWORD ${verifier}`);
    const db = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [PREVIEW_APP_DATABASE]);
    if (db.rowCount === 0) await client.query(`CREATE DATABASE ${ident} OWNER ${ident} TEMPLATE template0 ENCODING 'UTF8'`);
  }

  return {
    async ensure(req) {
      key ??= loadKey(opts.keyFile).catch((err: unknown) => {
        key = undefined;
        throw err;
      });
      const superPassword = superuserPassword(await key, req.previewId);
      const found = (await runtime.list(previewPostgresLabels(req.previewId)))[0];
      let ref: WorkloadRef;
      let hostPort: number;
      let created = false;
      /** The network the server is on, as its label says (set at creation). */
      let serverNetwork = found?.labels[LABEL_DATABASE_NETWORK];
      const labelled = found ? Number(found.labels[LABEL_DATABASE_PORT]) : NaN;
      if (found && Number.isInteger(labelled) && labelled > 0) {
        ref = found.ref;
        hostPort = labelled;
        if (found.state !== 'running') {
          await req.say(`restarting the preview's PostgreSQL (${found.state})`);
          await runtime.start(ref);
        }
      } else {
        if (found) await runtime.remove(found.ref);
        // Whatever an interrupted attempt allocated goes back first: one port per server, never two.
        req.releasePort();
        hostPort = req.allocatePort();
        try {
          ref = await create(req, hostPort, superPassword);
        } catch (err) {
          req.releasePort();
          throw err;
        }
        created = true;
        serverNetwork = runtime.capabilities.images && runtime.capabilities.networks ? req.network?.name : undefined;
        await runtime.start(ref);
      }
      const status = await runtime.inspect(ref);
      const client = await connectWhenReady(ref, status.upstreamHost, hostPort, superPassword, req.signal);
      try {
        await provisionApp(client, req.password);
      } catch (err) {
        throw new BerthError('E_PREVIEW_BUILD', `provisioning the preview's database failed: ${(err as Error).message}`, { cause: err });
      } finally {
        await client.end().catch(() => {});
      }
      // On the preview's network: by name (see the top of this file).
      if (req.network && serverNetwork === req.network.name && req.network.nameFree) {
        return { url: appUrl(req.password, PREVIEW_POSTGRES_HOST, CONTAINER_PORT), ref, created };
      }
      // Other workloads reach it where the runtime says (a container's address), else where the edge would.
      const reach = (await runtime.inspect(ref)).networkAddress;
      if (runtime.capabilities.isolation && !reach) {
        throw new BerthError('E_PREVIEW_BUILD', `the ${runtime.name} runtime reports no network address for the preview's PostgreSQL, so the services could not reach it`, {
          hint: 'run rootful podman/docker with the default bridge network, or use database: host',
        });
      }
      const url = appUrl(req.password, reach ?? status.upstreamHost, reach ? CONTAINER_PORT : hostPort);
      return { url, ref, created };
    },

    async remove(previewId, dir) {
      const names: string[] = [];
      for (const w of await runtime.list(previewPostgresLabels(previewId))) {
        // A graceful stop first: a SIGKILLed postmaster leaves its shared memory segment behind.
        await runtime.stop(w.ref, { timeoutSeconds: 10 }).catch(() => {});
        await runtime.remove(w.ref);
        names.push(w.name);
      }
      await rm(path.join(dir, 'postgres'), { recursive: true, force: true });
      return names;
    },
  };
}
