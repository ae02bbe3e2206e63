/**
 * The certificate files watcher with real files and real polling (fs.watchFile): what counts as a
 * change, and that closing it cancels a reload that was waiting for the files to settle.
 */
import assert from 'node:assert/strict';
import { copyFileSync, utimesSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createTestCa, type TestCa } from '../../../test/support/test-certs.js';
import { silentLogger } from '../../log.js';
import { CertificateStore } from './certificates.js';
import { FILES_SOURCE, watchCertificateFiles } from './file-certificates.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('watchCertificateFiles', () => {
  let ca: TestCa;
  before(() => {
    ca = createTestCa();
  });
  after(() => ca?.cleanup());

  /** A watcher on copies of the `first` pair, polling every 20 ms, settling for `settleMs`. */
  const watch = (label: string, settleMs: number) => {
    const first = ca.issue(`${label}-1`, ['berth.test']);
    const second = ca.issue(`${label}-2`, ['berth.test']);
    const certFile = path.join(ca.dir, `${label}-live.pem`);
    const keyFile = path.join(ca.dir, `${label}-live.key`);
    copyFileSync(first.certFile, certFile);
    copyFileSync(first.keyFile, keyFile);
    // Whole-second times, so that a test can set them again exactly (a Date has no nanoseconds).
    const t0 = Math.floor(Date.now() / 1000) - 10;
    utimesSync(certFile, t0, t0);
    utimesSync(keyFile, t0, t0);
    const store = new CertificateStore();
    const files = watchCertificateFiles({ certFile, keyFile, store, log: silentLogger(), pollMs: 20, settleMs });
    files.load();
    const serial = (): string | undefined => store.select('berth.test')?.serial;
    const replace = (): void => {
      copyFileSync(second.certFile, certFile);
      copyFileSync(second.keyFile, keyFile);
    };
    return { store, files, serial, replace, certFile, t0 };
  };

  it('a replaced pair is loaded once the files are quiet (the case the others are measured against)', async () => {
    const w = watch('swap', 50);
    try {
      const before = w.serial();
      w.replace();
      for (let i = 0; i < 100 && w.serial() === before; i++) await sleep(20);
      assert.notEqual(w.serial(), before);
    } finally {
      w.files.close();
    }
  });

  it('a read that only moves the access time is no change: nothing is reloaded', async () => {
    const w = watch('atime', 20);
    try {
      const updated = w.store.status().find((s) => s.source === FILES_SOURCE)!.updatedAt;
      // Same content, size, inode and mtime; only atime moves (what reading the file does).
      utimesSync(w.certFile, w.t0 + 100, w.t0);
      await sleep(300);
      assert.equal(w.store.status().find((s) => s.source === FILES_SOURCE)!.updatedAt, updated);
    } finally {
      w.files.close();
    }
  });

  it('closing while a change settles cancels its reload', async () => {
    const w = watch('cancel', 400);
    const before = w.serial();
    w.replace();
    await sleep(200); // seen by the 20 ms poll, still inside the 400 ms settle time
    w.files.close();
    await sleep(600);
    assert.equal(w.serial(), before, 'a closed watcher still reloaded');
  });
});
