import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { loadConfig } from '../config/load.js';
import { silentLogger } from '../log.js';
import { openDb } from '../store/db.js';
import { AuthRepo } from '../store/auth-repo.js';
import { AuthService, type Principal } from '../services/auth.js';
import { HandoffStore } from '../auth/app-handoff.js';
import type { Route, RouteAccess } from '../domain/route.js';
import { APPS_ORIGIN_KEY, createHostedAccess, hostKey } from './hosted-access.js';
import { sessionPrincipalForUpgrade } from './upgrade-auth.js';

const LOCAL_TOKEN = 'berth_' + 'l'.repeat(40);
const APPS = 'http://127.0.0.1:8996';
const APP_HOST = 'http://9000--ws1.apps.test:8995';

function route(via: 'path' | 'host', access: Partial<RouteAccess> = {}): Route {
  return {
    kind: 'workspace',
    workloadId: 'ws1',
    workloadName: 'ws1',
    state: 'running',
    upstream: { host: '127.0.0.1', port: 9000, origin: 'http://127.0.0.1:9000' },
    hostPort: 9000,
    containerPort: 8000,
    stripPrefix: via === 'path' ? '/hosted/ws1/9000' : '',
    prependPath: '',
    forwardedPrefix: via === 'path' ? '/hosted/ws1/9000' : '',
    via,
    access: { visibility: 'private', ownerId: null, dashboardUrl: 'http://127.0.0.1:8995', ...access },
  };
}

/** A request as the edge sees it: only the headers matter to the access hooks. */
const req = (headers: Record<string, string>): IncomingMessage => ({ headers }) as unknown as IncomingMessage;

describe('hosted access hooks', () => {
  let auth: AuthService;
  let handoffs: HandoffStore;
  let access: ReturnType<typeof createHostedAccess>;
  let alice: string;
  let bob: string;
  let aliceSession: string;

  before(async () => {
    const config = loadConfig({}, { adminPassword: 'admin-password-1', dataDir: '/nonexistent' });
    auth = new AuthService({ repo: new AuthRepo(openDb(':memory:')), config, log: silentLogger(), localToken: LOCAL_TOKEN });
    await auth.bootstrap();
    const admin = auth.tokenPrincipal(LOCAL_TOKEN) as Principal;
    alice = (await auth.addUser(admin, { username: 'alice', password: 'alice-password-1', role: 'member' }, null)).id;
    bob = (await auth.addUser(admin, { username: 'bob', password: 'bob-password-12', role: 'member' }, null)).id;
    aliceSession = (await auth.login('alice', 'alice-password-1', '127.0.0.1')).sessionId;
    handoffs = new HandoffStore();
    access = createHostedAccess({ auth, handoffs, expectedOrigin: (_req, r) => (r.via === 'path' ? APPS : APP_HOST) });
  });

  const appsSession = (userId: string): string => handoffs.redeem(handoffs.mint(userId, APPS_ORIGIN_KEY), APPS_ORIGIN_KEY)!;

  it('a path route opens for its owner’s apps-origin session, an admin token, and nobody else', () => {
    const own = route('path', { ownerId: alice });
    const cookie = `berth_app_session=${appsSession(alice)}`;
    assert.equal(access.authorize(req({}), own), false, 'anonymous');
    assert.equal(access.authorize(req({ cookie }), own), true, 'owner');
    assert.equal(access.authorize(req({ authorization: `Bearer ${LOCAL_TOKEN}` }), own), true, 'admin token');
    assert.equal(access.authorize(req({ authorization: 'Bearer berth_not-a-token' }), own), false, 'unknown token');
    assert.equal(access.authorize(req({ cookie: `berth_app_session=${appsSession(bob)}` }), own), false, 'another member');
    assert.equal(access.authorize(req({ cookie: `berth_app_session=${appsSession(bob)}` }), route('path', { anyUser: true })), true, 'any user on an app route');
  });

  it('the dashboard session counts for nothing on hosted routes', () => {
    const own = route('path', { ownerId: alice });
    assert.equal(access.authorize(req({ cookie: `berth_session=${aliceSession}` }), own), false);
    assert.equal(access.authorize(req({ cookie: `berth_session=${aliceSession}` }), route('host', { ownerId: alice })), false);
  });

  it('sessions are bound: an apps-origin session opens no app host, an app-host session no other host and no path route', () => {
    const apps = `berth_app_session=${appsSession(alice)}`;
    assert.equal(access.authorize(req({ cookie: apps }), route('host', { ownerId: alice })), false);
    const hostCookie = `berth_app_session=${handoffs.redeem(handoffs.mint(alice, hostKey(route('host'))), hostKey(route('host')))}`;
    assert.equal(access.authorize(req({ cookie: hostCookie }), route('host', { ownerId: alice })), true);
    assert.equal(access.authorize(req({ cookie: hostCookie }), route('path', { ownerId: alice })), false);
    const other = { ...route('host', { ownerId: alice }), hostPort: 9001 };
    assert.equal(access.authorize(req({ cookie: hostCookie }), other), false);
  });

  it('a cookie-authenticated upgrade needs the route’s own Origin; a token needs none', () => {
    const own = route('path', { ownerId: alice });
    const cookie = `berth_app_session=${appsSession(alice)}`;
    assert.equal(access.authorize(req({ cookie, upgrade: 'websocket' }), own), false, 'no Origin');
    assert.equal(access.authorize(req({ cookie, upgrade: 'websocket', origin: 'http://evil.test' }), own), false, 'foreign Origin');
    assert.equal(access.authorize(req({ cookie, upgrade: 'websocket', origin: APP_HOST }), own), false, 'another route’s origin');
    assert.equal(access.authorize(req({ cookie, upgrade: 'websocket', origin: APPS }), own), true);
    assert.equal(access.authorize(req({ authorization: `Bearer ${LOCAL_TOKEN}`, upgrade: 'websocket' }), own), true);
  });

  it('redeems hand-off tickets only for their own origin, once', () => {
    const ticket = handoffs.mint(alice, APPS_ORIGIN_KEY);
    assert.equal(access.redeemHandoff(ticket, route('host')), null, 'an apps-origin ticket on an app host');
    const again = handoffs.mint(alice, APPS_ORIGIN_KEY);
    assert.equal(access.redeemHandoff(again, route('path')), null, 'path routes redeem at the apps origin, not per route');
    const third = handoffs.mint(alice, APPS_ORIGIN_KEY);
    assert.match(access.redeemHandoff(third, null) ?? '', /^[\w-]{20,}$/);
    assert.equal(access.redeemHandoff(third, null), null, 'single use');
    const hostTicket = handoffs.mint(alice, hostKey(route('host')));
    assert.equal(access.redeemHandoff(hostTicket, null), null, 'an app-host ticket at the apps origin');
  });
});

describe('sessionPrincipalForUpgrade (the exec shell)', () => {
  it('counts the dashboard cookie only from the dashboard’s own Origin', async () => {
    const config = loadConfig({}, { adminPassword: 'admin-password-1', dataDir: '/nonexistent' });
    const auth = new AuthService({ repo: new AuthRepo(openDb(':memory:')), config, log: silentLogger(), localToken: LOCAL_TOKEN });
    await auth.bootstrap();
    const { sessionId } = await auth.login('admin', 'admin-password-1', '127.0.0.1');
    const hosting = () => ({ proto: 'http' as const, host: '127.0.0.1:8995', basePath: '' });
    const cookie = `berth_session=${sessionId}`;
    assert.equal(sessionPrincipalForUpgrade(auth, req({ cookie }), hosting, 'berth_session'), null, 'no Origin');
    assert.equal(sessionPrincipalForUpgrade(auth, req({ cookie, origin: APPS }), hosting, 'berth_session'), null, 'the apps origin');
    assert.equal(sessionPrincipalForUpgrade(auth, req({ cookie, origin: 'http://127.0.0.1:8995' }), hosting, 'berth_session')?.username, 'admin');
    assert.equal(sessionPrincipalForUpgrade(auth, req({ cookie: 'berth_session=%zz', origin: 'http://127.0.0.1:8995' }), hosting, 'berth_session'), null);
  });
});
