/**
 * `BERTH_TLS=files`: a certificate and key from disk (a chain and a wildcard allowed, e.g. a
 * Cloudflare origin certificate), reloaded when either file changes. Files are polled by stat
 * (`fs.watchFile`): that survives the rename a certificate tool or `cp` does when it replaces a
 * file, which an inotify watch on the old inode would miss. A change is applied after both files
 * were quiet for `settleMs`, so a cert written a moment before its key is not read half-way; a
 * pair that does not check out (mismatch, expired, unreadable) is refused and the previous one
 * keeps serving, with the reason in `status()`.
 */
import { readFileSync, unwatchFile, watchFile, type Stats } from 'node:fs';
import { isBerthError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { loadCertificate, type CertificateStore } from './certificates.js';

export const FILES_SOURCE = 'files';

export interface FileCertificatesOptions {
  certFile: string;
  keyFile: string;
  store: CertificateStore;
  log: Logger;
  /** stat interval (default 2 s). */
  pollMs?: number;
  /** Quiet time after a change before reloading (default 500 ms). */
  settleMs?: number;
}

/** Handle of the watcher; `close()` stops polling. */
export interface FileCertificates {
  /** Reads both files now; throws when the pair is unusable (at start, Berth refuses to run without it). */
  load(): void;
  close(): void;
}

function describe(err: unknown): string {
  if (isBerthError(err)) return `${err.message}${err.hint ? ` (${err.hint})` : ''}`;
  return err instanceof Error ? err.message : String(err);
}

export function watchCertificateFiles(opts: FileCertificatesOptions): FileCertificates {
  const { certFile, keyFile, store, log } = opts;
  const settleMs = opts.settleMs ?? 500;
  let timer: NodeJS.Timeout | null = null;
  let closed = false;

  const read = (): void => {
    const cert = loadCertificate(readFileSync(certFile, 'utf8'), readFileSync(keyFile, 'utf8'));
    store.put(FILES_SOURCE, cert);
    log.info({ names: cert.names, notAfter: cert.notAfter.toISOString(), serial: cert.serial }, 'TLS certificate loaded from files');
  };

  const reload = (): void => {
    timer = null;
    if (closed) return;
    try {
      read();
    } catch (err) {
      const why = describe(err);
      store.fail(FILES_SOURCE, why);
      log.error({ err, certFile, keyFile }, `TLS certificate files changed but cannot be used; the previous certificate keeps serving: ${why}`);
    }
  };

  const changed = (curr: Stats, prev: Stats): void => {
    if (curr.mtimeMs === prev.mtimeMs && curr.ino === prev.ino && curr.size === prev.size) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(reload, settleMs);
    timer.unref();
  };

  const pollOpts = { interval: opts.pollMs ?? 2000, persistent: false };
  return {
    load() {
      try {
        read();
      } catch (err) {
        store.fail(FILES_SOURCE, describe(err));
        throw err;
      }
      watchFile(certFile, pollOpts, changed);
      watchFile(keyFile, pollOpts, changed);
    },
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      unwatchFile(certFile, changed);
      unwatchFile(keyFile, changed);
    },
  };
}
