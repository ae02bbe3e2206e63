/**
 * Issue 11 (8): five wrong passwords locked the admin out for up to 15 minutes from any address.
 * Throttling is now per (account, client address), with a short global cap per account that
 * slows but never locks out. Real daemon; client addresses come through X-Forwarded-For from a
 * trusted proxy (loopback), exactly as `clientIpOf` reads them in production.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestDaemon, TEST_ADMIN_PASSWORD, type TestDaemon } from '../support/daemon.js';

async function login(t: TestDaemon, password: string, from: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${t.daemon.url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': from },
    body: JSON.stringify({ username: 'admin', password }),
  });
  return { status: res.status, body: await res.json() };
}

/** Seconds a 429 asks to wait ("try again in N s"). */
const waitOf = (body: any): number => Number(/try again in (\d+) s/.exec(body?.error?.message ?? '')?.[1] ?? NaN);

describe('login throttling per (account, address)', () => {
  let t: TestDaemon;
  before(async () => {
    t = await startTestDaemon({ trustedProxies: ['127.0.0.1/32', '::1/128'] });
  });
  after(async () => {
    await t?.stop();
  });

  it('an attacker failing 20 times from address A does not lock the admin out at address B', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) statuses.push((await login(t, `wrong-guess-${i}-xx`, '203.0.113.7')).status);
    assert.deepEqual(statuses.slice(0, 5), [401, 401, 401, 401, 401]);
    assert.ok(statuses.slice(5).every((s) => s === 429 || s === 401) && statuses.includes(429), `A was never throttled: ${statuses}`);

    const started = Date.now();
    const admin = await login(t, TEST_ADMIN_PASSWORD, '198.51.100.9');
    assert.equal(admin.status, 200, JSON.stringify(admin.body));
    assert.ok(Date.now() - started < 2000, 'the admin got in at once');

    // Address A stays throttled, even with the right password.
    assert.equal((await login(t, TEST_ADMIN_PASSWORD, '203.0.113.7')).status, 429);
  });

  it('failures from many addresses slow the account by seconds at most, and never an address that has not failed', { timeout: 30_000 }, async () => {
    // 12 addresses × 1 wrong password: under each address's own limit, over the account's. A
    // first attempt from an address is never held back by others' failures.
    for (let a = 1; a <= 12; a++) assert.equal((await login(t, `spray-${a}-xxxx`, `192.0.2.${a}`)).status, 401);
    // A second guess from one of them is: the account's cap.
    assert.equal((await login(t, 'spray-again-xxxx', '192.0.2.2')).status, 429);
    // An address with no failure of its own logs in at once.
    assert.equal((await login(t, TEST_ADMIN_PASSWORD, '198.51.100.77')).status, 200);
    // One that failed is held back by the account's cap: a few seconds, not minutes.
    const held = await login(t, TEST_ADMIN_PASSWORD, '192.0.2.1');
    assert.equal(held.status, 429, `no global cap: ${JSON.stringify(held.body)}`);
    const wait = waitOf(held.body);
    assert.ok(wait >= 1 && wait <= 5, `asked to wait ${wait} s: ${JSON.stringify(held.body)}`);
    await sleep(wait * 1000);
    const res = await login(t, TEST_ADMIN_PASSWORD, '192.0.2.1');
    assert.equal(res.status, 200, JSON.stringify(res.body));
  });
});
