/**
 * Owner-only modes for Berth's data directory (0700) and the files in it that hold secrets (0600:
 * the SQLite store with its -wal/-shm, the token). Checked at every start, not only at creation:
 * a directory made by hand, restored from a backup or created under a loose umask by an older
 * Berth must not keep session and API token hashes, app secrets and database passwords readable
 * by other users of the host.
 */
import { chmodSync, closeSync, lstatSync, openSync } from 'node:fs';
import { BerthError } from '../errors.js';
import type { Logger } from '../log.js';

const octal = (mode: number): string => (mode & 0o777).toString(8).padStart(3, '0');

/**
 * Makes `target` (an existing file or directory) accessible to its owner only: nothing to do when
 * it already is; otherwise chmod to `mode` with a warning. Refuses (E_CONFIG) what it must not or
 * cannot tighten: something owned by another user (that user could loosen it again or replace
 * what is inside, so tightening it would only hide the problem) or a chmod the system refuses.
 * A missing `target` is left alone.
 */
export function tightenMode(target: string, mode: 0o700 | 0o600, log?: Logger): void {
  let st;
  try {
    // lstat: a symlink in place of the store is not followed to chmod whatever it points at.
    st = lstatSync(target);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if ((st.mode & 0o077) === 0) return;
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) {
    throw new BerthError('E_CONFIG', `${target} is readable by others (mode ${octal(st.mode)}) and owned by uid ${st.uid}, not by this user (uid ${uid})`, {
      hint: `chown it to the user that runs Berth and chmod it ${octal(mode)}, or set BERTH_DATA_DIR to a directory of that user`,
    });
  }
  try {
    chmodSync(target, mode);
  } catch (err) {
    throw new BerthError('E_CONFIG', `${target} is readable by others (mode ${octal(st.mode)}) and cannot be made private: ${(err as Error).message}`, {
      hint: `chmod it ${octal(mode)} by hand, or set BERTH_DATA_DIR to a directory on a filesystem that keeps permissions`,
      cause: err,
    });
  }
  log?.warn({ path: target, was: octal(st.mode), now: octal(mode) }, `${target} was readable by other users (mode ${octal(st.mode)}); changed to ${octal(mode)}`);
}

/**
 * Creates `file` empty with mode 0600 when it does not exist (so whatever opens it next, SQLite
 * included, finds it private and never creates it under the process umask), else tightens it.
 */
export function ensurePrivateFile(file: string, log?: Logger): void {
  try {
    // 'wx': only when absent; an existing file is never truncated.
    closeSync(openSync(file, 'wx', 0o600));
    // The umask may have removed the owner's own bits: exactly 0600.
    chmodSync(file, 0o600);
    return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  tightenMode(file, 0o600, log);
}
