/**
 * What BERTH_TLS=acme keeps on disk, under `<dataDir>/tls/acme/` (0700): the ACME account key
 * (made once, reused for every order and across restarts) and one certificate + key pair per
 * order, all 0600. Pairs are written aside and renamed over, so a crash mid-write never leaves a
 * half file that the next start would refuse. Loaded at start: a restart serves what it has and
 * orders nothing that is still valid.
 */
import { chmodSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import acme from 'acme-client';

/** A stored certificate pair, by the name it was ordered for (`berth.example.com`, `*.apps.example.com`). */
export interface StoredPair {
  name: string;
  cert: string;
  key: string;
}

/** A DNS name or wildcard we order for: lower-case labels, at most one leading `*.`. */
const ORDER_NAME_RE = /^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** Whether `name` is a DNS name (or `*.` wildcard) that may be ordered and stored. */
export function isOrderName(name: string): boolean {
  // An IPv4 literal matches the label grammar but cannot get a certificate by HTTP-01 here.
  return name.length <= 253 && ORDER_NAME_RE.test(name) && isIP(name) === 0;
}

/** The file stem of a name: `*.` becomes `_wildcard.` (a `*` in a file name trips shells and tools). */
export function fileStem(name: string): string {
  return name.startsWith('*.') ? `_wildcard.${name.slice(2)}` : name;
}

function nameOfStem(stem: string): string {
  return stem.startsWith('_wildcard.') ? `*.${stem.slice('_wildcard.'.length)}` : stem;
}

/** Writes `text` to `file` with mode 0600 through a temporary file and a rename. */
function writePrivate(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  chmodSync(tmp, 0o600); // an existing tmp keeps its old mode under writeFileSync
  renameSync(tmp, file);
}

/** The ACME directory of the data dir. */
export class AcmeStorage {
  readonly dir: string;
  private readonly certDir: string;

  constructor(private readonly dataDir: string) {
    this.dir = path.join(dataDir, 'tls', 'acme');
    this.certDir = path.join(this.dir, 'certs');
    mkdirSync(this.certDir, { recursive: true, mode: 0o700 });
    chmodSync(this.dir, 0o700);
    chmodSync(this.certDir, 0o700);
  }

  /** The account key (PEM), generated on first use and kept 0600. */
  async accountKey(): Promise<string> {
    const file = path.join(this.dir, 'account.key');
    try {
      return readFileSync(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const key = (await acme.crypto.createPrivateEcdsaKey('P-256')).toString();
    writePrivate(file, key);
    return key;
  }

  /** Stores an issued pair (the key first: a certificate on disk always has its key). */
  save(pair: StoredPair): void {
    const stem = fileStem(pair.name);
    writePrivate(path.join(this.certDir, `${stem}.key`), pair.key);
    writePrivate(path.join(this.certDir, `${stem}.pem`), pair.cert);
  }

  /** Every stored pair (see readStoredPairs). */
  loadAll(): StoredPair[] {
    return readStoredPairs(this.dataDir);
  }
}

/** The stored pairs of a data dir whose two files are present, without creating anything (also for `berth doctor`). */
export function readStoredPairs(dataDir: string): StoredPair[] {
  const certDir = path.join(dataDir, 'tls', 'acme', 'certs');
  let files: string[];
  try {
    files = readdirSync(certDir);
  } catch {
    return [];
  }
  const out: StoredPair[] = [];
  for (const f of files) {
    if (!f.endsWith('.pem')) continue;
    const name = nameOfStem(f.slice(0, -'.pem'.length));
    if (!isOrderName(name)) continue;
    try {
      const cert = readFileSync(path.join(certDir, f), 'utf8');
      const key = readFileSync(path.join(certDir, `${fileStem(name)}.key`), 'utf8');
      out.push({ name, cert, key });
    } catch {
      // A pair without its key is ordered again, as if it were missing.
    }
  }
  return out;
}
