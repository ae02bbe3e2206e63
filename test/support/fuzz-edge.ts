/**
 * Fuzzing the edge over raw sockets (both listeners: the dashboard origin and the apps origin), shared by test/integration/fuzz-edge.test.ts (a few thousand
 * cases) and bench/fuzz.ts (10⁵ and more). A fixture is a real in-process daemon (process runtime)
 * with a private and a public workspace whose first port is served by a recording listener in this
 * process (the workloads only sleep), plus sentinel listeners on ports Berth did NOT allocate.
 * Cases are random and adversarial requests (fast-check arbitraries); each carries `X-Fuzz-Id` so
 * an upstream can tell which case reached it. Properties checked by the caller after each batch:
 * no 500s, /api/health still 200, zero connections to sentinels, and every request a recording
 * upstream saw was for its own route and, on the private one, carried the admin's credentials.
 */
import http, { type IncomingMessage } from 'node:http';
import { connect, createServer, type Server, type AddressInfo } from 'node:net';
import fc from 'fast-check';
import { normalizePath } from '../../src/edge/match.js';
import { startTestDaemon, TEST_ADMIN_PASSWORD, type TestDaemon } from './daemon.js';

/** The workloads only sleep: the recording listeners below answer on their ports. */
const SLEEP = [process.execPath, '-e', 'setInterval(() => {}, 1 << 30)'];
export const FUZZ_APPS_DOMAIN = 'apps.test';

export type Credential = 'none' | 'garbage' | 'member-cookie' | 'admin-cookie' | 'admin-token';

export interface FuzzCase {
  method: string;
  target: string;
  /** Header lines in order (names and values may be hostile; never CR or LF). */
  headers: [string, string][];
  upgrade: boolean;
  /** Sent to the apps origin's listener (path routes live there) instead of the dashboard's. */
  apps: boolean;
  credential: Credential;
  body: string;
}

interface Recorder {
  port: number;
  /** Fuzz ids (or '' when a request came without one) seen, HTTP and upgrades. */
  seen: string[];
  /** Requests and upgrades received so far (connections are pooled, so fewer). */
  total: number;
  connections: number;
  close(): Promise<void>;
}

export interface FuzzRoute {
  id: string;
  port: number;
  recorder: Recorder;
}

export interface FuzzFixture {
  t: TestDaemon;
  port: number;
  /** The apps origin's listener: path routes (`/hosted/…`, `/embed/…`) answer only there. */
  appsPort: number;
  privateRoute: FuzzRoute;
  publicRoute: FuzzRoute;
  /** Listeners on ports Berth never allocated (inside and just past the range): must see nothing. */
  sentinels: Recorder[];
  adminCookie: string;
  memberCookie: string;
  close(): Promise<void>;
}

async function record(port: number): Promise<Recorder> {
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    seen.push(fuzzIdOf(req));
    rec.total++;
    req.resume();
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 2 }).end('up');
  });
  server.on('upgrade', (req: IncomingMessage, socket) => {
    seen.push(fuzzIdOf(req));
    rec.total++;
    socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
  });
  server.on('clientError', (_err, socket) => socket.destroy());
  const rec: Recorder = { port, seen, total: 0, connections: 0, close: () => new Promise((r) => (server.closeAllConnections(), server.close(() => r()))) };
  server.on('connection', () => rec.connections++);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  rec.port = (server.address() as AddressInfo).port;
  return rec;
}

/** A bare TCP listener: any connection at all is a finding. */
async function sentinel(port: number): Promise<Recorder> {
  const rec: Recorder = { port, seen: [], total: 0, connections: 0, close: async () => {} };
  const server: Server = createServer((s) => {
    rec.connections++;
    s.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  rec.close = () => new Promise((r) => server.close(() => r()));
  return rec;
}

/** The case id a request carries, or (none) with what did arrive, for the report. */
function fuzzIdOf(req: IncomingMessage): string {
  const v = req.headers['x-fuzz-id'];
  return typeof v === 'string' ? v : `(none) ${req.method} ${req.url} ${JSON.stringify(req.rawHeaders).slice(0, 300)}`;
}

async function login(t: TestDaemon, username: string, password: string): Promise<string> {
  const res = await fetch(`${t.daemon.url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  if (res.status !== 200) throw new Error(`login ${username}: ${res.status}`);
  return res.headers.get('set-cookie')!.split(';')[0]!;
}

/** Starts the daemon, the two workspaces, their recording listeners and the sentinels. */
export async function startFuzzFixture(): Promise<FuzzFixture> {
  const t = await startTestDaemon({ appsDomain: FUZZ_APPS_DOMAIN });
  const made: FuzzRoute[] = [];
  for (const visibility of ['private', 'public'] as const) {
    const res = await t.api('POST', '/api/workspaces', { name: `fuzz-${visibility}`, command: SLEEP, visibility });
    if (res.status !== 201) throw new Error(`create ${visibility}: ${res.status} ${JSON.stringify(res.body)}`);
    const port = res.body.ports[0].hostPort as number;
    made.push({ id: res.body.id as string, port, recorder: await record(port) });
  }
  // Workspaces take ports from the bottom of the range: its last port and the one past it are free.
  const sentinels = [await sentinel(t.config.portRangeEnd), await sentinel(t.config.portRangeEnd + 1)];
  const member = await t.api('POST', '/api/users', { username: 'mallory', password: 'mallory-password-1', role: 'member' });
  if (member.status !== 201) throw new Error(`create member: ${member.status}`);
  const adminCookie = await login(t, 'admin', TEST_ADMIN_PASSWORD);
  const memberCookie = await login(t, 'mallory', 'mallory-password-1');
  return {
    t,
    port: t.daemon.port,
    appsPort: t.daemon.appsPort,
    privateRoute: made[0]!,
    publicRoute: made[1]!,
    sentinels,
    adminCookie,
    memberCookie,
    async close() {
      for (const r of [...made.map((m) => m.recorder), ...sentinels]) await r.close();
      await t.stop();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// arbitraries

const NO_CRLF = (s: string): string => s.replace(/[\r\n]/g, '');

/** Request-target pieces that have broken routers before: traversal, escapes, NUL, `;`, `\`. */
const NASTY = ['..', '.', '%2e%2e', '%2E.', '.%2e', '%2f', '%2F..', '..%2f', '%252e%252e', '%zz', '%', '%0', '%00', '..;x', ';', '\\', '..\\', '', '%c0%ae', 'é', '\u2028', '\t', '\x7f', '\x00', '?', '#', '@', '*'];
const PREFIXES = ['/', '//', '///', '/hosted/', '//hosted/', '/hosted', '/embed/', '/embed', '/api/', '/api', '/llm/', '/llm', '/llm//', '/metrics', '/webhooks/github', '/api/workspaces/', '/api/health', '/__berth/handoff?', '/hosted/%2e%2e/'];

/** Arbitraries built around one fixture's ids and ports. */
export function caseArbitrary(f: Pick<FuzzFixture, 'privateRoute' | 'publicRoute' | 'sentinels'>): fc.Arbitrary<FuzzCase> {
  const ids = [f.privateRoute.id, f.publicRoute.id, 'nope', 'fuzz-private', 'fuzz-public', f.privateRoute.id.toUpperCase()];
  const ports = [f.privateRoute.port, f.publicRoute.port, ...f.sentinels.map((s) => s.port), f.privateRoute.port + 1, 0, 65536, 99999, 1, -1].map(String);
  const segment = fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom(...ids, ...ports, 'exec', 'x', 'index.html') },
    { weight: 6, arbitrary: fc.constantFrom(...NASTY) },
    { weight: 2, arbitrary: fc.stringMatching(/^[\w.~%-]{0,12}$/) },
    { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 8 }) },
  );
  const query = fc.oneof(
    fc.constant(''),
    fc.constantFrom('?', '?ticket=x&next=/', '?next=//evil.test', '?next=%zz', '?ticket=%zz', '?tty=1&cmd=%zz', '?to=http%3A%2F%2F1--x.apps.test%2F', '?a=%'),
    fc.string({ maxLength: 30 }).map((s) => '?' + s),
  );
  const structured = fc
    .tuple(fc.constantFrom(...PREFIXES), fc.array(segment, { maxLength: 6 }), fc.boolean(), query)
    .map(([p, segs, slash, q]) => p + segs.join('/') + (slash ? '/' : '') + q);
  // Real routes (and their sentinel twins) with hostile tails: the paths that do get dialled.
  const routePrefix = fc.constantFrom(
    `/hosted/${f.privateRoute.id}/${f.privateRoute.port}/`,
    `/hosted/${f.publicRoute.id}/${f.publicRoute.port}/`,
    `/hosted/${f.publicRoute.id}/${f.sentinels[0]!.port}/`,
    `/hosted/${f.privateRoute.id}/${f.privateRoute.port}`,
    `/hosted/${f.publicRoute.id}/${f.publicRoute.port}/..%2f..%2f${f.privateRoute.id}/${f.privateRoute.port}/`,
  );
  const routed = fc.tuple(routePrefix, fc.array(segment, { maxLength: 4 }), query).map(([p, segs, q]) => p + segs.join('/') + q);
  const target = fc.oneof(
    { weight: 10, arbitrary: structured },
    { weight: 6, arbitrary: routed },
    { weight: 1, arbitrary: fc.constantFrom('*', '//', 'http://x', 'http://x/api/health', `http://127.0.0.1:${f.privateRoute.port}/`, 'https://[::1]:1/', 'http://[/', '//:x/', 'x', '') },
    { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary-ascii', maxLength: 40 }).map((s) => '/' + s) },
    { weight: 1, arbitrary: fc.integer({ min: 1_000, max: 20_000 }).map((n) => '/hosted/' + 'a'.repeat(n)) },
  );
  const method = fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH') },
    { weight: 1, arbitrary: fc.constantFrom('get', 'TRACE', 'PROPFIND', 'CONNECT', 'G3T', 'M-SEARCH', '') },
  );
  const hostValue = fc.oneof(
    fc.constantFrom('127.0.0.1', 'localhost:1', `${f.privateRoute.port}--${f.privateRoute.id}.${FUZZ_APPS_DOMAIN}`, `${f.publicRoute.port}--${f.publicRoute.id}.${FUZZ_APPS_DOMAIN}`),
    fc.constantFrom(`${f.sentinels[0]!.port}--${f.privateRoute.id}.${FUZZ_APPS_DOMAIN}`, `x.${FUZZ_APPS_DOMAIN}`, `${FUZZ_APPS_DOMAIN}.`, 'bb.6', '1.2.3.999', '[::1]:80', '[', ':', '', 'a b', 'x'.repeat(300), '%zz'),
    fc.string({ maxLength: 30 }),
  );
  const cookieValue = fc.oneof(fc.constantFrom('%zz', '%', '%E0%A4%A', '%ff%fe', 'x'.repeat(500), '"q"', '=', ';;'), fc.string({ maxLength: 20 }));
  const cookie = fc
    .array(fc.tuple(fc.constantFrom('berth_session', 'berth_app_session', 'a', '', ' berth_session ', '%zz'), cookieValue), { maxLength: 40 })
    .map((pairs) => pairs.map(([k, v]) => `${k}=${v}`).join('; '));
  const garbage = fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom('Bearer', 'Bearer ', 'Bearer %zz', 'Basic Zm9vOmJhcg==', 'Bearer berth_' + 'x'.repeat(60), 'bearer  a b'));
  const extra = fc.oneof(
    { weight: 4, arbitrary: fc.tuple(fc.constant('Host'), hostValue) },
    { weight: 4, arbitrary: fc.tuple(fc.constant('Cookie'), cookie) },
    { weight: 4, arbitrary: fc.tuple(fc.constant('Origin'), fc.constantFrom('null', 'http://127.0.0.1', 'http://evil.test', `http://1--x.${FUZZ_APPS_DOMAIN}`, '%zz', '')) },
    { weight: 4, arbitrary: fc.tuple(fc.constantFrom('X-Forwarded-For', 'X-Forwarded-Host', 'X-Forwarded-Proto', 'X-Forwarded-Prefix', 'Forwarded'), fc.oneof(fc.constantFrom('127.0.0.1', '::ffff:1.2.3.4', 'https', '/a/../b', 'evil.test', ',,,', '%zz'), fc.string({ maxLength: 30 }))) },
    { weight: 4, arbitrary: fc.tuple(fc.constant('Authorization'), garbage) },
    { weight: 4, arbitrary: fc.tuple(fc.constantFrom('Accept', 'Sec-Fetch-Site', 'X-Request-Id', 'Content-Type', 'Expect', 'Range'), fc.oneof(fc.constantFrom('text/html', 'application/json;q=0.x', '*/*;q=1e9', 'same-origin', '100-continue', 'bytes=0-'), fc.string({ maxLength: 30 }))) },
    { weight: 4, arbitrary: fc.tuple(fc.stringMatching(/^[A-Za-z0-9-]{1,12}$/), fc.string({ maxLength: 30 })) },
    { weight: 1, arbitrary: fc.tuple(fc.string({ maxLength: 12 }), fc.string({ maxLength: 30 })) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom('X-Custom', 'Via', 'If-None-Match'), fc.string({ unit: 'binary', maxLength: 20 })) },
  );
  const credential = fc.constantFrom<Credential>('none', 'garbage', 'member-cookie', 'admin-cookie', 'admin-token', 'admin-token');
  const upgradeHeaders = fc.constantFrom<[string, string][]>(
    [['Upgrade', 'websocket'], ['Connection', 'Upgrade'], ['Sec-WebSocket-Version', '13'], ['Sec-WebSocket-Key', 'dGhlIHNhbXBsZSBub25jZQ==']],
    [['Upgrade', 'websocket'], ['Connection', 'Upgrade']],
    [['Upgrade', 'h2c'], ['Connection', 'Upgrade, HTTP2-Settings']],
    [['Upgrade', 'websocket'], ['Connection', 'keep-alive, Upgrade'], ['Sec-WebSocket-Version', '99']],
    [['Upgrade', ''], ['Connection', 'Upgrade']],
  );
  const body = fc.oneof({ weight: 4, arbitrary: fc.constant('') }, { weight: 1, arbitrary: fc.constantFrom('{', '{"name":1}', 'null', '[]', '\x00\xff') }, { weight: 1, arbitrary: fc.string({ maxLength: 200 }) });
  return fc
    .record({
      method,
      target,
      // Mostly well-formed header sets (so requests get past the parser), sometimes junk.
      extra: fc.oneof({ weight: 3, arbitrary: fc.array(extra, { maxLength: 3 }) }, { weight: 1, arbitrary: fc.array(extra, { maxLength: 10 }) }),
      upgrade: fc.option(upgradeHeaders, { freq: 3 }),
      credential,
      body,
      apps: fc.boolean(),
    })
    .map(({ method, target, extra, upgrade, credential, body, apps }) => ({
      apps,
      method: NO_CRLF(method).replace(/ /g, ''),
      target: NO_CRLF(target).replace(/ /g, '%20'),
      headers: [...extra.map(([k, v]): [string, string] => [NO_CRLF(k), NO_CRLF(v)]), ...(upgrade ?? [])],
      upgrade: upgrade !== null,
      // An upgrade with the admin's credentials could open a real shell on the host: never sent.
      credential: upgrade !== null && credential.startsWith('admin') ? 'none' : credential,
      body,
    }));
}

// ---------------------------------------------------------------------------------------------
// sending and checking

/** Raw request bytes of a case; `id` goes into `X-Fuzz-Id`, the credential is the fixture's. */
export function renderCase(f: FuzzFixture, c: FuzzCase, id: number): Buffer {
  const lines = [`${c.method} ${c.target} HTTP/1.1`, `X-Fuzz-Id: ${id}`];
  if (!c.headers.some(([k]) => k.toLowerCase() === 'host')) lines.push(`Host: 127.0.0.1:${c.apps ? f.appsPort : f.port}`);
  for (const [k, v] of c.headers) lines.push(`${k}: ${v}`);
  if (c.credential === 'garbage') lines.push('Cookie: berth_session=%zz; berth_app_session=%', 'Authorization: Bearer berth_nope');
  if (c.credential === 'member-cookie') lines.push(`Cookie: ${f.memberCookie}`);
  if (c.credential === 'admin-cookie') lines.push(`Cookie: ${f.adminCookie}`);
  if (c.credential === 'admin-token') lines.push(`Authorization: Bearer ${f.t.daemon.token}`);
  if (!c.upgrade) lines.push('Connection: close');
  const body = Buffer.from(c.body, 'latin1');
  if (body.length) lines.push(`Content-Length: ${body.length}`);
  return Buffer.concat([Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1'), body]);
}

/** Sends bytes, returns the status (0 when the socket closed or timed out without an answer). */
export function send(port: number, bytes: Buffer, timeoutMs = 3_000): Promise<{ status: number; timedOut: boolean }> {
  return new Promise((resolve) => {
    let head = '';
    let timedOut = false;
    const socket = connect({ port, host: '127.0.0.1' });
    socket.setTimeout(timeoutMs, () => {
      timedOut = true;
      socket.destroy();
    });
    socket.on('data', (d: Buffer) => {
      if (head.length < 64) head += d.toString('latin1');
      // One status line is all we need; upgrades may stay open, so stop here.
      if (head.includes('\r\n')) socket.destroy();
    });
    socket.on('error', () => {});
    socket.on('close', () => resolve({ status: /^HTTP\/1\.[01] (\d{3})/.exec(head) ? Number(head.slice(9, 12)) : 0, timedOut }));
    socket.write(bytes);
  });
}

export interface FuzzStats {
  cases: number;
  byStatus: Map<number, number>;
  /** Cases answered 500 (a throw somewhere): the case and its status. */
  errors: { id: number; c: FuzzCase }[];
  timeouts: { id: number; c: FuzzCase }[];
  /** Cases whose socket closed without any status line (CONNECT, upgrades cut short): for review. */
  unanswered: { id: number; c: FuzzCase }[];
  /** Upstream or sentinel contacts that break a property. */
  violations: string[];
}

export function newStats(): FuzzStats {
  return { cases: 0, byStatus: new Map(), errors: [], timeouts: [], unanswered: [], violations: [] };
}

/** Sends `cases` with `concurrency` sockets at a time, then checks the upstream properties. */
export async function runBatch(f: FuzzFixture, cases: readonly FuzzCase[], firstId: number, stats: FuzzStats, concurrency = 16): Promise<void> {
  const byId = new Map<number, FuzzCase>();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < cases.length) {
      const i = next++;
      const id = firstId + i;
      const c = cases[i]!;
      byId.set(id, c);
      const { status, timedOut } = await send(c.apps ? f.appsPort : f.port, renderCase(f, c, id));
      stats.cases++;
      stats.byStatus.set(status, (stats.byStatus.get(status) ?? 0) + 1);
      if (status === 500) stats.errors.push({ id, c });
      if (timedOut) stats.timeouts.push({ id, c });
      else if (status === 0) stats.unanswered.push({ id, c });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  checkUpstreams(f, byId, stats);
}

function checkUpstreams(f: FuzzFixture, byId: Map<number, FuzzCase>, stats: FuzzStats): void {
  for (const s of f.sentinels) {
    if (s.connections > 0) stats.violations.push(`unallocated port ${s.port} was dialled ${s.connections} time(s)`);
    s.connections = 0;
  }
  for (const [route, isPrivate] of [[f.privateRoute, true], [f.publicRoute, false]] as const) {
    for (const raw of route.recorder.seen.splice(0)) {
      const c = byId.get(Number(raw));
      if (!c) {
        stats.violations.push(`${isPrivate ? 'private' : 'public'} upstream got a request without a known X-Fuzz-Id (${JSON.stringify(raw)})`);
        continue;
      }
      const host = c.headers.find(([k]) => k.toLowerCase() === 'host')?.[1] ?? '';
      // Dot segments are resolved per RFC 3986 before routing (`/hosted/a/1/../2/` is port 2's), so
      // the case names the route when its normalized path does; a malformed path names nothing.
      const q = c.target.indexOf('?');
      const path = normalizePath(q === -1 ? c.target : c.target.slice(0, q));
      const forIt = path?.startsWith(`/hosted/${route.id}/${route.port}/`) === true || host.toLowerCase().includes(`${route.port}--${route.id}`);
      if (!forIt) stats.violations.push(`case ${raw} reached ${route.id}:${route.port} without naming it: ${JSON.stringify(c)}`);
      if (isPrivate && c.credential !== 'admin-token' && c.credential !== 'admin-cookie') {
        stats.violations.push(`case ${raw} reached the private upstream with credential ${c.credential}: ${JSON.stringify(c)}`);
      }
    }
  }
}

/** True when the daemon still answers `GET /api/health` with 200. */
export async function healthy(port: number): Promise<boolean> {
  const { status } = await send(port, Buffer.from(`GET /api/health HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`));
  return status === 200;
}
