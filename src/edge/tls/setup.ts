/**
 * TLS for the daemon (BERTH_TLS): the certificate store with its source, the edge's TLS options
 * and the plain-HTTP redirect listener. `off` → null: the edge speaks plain HTTP as before.
 */
import type { AddressInfo } from 'node:net';
import type { BerthConfig } from '../../config/schema.js';
import { BerthError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { EdgeTls } from '../edge-contract.js';
import { CertificateStore, type CertificateStatus } from './certificates.js';
import { watchCertificateFiles, type FileCertificates } from './file-certificates.js';
import { createRedirectServer, type RedirectServer } from './redirect.js';
import { setupAcme, type AcmeTls } from './acme/setup.js';

export interface DaemonTls {
  edge: EdgeTls;
  store: CertificateStore;
  /**
   * Opens the HTTP→HTTPS redirect listener (BERTH_HTTP_PORT; none when 0); resolves to its address
   * or null. With BERTH_TLS=acme it then starts ordering (HTTP-01 answers come through it).
   */
  listenRedirect(httpsPort: () => number): Promise<AddressInfo | null>;
  status(): CertificateStatus[];
  close(): Promise<void>;
}

export interface SetupTlsOptions {
  /** BERTH_TLS=acme: whether the edge currently routes `host` (only such hosts are ordered on demand). */
  isRouted?: (host: string) => boolean;
}

/** Loads the certificate (throwing E_CONFIG with what to do when it is unusable) or returns null for BERTH_TLS=off. */
export function setupTls(config: BerthConfig, log: Logger, opts: SetupTlsOptions = {}): DaemonTls | null {
  if (config.tls === 'off') return null;
  const store = new CertificateStore();
  let files: FileCertificates | null = null;
  let acme: AcmeTls | null = null;
  if (config.tls === 'acme') {
    acme = setupAcme(config, store, log.child({ component: 'acme' }), opts.isRouted ?? (() => false));
  } else {
    files = loadFiles(config, store, log);
  }
  let redirect: RedirectServer | null = null;
  return {
    edge: { sniCallback: acme ? acme.sniCallback : store.sniCallback, hstsMaxAge: config.hstsMaxAge },
    store,
    async listenRedirect(httpsPort) {
      const port = config.httpPort ?? 80;
      if (port === 0) {
        acme?.start();
        return null;
      }
      redirect = createRedirectServer({ httpsPort, log, ...(acme ? { challenge: acme.challenge } : {}) });
      try {
        const address = await redirect.listen(port, config.host);
        // Orders start once HTTP-01 challenges can be answered.
        acme?.start();
        return address;
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        throw new BerthError('E_CONFIG', `cannot listen on ${config.host}:${port} (HTTP→HTTPS redirect): ${e.code ?? e.message}`, {
          hint: e.code === 'EACCES' ? 'ports below 1024 need root or CAP_NET_BIND_SERVICE; or set BERTH_HTTP_PORT (0 = no redirect listener)' : 'another process uses this port: stop it or set BERTH_HTTP_PORT (0 = none)',
          cause: err,
        });
      }
    },
    status: () => store.status(),
    async close() {
      files?.close();
      acme?.close();
      await redirect?.close();
    },
  };
}

function loadFiles(config: BerthConfig, store: CertificateStore, log: Logger): FileCertificates {
  if (!config.tlsCertFile || !config.tlsKeyFile) {
    throw new BerthError('E_CONFIG', 'BERTH_TLS=files needs BERTH_TLS_CERT_FILE and BERTH_TLS_KEY_FILE', {
      hint: 'point them at the PEM certificate (with its chain) and its key, or set BERTH_TLS=off',
    });
  }
  const files = watchCertificateFiles({ certFile: config.tlsCertFile, keyFile: config.tlsKeyFile, store, log });
  try {
    files.load();
  } catch (err) {
    files.close();
    const why = err instanceof Error ? err.message : String(err);
    throw new BerthError('E_CONFIG', `BERTH_TLS=files: cannot use ${config.tlsCertFile} / ${config.tlsKeyFile}: ${why}`, {
      hint: 'fix the files (PEM certificate and its matching key, currently valid) and start Berth again',
      cause: err,
    });
  }
  return files;
}
