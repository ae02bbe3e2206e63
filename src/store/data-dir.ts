/**
 * The data directory's first check at start (also used by `berth doctor`).
 */
import { accessSync, closeSync, constants, fsyncSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { BerthError, isBerthError } from '../errors.js';
import type { Logger } from '../log.js';
import { tightenMode } from './file-modes.js';

/** Bytes written and removed at start to prove the data directory can take a write. */
const DATA_DIR_PROBE_BYTES = 1024 * 1024;

/**
 * Creates the data directory and proves it takes a real write (1 MiB, fsynced, removed): a
 * read-only or full filesystem then stops Berth at once with a clear error, instead of a stack
 * trace from SQLite or a half-written token file later. An existing directory open to other users
 * is made 0700 with a warning on `log`, or refused when it is not ours (see store/file-modes.ts).
 */
export function prepareDataDir(dir: string, log?: Logger): void {
  const probe = path.join(dir, `.write-probe-${process.pid}`);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    accessSync(dir, constants.W_OK);
    tightenMode(dir, 0o700, log);
    const fd = openSync(probe, 'w', 0o600);
    try {
      // write(2) stores what fits and returns a short count; only the next call says ENOSPC.
      const buf = Buffer.alloc(DATA_DIR_PROBE_BYTES);
      for (let off = 0; off < buf.length; ) off += writeSync(fd, buf, off, buf.length - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    if (isBerthError(err)) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC' || code === 'EDQUOT') {
      throw new BerthError('E_DISK_FULL', `no space left for the data directory ${dir} (${code})`, {
        hint: 'free space on its filesystem (Berth needs room for its SQLite store, logs and preview checkouts), or set BERTH_DATA_DIR to another disk',
        cause: err,
      });
    }
    throw new BerthError('E_CONFIG', `data directory ${dir} is not writable: ${(err as Error).message}`, {
      hint: 'set BERTH_DATA_DIR to a directory this user can write, or fix its permissions',
      cause: err,
    });
  } finally {
    try {
      rmSync(probe, { force: true });
    } catch {
      // A read-only filesystem refuses even this; the error above already says what is wrong.
    }
  }
}
