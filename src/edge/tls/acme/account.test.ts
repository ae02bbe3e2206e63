import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { AcmeStorage, fileStem, isOrderName } from './account.js';

describe('ACME storage', () => {
  it('orders only DNS names: no IPs, no odd characters, one leading wildcard label at most', () => {
    for (const ok of ['berth.example.com', '*.apps.example.com', '8080--abc.apps.example.com']) assert.equal(isOrderName(ok), true, ok);
    for (const bad of ['127.0.0.1', 'localhost', '*.*.example.com', 'a..example.com', 'x.example.com.', 'A.example.com', 'x_y.example.com', '../etc.example.com', `${'a'.repeat(64)}.example.com`, `${'a.'.repeat(127)}com`]) {
      assert.equal(isOrderName(bad), false, bad);
    }
    assert.equal(fileStem('*.apps.example.com'), '_wildcard.apps.example.com');
  });

  it('keeps the account key and pairs 0600 in a 0700 directory; reloads them; skips a pair without its key', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'berth-acme-store-'));
    try {
      const s = new AcmeStorage(dataDir);
      const key = await s.accountKey();
      assert.match(key, /BEGIN (EC )?PRIVATE KEY/);
      assert.equal(await new AcmeStorage(dataDir).accountKey(), key, 'made once, reused');
      s.save({ name: '*.apps.example.com', cert: 'CERT', key: 'KEY' });
      for (const f of ['account.key', 'certs/_wildcard.apps.example.com.pem', 'certs/_wildcard.apps.example.com.key']) {
        assert.equal(statSync(path.join(s.dir, f)).mode & 0o777, 0o600, f);
      }
      assert.equal(statSync(s.dir).mode & 0o777, 0o700);
      writeFileSync(path.join(s.dir, 'certs', 'orphan.example.com.pem'), 'CERT');
      assert.deepEqual(s.loadAll(), [{ name: '*.apps.example.com', cert: 'CERT', key: 'KEY' }]);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
