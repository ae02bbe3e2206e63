/**
 * A throw-away certificate authority for TLS tests, made with the openssl CLI (argv only): a CA,
 * and leaf certificates it signs for the names a test needs (DNS and IP subjectAltNames). Tests
 * trust the CA through `ca`, as a browser trusting a private root would.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface TestCa {
  dir: string;
  caPem: string;
  /** Issues a leaf for `names` (DNS names, or IPs) valid `days` (negative: already expired); returns the file paths and PEM texts. */
  issue(label: string, names: string[], opts?: { days?: number }): { certFile: string; keyFile: string; cert: string; key: string };
  cleanup(): void;
}

const openssl = (dir: string, args: string[]): void => {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
};

export function createTestCa(): TestCa {
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-ca-'));
  openssl(dir, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=Berth test CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  let serial = 1;
  return {
    dir,
    caPem: readFileSync(path.join(dir, 'ca.pem'), 'utf8'),
    issue(label, names, opts = {}) {
      const key = path.join(dir, `${label}.key`);
      const csr = path.join(dir, `${label}.csr`);
      const cert = path.join(dir, `${label}.pem`);
      const ext = path.join(dir, `${label}.ext`);
      const san = names.map((n) => (/^[\d.]+$|:/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
      writeFileSync(ext, `subjectAltName=${san}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n`);
      openssl(dir, ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${names[0]}`]);
      const days = opts.days ?? 1;
      if (days > 0) {
        openssl(dir, ['x509', '-req', '-in', csr, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', String(serial++), '-out', cert, '-extfile', ext, '-days', String(days)]);
      } else {
        // An expired certificate needs explicit dates: `openssl ca` takes them (x509 -req does not in openssl 3.0).
        writeFileSync(path.join(dir, 'ca.cnf'), '[ca]\ndefault_ca=d\n[d]\ndatabase=index.txt\nnew_certs_dir=.\nserial=serial\ndefault_md=sha256\npolicy=p\nunique_subject=no\n[p]\ncommonName=supplied\n');
        writeFileSync(path.join(dir, 'index.txt'), '');
        writeFileSync(path.join(dir, 'serial'), `${(4096 + serial++).toString(16).padStart(4, '0')}\n`);
        openssl(dir, ['ca', '-batch', '-config', 'ca.cnf', '-cert', 'ca.pem', '-keyfile', 'ca.key', '-in', csr, '-out', cert, '-extfile', ext, '-startdate', '20200101000000Z', '-enddate', '20200102000000Z', '-notext']);
      }
      return { certFile: cert, keyFile: key, cert: readFileSync(cert, 'utf8'), key: readFileSync(key, 'utf8') };
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
