import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError } from 'commander';
import { collectEnv, parseCount, parseEnvPair } from './args.js';

test('parseEnvPair splits at the first = and keeps empty values', () => {
  assert.deepEqual(parseEnvPair('A=b'), ['A', 'b']);
  assert.deepEqual(parseEnvPair('URL=http://x/?a=1'), ['URL', 'http://x/?a=1']);
  assert.deepEqual(parseEnvPair('EMPTY='), ['EMPTY', '']);
  assert.deepEqual(parseEnvPair('_x9=1'), ['_x9', '1']);
});

test('parseEnvPair refuses a missing key, a missing = and invalid names', () => {
  for (const bad of ['A', '=b', '9A=1', 'A-B=1', 'A B=1', '']) assert.equal(parseEnvPair(bad), null, bad);
});

test('collectEnv accumulates repeated --env and throws a usage error for bad ones', () => {
  let env = collectEnv('A=1', undefined);
  env = collectEnv('B=2', env);
  env = collectEnv('A=3', env);
  assert.deepEqual(env, { A: '3', B: '2' });
  assert.throws(() => collectEnv('oops', env), (err: unknown) => err instanceof InvalidArgumentError && /expected K=V/.test((err as Error).message));
});

test('parseCount accepts non-negative integers only', () => {
  assert.equal(parseCount('0'), 0);
  assert.equal(parseCount('100'), 100);
  for (const bad of ['-1', '1.5', 'ten', '', '1e3']) assert.throws(() => parseCount(bad), InvalidArgumentError, bad);
});
