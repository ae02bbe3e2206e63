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

test('minting sweeps expired tickets and sessions out of memory, and only those', () => {
  // Asked about with an earlier clock afterwards, a swept entry is gone while a kept one still works:
  // that tells a sweep apart from the expiry checks of redeem and userOf.
  const s = new HandoffStore(1000, 10_000);
  const oldTicket = s.mint('u1', 'h', 0); // expires at 1 000
  const oldSession = s.redeem(s.mint('u1', 'h', 0), 'h', 0)!; // expires at 10 000
  const liveTicket = s.mint('u2', 'h', 11_500); // expires at 12 500
  const liveSession = s.redeem(s.mint('u2', 'h', 5_000), 'h', 5_000)!; // expires at 15 000
  s.mint('u3', 'h', 12_000);
  assert.equal(s.redeem(oldTicket, 'h', 500), null, 'the expired ticket was swept');
  assert.equal(s.userOf(oldSession, 'h', 500), null, 'the expired session was swept');
  assert.equal(s.userOf(liveSession, 'h', 12_000), 'u2', 'a live session is kept');
  assert.ok(s.redeem(liveTicket, 'h', 12_100), 'a live ticket is kept');
});
