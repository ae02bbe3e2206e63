import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatBytes, formatVolumeTable } from './volume.js';

test('formatBytes: bytes, then binary units with one decimal under 10', () => {
  assert.equal(formatBytes(null), '?');
  assert.equal(formatBytes(0), '0 B');
  assert.equal(formatBytes(1023), '1023 B');
  assert.equal(formatBytes(1536), '1.5 KiB');
  assert.equal(formatBytes(25 * 1024 * 1024), '25 MiB');
});

test('formatVolumeTable: in use by a workspace, or kept with what it was', () => {
  assert.equal(
    formatVolumeTable([
      { name: 'berth-a-ws-1-data', sizeBytes: 4096, kind: 'workspace', usedBy: 'dev', madeBy: 'dev', ownerId: 'u' },
      { name: 'berth-a-ws-2-data', sizeBytes: null, kind: 'workspace', usedBy: null, madeBy: 'old', ownerId: 'u' },
    ]),
    'NAME               SIZE     KIND       USED BY\nberth-a-ws-1-data  4.0 KiB  workspace  dev\nberth-a-ws-2-data  ?        workspace  - (kept; was old)\n',
  );
  assert.equal(formatVolumeTable([]), 'no volumes\n');
});
