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

export interface DaemonTls {
  edge: EdgeTls;
  store: CertificateStore;
  /** Opens the HTTP→HTTPS redirect listener (BERTH_HTTP_PORT; none when 0); resolves to its address or null. */
  listenRedirect(httpsPort: () => number): Promise<AddressInfo | null>;
  status(): CertificateStatus[];
  close(): Promise<void>;
}

/** Loads the certificate (throwing E_CONFIG with what to do when it is unusable) or returns null for BERTH_TLS=off. */
export function setupTls(config: BerthConfig, log: Logger): DaemonTls | null {
  if (config.tls === 'off') return null;
  if (!config.tlsCertFile || !config.tlsKeyFile) {
    throw new BerthError('E_CONFIG', 'BERTH_TLS=files needs BERTH_TLS_CERT_FILE and BERTH_TLS_KEY_FILE', {
      hint: 'point them at the PEM certificate (with its chain) and its key, or set BERTH_TLS=off',
    });
  }
  const store = new CertificateStore();
  const files: FileCertificates = watchCertificateFiles({ certFile: config.tlsCertFile, keyFile: config.tlsKeyFile, store, log });
  try {
    files.load();
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new BerthError('E_CONFIG', `BERTH_TLS=files: cannot use ${config.tlsCertFile} / ${config.tlsKeyFile}: ${why}`, {
      hint: 'fix the files (PEM certificate and its matching key, currently valid) and start Berth again',
      cause: err,
    });
  }
  let redirect: RedirectServer | null = null;
  return {
    edge: { sniCallback: store.sniCallback, hstsMaxAge: config.hstsMaxAge },
    store,
    async listenRedirect(httpsPort) {
      const port = config.httpPort ?? 80;
      if (port === 0) return null;
      redirect = createRedirectServer({ httpsPort, log });
      try {
        return await redirect.listen(port, config.host);
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
      files.close();
      await redirect?.close();
    },
  };
}
