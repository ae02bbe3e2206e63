/**
 * Host-side helpers of the preview PostgreSQL servers (preview-postgres.ts): the key their
 * superuser passwords derive from, and how the process runtime runs the server binaries as the
 * `postgres` OS user when Berth is root.
 */
import { runHostBinary as run } from '../infra/host-binaries.js';
import { createHmac, randomBytes } from 'node:crypto';
import { link, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { BerthError } from '../errors.js';

/** The superuser's password of one preview's server: HMAC of the preview id under Berth's key. */
export function superuserPassword(key: Buffer, previewId: string): string {
  return createHmac('sha256', key).update(`berth preview postgres superuser ${previewId}`).digest('base64url');
}

/** Reads the key file, creating it (random, 0600) when missing; a concurrent creator's key wins. */
export async function loadKey(file: string): Promise<Buffer> {
  const read = async (): Promise<Buffer | null> => {
    try {
      const text = (await readFile(file, 'utf8')).trim();
      return /^[0-9a-f]{64}$/.test(text) ? Buffer.from(text, 'hex') : null;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  };
  const existing = await read();
  if (existing) return existing;
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  // Written aside, then linked into place: the file never exists half-written, and never twice.
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  await writeFile(tmp, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
  try {
    await link(tmp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    await rm(tmp, { force: true });
  }
  const key = await read();
  if (!key) {
    throw new BerthError('E_CONFIG', `${file} does not hold a preview database key`, {
      hint: 'it is made by Berth; if it was damaged and no preview uses database: container, delete it',
    });
  }
  return key;
}

/** How the server processes run when the daemon is root: as the `postgres` OS user. */
export interface ServerUser {
  uid: number;
  gid: number;
  /** argv prefix. */
  prefix: string[];
}

/** The `postgres` OS user to run the server as when Berth is root; null otherwise. */
export async function serverUser(): Promise<ServerUser | null> {
  if (process.getuid?.() !== 0) return null;
  let line: string;
  try {
    line = (await run('getent', ['passwd', 'postgres'], { timeoutMs: 10_000 })).trim();
  } catch (err) {
    throw new BerthError('E_PREVIEW_BUILD', 'database: container on the process runtime: PostgreSQL refuses to run as root, and there is no `postgres` OS user to run it as', {
      hint: "install Debian's postgresql package (it creates the user), or run Berth as a normal user",
      cause: err,
    });
  }
  const [, , uid, gid] = line.split(':');
  return {
    uid: Number(uid),
    gid: Number(gid),
    // CAP_DAC_READ_SEARCH only: enough to reach the cluster through Berth's 0700 data directory.
    prefix: ['setpriv', '--reuid=postgres', '--regid=postgres', '--init-groups', '--inh-caps=+dac_read_search', '--ambient-caps=+dac_read_search', '--'],
  };
}

export { run };
