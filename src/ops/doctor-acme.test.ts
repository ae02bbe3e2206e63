import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createTestCa, type TestCa } from '../../test/support/test-certs.js';
import { configSchema } from '../config/schema.js';
import { AcmeStorage } from '../edge/tls/acme/account.js';
import { checkAcmeCertificates } from './doctor-acme.js';

describe('berth doctor: BERTH_TLS=acme certificates', () => {
  let ca: TestCa;
  let dataDir: string;
  before(() => {
    ca = createTestCa();
    dataDir = mkdtempSync(path.join(tmpdir(), 'berth-doctor-acme-'));
  });
  after(() => {
    ca.cleanup();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const config = (extra: Record<string, unknown> = {}) => configSchema.parse({ tls: 'acme', dataDir, publicUrl: 'https://berth.example.com', ...extra });

  it('no BERTH_PUBLIC_URL fails; nothing stored yet warns naming the hosts', () => {
    assert.equal(checkAcmeCertificates(configSchema.parse({ tls: 'acme', dataDir })).status, 'fail');
    const r = checkAcmeCertificates(config({ appsDomain: 'apps.example.com', acmeDnsProvider: 'cloudflare' }));
    assert.equal(r.status, 'warn');
    assert.match(r.detail, /none yet for berth\.example\.com, \*\.apps\.example\.com/);
    assert.match(r.hint ?? '', /berth status/);
  });

  it('reads what the daemon stored: ok with the first expiry, a warning when it is close', () => {
    const storage = new AcmeStorage(dataDir);
    const dash = ca.issue('dash', ['berth.example.com'], { days: 60 });
    storage.save({ name: 'berth.example.com', cert: dash.cert, key: dash.key });
    const r = checkAcmeCertificates(config());
    assert.equal(r.status, 'ok', JSON.stringify(r));
    assert.match(r.detail, /1 ACME certificate .*first to expire: berth\.example\.com on \d{4}-\d\d-\d\d \(\d+ days\)/);
    // 50 days on: 10 days left, under the warning threshold (renewal should have run at 30).
    const close = checkAcmeCertificates(config(), new Date(Date.now() + 50 * 86_400_000));
    assert.equal(close.status, 'warn');
    assert.match(close.hint ?? '', /renewals are failing/);
    // Past its end it is unusable, and the dashboard host has none.
    const later = checkAcmeCertificates(config(), new Date(Date.now() + 61 * 86_400_000));
    assert.equal(later.status, 'warn');
    assert.match(later.detail, /unusable: berth\.example\.com \(the certificate expired.*none yet for berth\.example\.com/);
  });
});
