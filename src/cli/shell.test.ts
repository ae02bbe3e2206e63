import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execQuery, parseControl } from './shell.js';

test('execQuery repeats cmd for each argv element, in order, escaped', () => {
  const q = new URLSearchParams(execQuery(['/bin/sh', '-c', 'echo a&b'], true));
  assert.equal(q.get('tty'), '1');
  assert.deepEqual(q.getAll('cmd'), ['/bin/sh', '-c', 'echo a&b']);
  assert.equal(new URLSearchParams(execQuery([], false)).get('tty'), '0');
});

test('execQuery carries the initial terminal size when given', () => {
  const q = new URLSearchParams(execQuery(['sh'], true, { cols: 132, rows: 43 }));
  assert.deepEqual([q.get('cols'), q.get('rows')], ['132', '43']);
  assert.equal(new URLSearchParams(execQuery(['sh'], true)).has('cols'), false);
});

test('parseControl reads exit messages and ignores anything else', () => {
  assert.deepEqual(parseControl('{"type":"exit","code":3}'), { type: 'exit', code: 3 });
  assert.deepEqual(parseControl('{"type":"exit"}'), { type: 'exit', code: 1 });
  assert.equal(parseControl('{"type":"resize"}'), undefined);
  assert.equal(parseControl('not json'), undefined);
});
