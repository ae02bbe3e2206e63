import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isBerthError } from '../errors.js';
import { allocateRedisDb, redisBinding } from './redis.js';
import { encodeCommand, parseRedisUrl, parseReply, RespReplyError } from './resp.js';

test('allocateRedisDb: lowest free index from 1, the same index for an app that has one', () => {
  assert.equal(allocateRedisDb('a', new Map()), 1);
  assert.equal(allocateRedisDb('c', new Map([['a', 1], ['b', 3]])), 2);
  assert.equal(allocateRedisDb('b', new Map([['a', 1], ['b', 3]])), 3);
  assert.equal(allocateRedisDb('d', new Map([['a', 1], ['b', 2]]), 4), 3);
});

test('allocateRedisDb: exhausted databases are a clear error', () => {
  const full = new Map([['a', 1], ['b', 2], ['c', 3]]);
  assert.throws(() => allocateRedisDb('d', full, 4), (e) => isBerthError(e) && e.code === 'E_REDIS_DBS_EXHAUSTED');
});

test('redisBinding keeps credentials and swaps in the workload-facing address', () => {
  assert.deepEqual(redisBinding('redis://:s3cr%2Ft@127.0.0.1:6390', 4, { appHost: 'host.containers.internal' }), {
    url: 'redis://:s3cr%2Ft@host.containers.internal:6390/4',
    host: 'host.containers.internal',
    port: 6390,
    db: 4,
  });
  assert.equal(redisBinding('redis://localhost', 1).url, 'redis://localhost:6379/1');
  assert.equal(redisBinding('rediss://user:pw@cache.internal:6380/0', 2).url, 'rediss://user:pw@cache.internal:6380/2');
});

test('parseRedisUrl: credentials, db and scheme', () => {
  assert.deepEqual(parseRedisUrl('redis://u:p%40ss@[::1]:7000/5'), { host: '::1', port: 7000, tls: false, username: 'u', password: 'p@ss', db: 5 });
  assert.throws(() => parseRedisUrl('http://x'), /scheme/);
  assert.throws(() => parseRedisUrl('redis://x/abc'), /database number/);
});

test('RESP: commands are arrays of bulk strings (binary-safe lengths)', () => {
  assert.equal(encodeCommand(['SET', 'k', 'vé']).toString(), '*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\nvé\r\n');
});

test('RESP: replies parse whole or not at all', () => {
  const reply = Buffer.from('+OK\r\n:42\r\n$5\r\nhello\r\n$-1\r\n*2\r\n$1\r\na\r\n:1\r\n-ERR bad\r\n');
  const values: unknown[] = [];
  let offset = 0;
  for (;;) {
    const r = parseReply(reply, offset);
    if (!r) break;
    values.push(r.value instanceof RespReplyError ? `error: ${r.value.message}` : r.value);
    offset = r.end;
  }
  assert.deepEqual(values, ['OK', 42, 'hello', null, ['a', 1], 'error: ERR bad']);
  // Every proper prefix of a reply is incomplete, never a wrong value.
  const bulk = Buffer.from('*2\r\n$5\r\nhello\r\n$3\r\nabc\r\n');
  for (let i = 0; i < bulk.length; i++) assert.equal(parseReply(bulk.subarray(0, i), 0), undefined, `prefix ${i}`);
  assert.throws(() => parseReply(Buffer.from('?x\r\n'), 0), /unexpected RESP type/);
});
