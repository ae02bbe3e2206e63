/**
 * A throwaway PostgreSQL server for tests: initdb into a temp dir, start on a free loopback port,
 * create a non-superuser admin role (CREATEDB CREATEROLE, what BERTH_POSTGRES_URL asks for),
 * remove everything on stop. Uses the Debian packages' binaries (/usr/lib/postgresql/<ver>/bin).
 *
 * PostgreSQL refuses to run as root, so as root the binaries run as the `postgres` OS user
 * (runuser) in a directory handed over to it.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { findPostgresBin } from '../../src/infra/host-binaries.js';
import { freeLoopbackPort } from './free-port.js';

const execFileAsync = promisify(execFile);

export interface TestPostgres {
  /** Non-superuser admin (CREATEDB CREATEROLE): what Berth is given in production. */
  adminUrl: string;
  /** The bootstrap superuser, for assertions that need to see everything. */
  superuserUrl: string;
  host: string;
  port: number;
  /** Stops the server and deletes its data directory. */
  stop(): Promise<void>;
}

/** Directory of the newest installed PostgreSQL's binaries, or null. */
export { findPostgresBin };

/** argv prefix that runs a command as the postgres OS user when we are root. */
async function asPostgres(): Promise<{ prefix: string[]; uid?: number; gid?: number }> {
  if (process.getuid?.() !== 0) return { prefix: [] };
  const uid = Number((await execFileAsync('id', ['-u', 'postgres'])).stdout.trim());
  const gid = Number((await execFileAsync('id', ['-g', 'postgres'])).stdout.trim());
  return { prefix: ['runuser', '-u', 'postgres', '--'], uid, gid };
}

export async function startPostgres(): Promise<TestPostgres> {
  const bin = findPostgresBin();
  if (!bin) throw new Error('PostgreSQL binaries not found under /usr/lib/postgresql (run scripts/install-deps --test)');
  const user = await asPostgres();
  const dir = await mkdtemp(path.join(tmpdir(), 'berth-pg-'));
  const dataDir = path.join(dir, 'data');
  const superPassword = randomBytes(18).toString('base64url');
  const adminPassword = randomBytes(18).toString('base64url');
  const pwFile = path.join(dir, 'pwfile');
  await writeFile(pwFile, superPassword + '\n', { mode: 0o600 });
  if (user.uid !== undefined) {
    await chown(dir, user.uid, user.gid!);
    await chown(pwFile, user.uid, user.gid!);
  }
  const run = (argv: string[]): string[] => [...user.prefix, ...argv];

  const initArgv = run([
    path.join(bin, 'initdb'),
    '-D', dataDir,
    '-U', 'postgres',
    `--pwfile=${pwFile}`,
    '--auth-local=scram-sha-256',
    '--auth-host=scram-sha-256',
    '--encoding=UTF8',
    '--locale=C',
    '--no-sync',
  ]);
  await execFileAsync(initArgv[0]!, initArgv.slice(1));

  const port = await freeLoopbackPort();
  const serverArgv = run([
    path.join(bin, 'postgres'),
    '-D', dataDir,
    '-h', '127.0.0.1',
    '-p', String(port),
    '-k', dir, // unix socket in our temp dir, not /var/run/postgresql
    '-c', 'fsync=off',
    '-c', 'full_page_writes=off',
    '-c', 'synchronous_commit=off',
  ]);
  // Own process group, so stop() can signal postgres itself and not only runuser.
  const child: ChildProcess = spawn(serverArgv[0]!, serverArgv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const superuserUrl = `postgres://postgres:${superPassword}@127.0.0.1:${port}/postgres`;
  const adminUrl = `postgres://berth_admin:${adminPassword}@127.0.0.1:${port}/postgres`;

  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null && child.pid) {
      try {
        process.kill(-child.pid, 'SIGINT'); // fast shutdown
      } catch {
        // already gone
      }
      const timer = setTimeout(() => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          // already gone
        }
      }, 10_000);
      await exited;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  };

  try {
    await waitForPostgres(superuserUrl, () => child.exitCode !== null, () => stderr);
    const c = new pg.Client({ connectionString: superuserUrl });
    await c.connect();
    await c.query(`CREATE ROLE berth_admin WITH LOGIN CREATEDB CREATEROLE PASSWORD ${pg.escapeLiteral(adminPassword)}`);
    await c.end();
  } catch (err) {
    await stop();
    throw err;
  }
  return { adminUrl, superuserUrl, host: '127.0.0.1', port, stop };
}

async function waitForPostgres(url: string, died: () => boolean, log: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (died()) throw new Error(`postgres exited during startup:\n${log()}`);
    const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
    c.on('error', () => {});
    try {
      await c.connect();
      await c.end();
      return;
    } catch (err) {
      await c.end().catch(() => {});
      if (Date.now() > deadline) throw new Error(`postgres did not accept connections in 30 s: ${(err as Error).message}\n${log()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Runs `statements` in order on one connection as `url`'s role. */
export async function runSql(url: string, ...statements: string[]): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    for (const s of statements) await c.query(s);
  } finally {
    await c.end();
  }
}
