import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HandoffStore } from './app-handoff.js';

test('a ticket is redeemed once, only on its host, only before it expires', () => {
  const s = new HandoffStore(1000, 10_000);
  const t1 = s.mint('u1', '9000--abc.apps.example.com', 0);
  assert.equal(s.redeem(t1, '9001--abc.apps.example.com', 10), null, 'other host');
  assert.equal(s.redeem(t1, '9000--abc.apps.example.com', 20), null, 'a failed redeem still consumes it');
  const t2 = s.mint('u1', '9000--abc.apps.example.com', 0);
  assert.equal(s.redeem(t2, '9000--abc.apps.example.com', 2000), null, 'expired');
  const t3 = s.mint('u1', '9000--ABC.apps.example.com', 0);
  const sid = s.redeem(t3, '9000--abc.apps.example.com', 10);
  assert.ok(sid);
  assert.equal(s.redeem(t3, '9000--abc.apps.example.com', 11), null, 'second use');
  assert.equal(s.userOf(sid, '9000--abc.apps.example.com', 20), 'u1');
  assert.equal(s.userOf(sid, '9001--abc.apps.example.com', 20), null, 'app session is host-bound');
  assert.equal(s.userOf(sid, '9000--abc.apps.example.com', 20_000), null, 'app session expires');
});

test('ending a user ends their app sessions', () => {
  const s = new HandoffStore();
  const sid = s.redeem(s.mint('u1', 'h'), 'h')!;
  s.endUser('u1');
  assert.equal(s.userOf(sid, 'h'), null);
});
