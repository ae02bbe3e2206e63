import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatPortLine, keepPrefixPorts, parsePortRef } from './ws-port.js';

test('parsePortRef: a container port or @N, nothing else', () => {
  assert.deepEqual(parsePortRef('8000'), { containerPort: 8000 });
  assert.deepEqual(parsePortRef('@0'), { index: 0 });
  assert.deepEqual(parsePortRef('@63'), { index: 63 });
  for (const bad of ['0', '65536', '@64', '-1', '8000x', '@', 'x', '', '8 000', '--keep', '#0']) {
    assert.throws(() => parsePortRef(bad), /expected a container port like 8000, or @N/, bad);
  }
});

test('keepPrefixPorts: the create body entries for --keep-prefix', () => {
  assert.equal(keepPrefixPorts(undefined), undefined);
  assert.deepEqual(keepPrefixPorts([{ containerPort: 8000 }, { index: 2 }]), [
    { containerPort: 8000, prefix: 'keep' },
    { index: 2, prefix: 'keep' },
  ]);
});

test('formatPortLine: strip ports as before; keep ports name their base path; labels quoted', () => {
  const url = 'http://127.0.0.1:8995/hosted/abc/9000/';
  assert.equal(formatPortLine({ containerPort: 8000, hostPort: 9000, url, prefix: 'strip' }), `8000 → ${url}`);
  assert.equal(
    formatPortLine({ containerPort: 8000, hostPort: 9000, url, prefix: 'keep', basePath: '/hosted/abc/9000/', label: 'Jupyter' }),
    `8000 → ${url}  (keep prefix: served at /hosted/abc/9000/)  "Jupyter"`,
  );
});
