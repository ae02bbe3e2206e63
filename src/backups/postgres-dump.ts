/**
 * One app's PostgreSQL database as a `pg_dump --format=custom` stream and back with
 * `pg_restore --clean`, both run as the app's own role (the owner of its database and objects):
 * the dump holds exactly what the app can see, and restored objects belong to the app again.
 * Credentials travel in the child's environment (PG*), never in argv where `ps` shows them.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { BerthError } from '../errors.js';
import { findPostgresBin } from '../infra/host-binaries.js';

function pgEnv(url: string): NodeJS.ProcessEnv {
  const u = new URL(url);
  const database = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (!database) throw new BerthError('E_BAD_REQUEST', 'the database URL names no database');
  return {
    PATH: process.env.PATH,
    LC_ALL: 'C',
    PGHOST: u.hostname.replace(/^\[|\]$/g, ''),
    PGPORT: u.port || '5432',
    PGUSER: decodeURIComponent(u.username),
    PGPASSWORD: decodeURIComponent(u.password),
    PGDATABASE: database,
    PGCONNECT_TIMEOUT: '10',
    ...(u.searchParams.get('sslmode') ? { PGSSLMODE: u.searchParams.get('sslmode')! } : {}),
  };
}

function bin(name: 'pg_dump' | 'pg_restore'): string {
  const dir = findPostgresBin();
  if (!dir) throw new BerthError('E_CONFIG', `${name} is not installed`, { hint: 'install the postgresql client (scripts/install-deps --test installs postgresql)' });
  return path.join(dir, name);
}

/**
 * A stream of the database at `url` (the app's role and database). The stream errors with
 * E_BACKUP (pg_dump's last words) when pg_dump fails, so a broken dump never looks complete.
 */
export function dumpDatabase(url: string): Readable {
  const out = new PassThrough();
  const child = spawn(bin('pg_dump'), ['--format=custom', '--no-owner', '--no-privileges', '--compress=6'], { env: pgEnv(url), stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (c: string) => (err = (err + c).slice(-4000)));
  child.stdout.pipe(out, { end: false });
  child.on('error', (e) => out.destroy(new BerthError('E_BACKUP', `pg_dump could not run: ${e.message}`, { cause: e })));
  child.on('close', (code) => {
    if (code === 0) out.end();
    else out.destroy(new BerthError('E_BACKUP', `pg_dump failed: ${err.trim().split('\n').slice(-2).join(' ') || `exit ${code}`}`, { hint: "check the app's database is reachable with its stored credentials" }));
  });
  return out;
}

/** Restores a dumpDatabase stream into the database at `url`, replacing the objects it holds. */
export function restoreDatabase(url: string, input: Readable): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin('pg_restore'), ['--clean', '--if-exists', '--no-owner', '--no-privileges', '--exit-on-error', '--single-transaction', `--dbname=${pgEnv(url).PGDATABASE}`], {
      env: pgEnv(url),
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (c: string) => (err = (err + c).slice(-4000)));
    child.stdin.on('error', () => {}); // pg_restore exiting early closes the pipe; its exit code says why
    input.on('error', (e) => {
      child.kill('SIGTERM');
      reject(e);
    });
    input.pipe(child.stdin);
    child.on('error', (e) => reject(new BerthError('E_BACKUP', `pg_restore could not run: ${e.message}`, { cause: e })));
    child.on('close', (code) => {
      if (code === 0) resolve();
      else reject(new BerthError('E_BACKUP', `pg_restore failed: ${err.trim().split('\n').slice(-2).join(' ') || `exit ${code}`}`, { hint: 'the database is unchanged (single transaction); check the snapshot and the server version' }));
    });
  });
}
