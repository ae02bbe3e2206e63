import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import Database from 'better-sqlite3';
import { OPEN_ROUTES } from '../../src/api/app.js';
import { startTestDaemon, TEST_ADMIN_PASSWORD, type TestDaemon } from '../support/daemon.js';

interface Session {
  cookie: string;
  csrf: string;
}

async function login(t: TestDaemon, username: string, password: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${t.daemon.url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ username, password }),
  });
  const body = (await res.json()) as any;
  const setCookie = res.headers.get('set-cookie') ?? '';
  return { status: res.status, body, setCookie, session: { cookie: setCookie.split(';')[0]!, csrf: body.csrfToken as string } };
}

function withSession(s: Session, csrf = true): Record<string, string> {
  return { cookie: s.cookie, ...(csrf ? { 'x-csrf-token': s.csrf } : {}) };
}

describe('access control', () => {
  let t: TestDaemon;
  before(async () => {
    // Members run workspaces here: on the process runtime that needs the admin's opt-in.
    t = await startTestDaemon({ processRuntimeMembers: 'allow' });
  });
  after(async () => {
    await t.stop();
  });

  it('every API route refuses anonymous calls (enumerated from the router)', async () => {
    const routes = t.daemon.api.routes.filter((r) => r.path.startsWith('/api') && r.method !== 'ALL');
    assert.ok(routes.length >= 15, `only ${routes.length} routes found`);
    for (const r of routes) {
      if (OPEN_ROUTES.has(`${r.method} ${r.path}`)) continue;
      const concrete = r.path.replace(/:[a-zA-Z]+/g, 'x');
      const res = await t.api(r.method, concrete, r.method === 'GET' ? undefined : {}, { token: null });
      assert.equal(res.status, 401, `${r.method} ${r.path} answered ${res.status} without credentials`);
    }
  });

  it('logs in with an HttpOnly SameSite=Lax cookie; same answer for unknown user and wrong password', async () => {
    const ok = await login(t, 'admin', TEST_ADMIN_PASSWORD);
    assert.equal(ok.status, 200);
    assert.equal(ok.body.user.role, 'admin');
    assert.match(ok.setCookie, /^berth_session=/);
    assert.match(ok.setCookie, /HttpOnly/i);
    assert.match(ok.setCookie, /SameSite=Lax/i);
    assert.doesNotMatch(ok.setCookie, /Secure/i, 'plain http must not set Secure');
    const wrong = await login(t, 'admin', 'wrong-password-1');
    const unknown = await login(t, 'nobody-here', 'wrong-password-1');
    assert.equal(wrong.status, 401);
    assert.equal(unknown.status, 401);
    assert.deepEqual(wrong.body, unknown.body);
    const me = await t.api('GET', '/api/auth/me', undefined, { token: null, headers: withSession(ok.session, false) });
    assert.equal(me.body.user.username, 'admin');
  });

  it('sets Secure on the cookie when the request came over https through a trusted proxy', async () => {
    const t2 = await startTestDaemon({ trustedProxies: ['127.0.0.1/32', '::1/128'] });
    try {
      const res = await login(t2, 'admin', TEST_ADMIN_PASSWORD, { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'berth.example.com', 'x-forwarded-prefix': '/berth' });
      assert.match(res.setCookie, /Secure/i);
      assert.match(res.setCookie, /Path=\/berth\//);
    } finally {
      await t2.stop();
    }
  });

  it('refuses a cookie-authenticated change without the CSRF token', async () => {
    const { session } = await login(t, 'admin', TEST_ADMIN_PASSWORD);
    const noCsrf = await t.api('POST', '/api/workspaces', { name: 'csrf-victim' }, { token: null, headers: withSession(session, false) });
    assert.equal(noCsrf.status, 403);
    assert.equal(noCsrf.body.error.code, 'E_CSRF');
    assert.equal((await t.api('GET', '/api/workspaces/csrf-victim')).status, 404, 'the refused request created something');
    const withCsrf = await t.api('POST', '/api/workspaces', { name: 'csrf-ok' }, { token: null, headers: withSession(session) });
    assert.equal(withCsrf.status, 201, JSON.stringify(withCsrf.body));
    assert.equal(withCsrf.body.owner, 'admin');
    assert.equal(withCsrf.body.visibility, 'private');
  });

  it('members see and manage only their own workspaces; admins see all', async () => {
    for (const u of ['alice', 'bob']) {
      const res = await t.api('POST', '/api/users', { username: u, password: `${u}-password-123`, role: 'member' });
      assert.equal(res.status, 201, JSON.stringify(res.body));
    }
    const alice = (await login(t, 'alice', 'alice-password-123')).session;
    const bob = (await login(t, 'bob', 'bob-password-123')).session;
    const created = await t.api('POST', '/api/workspaces', { name: 'alice-ws' }, { token: null, headers: withSession(alice) });
    assert.equal(created.status, 201);
    const id = created.body.id;
    const bobList = await t.api('GET', '/api/workspaces', undefined, { token: null, headers: withSession(bob) });
    assert.ok(!bobList.body.workspaces.some((w: any) => w.id === id), 'bob sees alice’s workspace');
    for (const [method, p] of [['GET', `/api/workspaces/${id}`], ['POST', `/api/workspaces/${id}/stop`], ['DELETE', `/api/workspaces/${id}`], ['GET', `/api/workspaces/${id}/logs`]] as const) {
      const res = await t.api(method, p, undefined, { token: null, headers: withSession(bob) });
      assert.equal(res.status, 404, `bob ${method} ${p} → ${res.status}`);
    }
    assert.equal((await t.api('GET', '/api/users', undefined, { token: null, headers: withSession(bob) })).status, 403);
    assert.equal((await t.api('GET', '/api/audit', undefined, { token: null, headers: withSession(bob) })).status, 403);
    const adminList = await t.api('GET', '/api/workspaces');
    assert.ok(adminList.body.workspaces.some((w: any) => w.id === id && w.owner === 'alice'));
    assert.equal((await t.api('DELETE', `/api/workspaces/${id}`, undefined, { token: null, headers: withSession(alice) })).status, 204);
  });

  it('API tokens are scoped, shown once, stored hashed and revocable', async () => {
    const created = await t.api('POST', '/api/tokens', { name: 'ci-read', scopes: ['read'] });
    assert.equal(created.status, 201);
    const token = created.body.token as string;
    assert.match(token, /^berth_/);
    const list = await t.api('GET', '/api/tokens');
    assert.ok(!JSON.stringify(list.body).includes(token), 'token listed in clear');
    const db = new Database(path.join(t.dataDir, 'berth.db'), { readonly: true });
    const rows = db.prepare('SELECT token_hash FROM api_tokens').all() as { token_hash: string }[];
    db.close();
    assert.ok(rows.every((r) => r.token_hash !== token), 'token stored in clear');
    assert.equal((await t.api('GET', '/api/workspaces', undefined, { token })).status, 200);
    const write = await t.api('POST', '/api/workspaces', { name: 'nope' }, { token });
    assert.equal(write.status, 403);
    assert.equal((await t.api('DELETE', `/api/tokens/${created.body.id}`)).status, 204);
    assert.equal((await t.api('GET', '/api/workspaces', undefined, { token })).status, 401);
  });

  it('slows login brute force per account and per address', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await login(t, 'bob', `guess-${i}-xxxxxx`)).status);
    assert.deepEqual(statuses.slice(0, 5), [401, 401, 401, 401, 401]);
    assert.ok(statuses.slice(5).includes(429), `never rate limited: ${statuses}`);
    // The right password is refused too while the account is throttled.
    assert.equal((await login(t, 'bob', 'bob-password-123')).status, 429);
  });

  it('expires idle sessions and revokes them on logout', async () => {
    const { session } = await login(t, 'alice', 'alice-password-123');
    assert.equal((await t.api('GET', '/api/auth/me', undefined, { token: null, headers: withSession(session) })).status, 200);
    // Age the session past the idle limit (BERTH_SESSION_IDLE_MINUTES, default 720).
    const db = new Database(path.join(t.dataDir, 'berth.db'));
    db.prepare('UPDATE sessions SET last_seen_at = ?').run(Date.now() - 721 * 60_000);
    db.close();
    assert.equal((await t.api('GET', '/api/auth/me', undefined, { token: null, headers: withSession(session) })).status, 401);
    const fresh = (await login(t, 'alice', 'alice-password-123')).session;
    assert.equal((await t.api('POST', '/api/auth/logout', undefined, { token: null, headers: withSession(fresh) })).status, 204);
    assert.equal((await t.api('GET', '/api/auth/me', undefined, { token: null, headers: withSession(fresh) })).status, 401);
  });

  it('records logins, creates, deletes and token changes in the audit log', async () => {
    const res = await t.api('GET', '/api/audit?limit=200');
    assert.equal(res.status, 200);
    const actions = new Set(res.body.entries.map((e: any) => e.action));
    for (const a of ['auth.login', 'auth.login_failed', 'auth.logout', 'workspace.create', 'workspace.delete', 'token.create', 'token.revoke', 'user.add']) {
      assert.ok(actions.has(a), `audit lacks ${a}`);
    }
    const login = res.body.entries.find((e: any) => e.action === 'auth.login');
    assert.ok(login.ip, 'audit entries say where from');
  });
});

describe('request ids', () => {
  it('answers every API call with an X-Request-Id, keeping a well-formed one the client sent', async () => {
    const t = await startTestDaemon();
    try {
      const a = await t.api('GET', '/api/health', undefined, { token: null });
      assert.match(a.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
      const b = await t.api('GET', '/api/nope', undefined, { headers: { 'x-request-id': 'trace-123' } });
      assert.equal(b.status, 404);
      assert.equal(b.headers.get('x-request-id'), 'trace-123');
      const c = await t.api('GET', '/api/health', undefined, { token: null, headers: { 'x-request-id': 'bad id\u00e9' } });
      assert.notEqual(c.headers.get('x-request-id'), 'bad idé');
    } finally {
      await t.stop();
    }
  });
});
