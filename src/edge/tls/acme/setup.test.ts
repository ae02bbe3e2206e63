import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { configSchema } from '../../../config/schema.js';
import { isBerthError } from '../../../errors.js';
import { silentLogger } from '../../../log.js';
import { setupTls } from '../setup.js';

describe('BERTH_TLS=acme refuses settings that cannot work, at start, with what to set', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'berth-acme-setup-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const refused = (raw: Record<string, unknown>, pattern: RegExp): void => {
    const config = configSchema.parse({ tls: 'acme', dataDir: dir, httpPort: 8080, ...raw });
    assert.throws(() => setupTls(config, silentLogger()), (e: unknown) => isBerthError(e) && e.code === 'E_CONFIG' && pattern.test(e.message) && !!e.hint, JSON.stringify(raw));
  };

  it('names the missing or unusable setting', () => {
    writeFileSync(path.join(dir, 'not-pem.txt'), 'hello');
    refused({}, /needs BERTH_PUBLIC_URL/);
    refused({ publicUrl: 'https://192.0.2.10' }, /needs BERTH_PUBLIC_URL with the DNS name/);
    refused({ publicUrl: 'https://berth.example.com', acmeDnsProvider: 'cloudflare' }, /BERTH_ACME_CLOUDFLARE_TOKEN/);
    refused({ publicUrl: 'https://berth.example.com', acmeDnsProvider: 'rfc2136' }, /BERTH_ACME_RFC2136_SERVER/);
    refused({ publicUrl: 'https://berth.example.com', acmeCaFile: path.join(dir, 'missing.pem') }, /BERTH_ACME_CA_FILE: cannot read/);
    refused({ publicUrl: 'https://berth.example.com', acmeCaFile: path.join(dir, 'not-pem.txt') }, /holds no PEM certificate/);
    refused({ publicUrl: 'https://berth.example.com', httpPort: 0 }, /BERTH_HTTP_PORT=0 and no BERTH_ACME_DNS_PROVIDER/);
  });

  it('with good settings, nothing is ordered before the listeners are up; status starts empty', async () => {
    const tls = setupTls(configSchema.parse({ tls: 'acme', dataDir: dir, httpPort: 8080, publicUrl: 'https://berth.example.com', acmeDirectoryUrl: 'https://127.0.0.1:9/dir' }), silentLogger());
    assert.ok(tls);
    assert.deepEqual(tls.status(), []);
    await tls.close();
  });
});
