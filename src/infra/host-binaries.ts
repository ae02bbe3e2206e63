/**
 * Finding the host's PostgreSQL and Redis programs (Debian packages) for Berth's own shared
 * services on the process runtime, and the OS user PostgreSQL must run as when Berth runs as root
 * (the server refuses to run as root). Lookups only; nothing here starts a server.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { BerthError } from '../errors.js';

const execFileAsync = promisify(execFile);

/** Directory of the newest PostgreSQL server binaries under `root` (Debian: /usr/lib/postgresql/<ver>/bin), or null. */
export function findPostgresBin(root = '/usr/lib/postgresql'): string | null {
  if (!existsSync(root)) return null;
  const versions = readdirSync(root)
    .filter((v) => /^\d+(\.\d+)?$/.test(v) && existsSync(path.join(root, v, 'bin', 'initdb')) && existsSync(path.join(root, v, 'bin', 'postgres')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? path.join(root, versions[0], 'bin') : null;
}

/** `redis-server` on PATH (or in /usr/bin, /usr/local/bin), or null. */
export function findRedisServer(pathEnv = process.env.PATH ?? ''): string | null {
  for (const dir of [...pathEnv.split(path.delimiter), '/usr/bin', '/usr/local/bin']) {
    const candidate = path.join(dir, 'redis-server');
    if (dir && existsSync(candidate)) return candidate;
  }
  return null;
}

/** The OS account PostgreSQL runs as when Berth is root. */
export interface PostgresOsUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
  /** argv prefix that runs a program as this user (`runuser -u postgres --`). */
  prefix: string[];
}

/**
 * The `postgres` OS user (from the Debian package) when the daemon runs as root; null when it does
 * not (the server then runs as the daemon's own user). Throws E_INFRA_UNAVAILABLE when root has no
 * such user to hand the server to.
 */
export async function postgresOsUser(): Promise<PostgresOsUser | null> {
  if (process.getuid?.() !== 0) return null;
  let line: string;
  try {
    line = (await execFileAsync('getent', ['passwd', 'postgres'])).stdout.trim();
  } catch (err) {
    throw new BerthError('E_INFRA_UNAVAILABLE', 'PostgreSQL refuses to run as root, and there is no `postgres` OS user to run it as', {
      hint: "install Debian's postgresql package (it creates the user), run Berth as a normal user, or set BERTH_POSTGRES_URL",
      cause: err,
    });
  }
  const [name, , uid, gid, , home] = line.split(':');
  return { name: name!, uid: Number(uid), gid: Number(gid), home: home || '/var/lib/postgresql', prefix: ['runuser', '-u', name!, '--'] };
}

/**
 * Runs a host binary (argv, no shell; PATH and LC_ALL=C only) and resolves with stdout then
 * stderr; rejects with the child's error, its stderr attached.
 */
export function runHostBinary(bin: string, argv: string[], opts: { timeoutMs: number; signal?: AbortSignal | undefined }): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(bin, argv, { timeout: opts.timeoutMs, maxBuffer: 4 * 1024 * 1024, signal: opts.signal, env: { PATH: process.env.PATH, LC_ALL: 'C' } }, (err, stdout, stderr) => {
      if (err) reject(Object.assign(err, { stderr: String(stderr) }));
      else resolve(`${stdout}${stderr}`);
    });
  });
}
