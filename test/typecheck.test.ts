import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');

test('the whole project typechecks under strict TypeScript', { timeout: 180_000 }, async () => {
  const tsc = path.join(root, 'node_modules', '.bin', 'tsc');
  const result = await promisify(execFile)(tsc, ['-p', 'tsconfig.json', '--noEmit'], { cwd: root }).then(
    () => ({ ok: true, out: '' }),
    (err: { stdout?: string; stderr?: string }) => ({ ok: false, out: `${err.stdout ?? ''}${err.stderr ?? ''}` }),
  );
  assert.ok(result.ok, `tsc reported errors:\n${result.out}`);
});
