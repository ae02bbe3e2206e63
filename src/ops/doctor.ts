/**
 * `berth doctor`: checks a host before (or while) Berth runs on it and explains each finding —
 * the engine and its version, the ports, the data directory, the clock, DNS of the wildcard
 * domains, the certificate, and the shared PostgreSQL and Redis. Every check is bounded in time
 * and runs against the real thing (a bind, a lookup, a connection); none needs the daemon.
 */
import { lookup } from 'node:dns/promises';
import { readFileSync, statfsSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { createServer } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { BerthConfig } from '../config/schema.js';
import { isBerthError } from '../errors.js';
import { silentLogger } from '../log.js';
import { loadCertificate, nameCovers } from '../edge/tls/certificates.js';
import { runHostBinary } from '../infra/host-binaries.js';
import { connectResp } from '../infra/resp.js';
import { checkAcmeCertificates } from './doctor-acme.js';
import { selectRuntime } from '../runtime/select.js';
import { prepareDataDir } from '../store/data-dir.js';

export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

/** One finding: what was checked, how it went, and what to do when it did not go well. */
export interface CheckResult {
  name: string;
  status: CheckStatus;
  detail: string;
  hint?: string;
}

const ok = (name: string, detail: string): CheckResult => ({ name, status: 'ok', detail });
const warn = (name: string, detail: string, hint: string): CheckResult => ({ name, status: 'warn', detail, hint });
const fail = (name: string, detail: string, hint: string): CheckResult => ({ name, status: 'fail', detail, hint });
const skip = (name: string, detail: string): CheckResult => ({ name, status: 'skip', detail });

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms / 1000} s`)), ms)))]).finally(() => clearTimeout(timer));
}

/** Free space below which the data directory is a warning. */
const LOW_SPACE_BYTES = 2 * 1024 ** 3;

export function checkDataDir(config: BerthConfig): CheckResult {
  try {
    prepareDataDir(config.dataDir);
    const fs = statfsSync(config.dataDir);
    const free = fs.bavail * fs.bsize;
    const gib = (free / 1024 ** 3).toFixed(1);
    if (free < LOW_SPACE_BYTES) return warn('data dir', `${config.dataDir} is writable, ${gib} GiB free`, 'previews build images and keep checkouts here: free space or move BERTH_DATA_DIR to a larger disk');
    return ok('data dir', `${config.dataDir} is writable, ${gib} GiB free`);
  } catch (err) {
    return fail('data dir', message(err), isBerthError(err) && err.hint ? err.hint : 'set BERTH_DATA_DIR to a directory this user can write');
  }
}

export async function checkRuntime(config: BerthConfig): Promise<CheckResult> {
  try {
    const s = await within(selectRuntime(config.runtime, { log: silentLogger(), dataDir: config.dataDir }, { podmanBin: config.podmanBin, dockerBin: config.dockerBin }), 20_000, 'the container engine');
    const detail = `${s.runtime.name}: ${s.reason}`;
    if (!s.runtime.capabilities.isolation) return warn('runtime', detail, 'the process runtime does not isolate workloads from the host: install podman (scripts/install-deps) for untrusted code');
    return ok('runtime', detail);
  } catch (err) {
    return fail('runtime', message(err), isBerthError(err) && err.hint ? err.hint : 'install podman or docker (scripts/install-deps), or set BERTH_RUNTIME=process');
  }
}

/**
 * Whether a Berth answers at host:port (then a busy port is Berth itself, running): its dashboard
 * origin answers /api/health; its apps origin serves none of Berth's own paths and says so.
 */
function berthAnswers(host: string, port: number, tls: boolean, appsOrigin: boolean): Promise<boolean> {
  return new Promise((resolve) => {
    const mod = tls ? https : http;
    const req = mod.get({ host, port, path: '/api/health', timeout: 3000, rejectUnauthorized: false, headers: { accept: 'application/json' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c.slice(0, 1000)));
      res.on('end', () =>
        resolve(appsOrigin ? res.statusCode === 404 && /"code":"E_NOT_FOUND".*Nothing is served at this address/.test(body) : res.statusCode === 200 && /"status":"ok"/.test(body)),
      );
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

function tryBind(host: string, port: number): Promise<NodeJS.ErrnoException | null> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err));
    s.listen(port, host, () => s.close(() => resolve(null)));
  });
}

/** The listeners Berth opens with this configuration: free, or held by a running Berth. */
export async function checkPorts(config: BerthConfig): Promise<CheckResult[]> {
  const tls = config.tls !== 'off';
  const ports: [string, number, boolean][] = [['port', config.port, tls], ['apps port', config.appsPort ?? (config.port === 0 ? 0 : config.port + 1), tls]];
  if (tls && (config.httpPort ?? 80) !== 0) ports.push(['http port', config.httpPort ?? 80, false]);
  return Promise.all(
    ports.map(async ([what, port, overTls]): Promise<CheckResult> => {
      const name = `${what} ${port}`;
      if (port === 0) return skip(name, 'any free port (0)');
      const err = await tryBind(config.host, port);
      if (!err) return ok(name, `free on ${config.host}`);
      if (err.code === 'EADDRINUSE') {
        if (what !== 'http port' && (await berthAnswers(config.host === '0.0.0.0' ? '127.0.0.1' : config.host, port, overTls, what === 'apps port'))) return ok(name, 'in use by a running Berth');
        return fail(name, `in use by another process on ${config.host}`, `stop it (\`ss -ltnp 'sport = :${port}'\` names it) or choose another port in BERTH_${what.replace(' ', '_').toUpperCase()}`);
      }
      if (err.code === 'EACCES') return fail(name, `not allowed to listen on ${port}`, 'ports below 1024 need root or CAP_NET_BIND_SERVICE');
      return fail(name, `cannot listen on ${config.host}:${port}: ${err.code ?? err.message}`, 'check BERTH_HOST');
    }),
  );
}

/** systemd's view of time synchronisation; `skip` where it cannot be asked (containers without systemd). */
export function checkClock(run: (bin: string, args: string[]) => Promise<string> = (bin, args) => runHostBinary(bin, args, { timeoutMs: 5000 })): Promise<CheckResult> {
  const now = new Date().toISOString();
  return run('timedatectl', ['show', '-p', 'NTPSynchronized', '--value']).then(
    (out) =>
      out.trim() === 'yes'
        ? ok('clock', `${now}, synchronised (NTP)`)
        : warn('clock', `${now}, not synchronised`, 'certificates, sessions and tokens depend on the time: enable NTP (`timedatectl set-ntp true`)'),
    () => skip('clock', `${now}; synchronisation unknown (no timedatectl answer here)`),
  );
}

/** Addresses the wildcard domains should resolve to: BERTH_PUBLIC_URL's host's, else this machine's. */
async function expectedAddresses(config: BerthConfig): Promise<Set<string>> {
  if (config.publicUrl) {
    const host = new URL(config.publicUrl).hostname.replace(/^\[|\]$/g, '');
    try {
      return new Set((await lookup(host, { all: true })).map((a) => a.address));
    } catch {
      // fall through to this machine's own addresses
    }
  }
  const own = Object.values(networkInterfaces()).flatMap((l) => (l ?? []).map((a) => a.address));
  return new Set(own);
}

/** `*.{appsDomain}` and `*.{previewDomain}` must resolve (a random label proves the wildcard) to this host. */
export async function checkDns(config: BerthConfig): Promise<CheckResult[]> {
  const domains: [string, string][] = [];
  if (config.appsDomain) domains.push(['apps DNS', config.appsDomain.replace(/:\d+$/, '')]);
  if (config.previewDomain) domains.push(['preview DNS', config.previewDomain.replace(/:\d+$/, '')]);
  if (domains.length === 0) return [skip('DNS', 'no BERTH_APPS_DOMAIN or BERTH_PREVIEW_DOMAIN: nothing to resolve')];
  const expected = await expectedAddresses(config);
  return Promise.all(
    domains.map(async ([name, domain]): Promise<CheckResult> => {
      const probe = `berth-doctor-${Math.random().toString(36).slice(2, 8)}.${domain}`;
      try {
        const got = (await within(lookup(probe, { all: true }), 5000, 'DNS')).map((a) => a.address);
        if (got.some((a) => expected.has(a))) return ok(name, `*.${domain} → ${got.join(', ')}`);
        return warn(name, `*.${domain} → ${got.join(', ')}, not this host (${[...expected].slice(0, 4).join(', ')})`, `point the wildcard record *.${domain} at this host's public address`);
      } catch (err) {
        return fail(name, `*.${domain} does not resolve (${(err as NodeJS.ErrnoException).code ?? message(err)})`, `add a DNS record *.${domain} (A/AAAA) pointing at this host`);
      }
    }),
  );
}

/** Days left below which the certificate is a warning. */
const CERT_WARN_DAYS = 14;

export function checkCertificate(config: BerthConfig, now = new Date()): CheckResult {
  if (config.tls === 'off') return skip('certificate', 'BERTH_TLS=off (plain HTTP, or TLS at an outer proxy)');
  if (config.tls === 'acme') return checkAcmeCertificates(config, now);
  if (!config.tlsCertFile || !config.tlsKeyFile) return fail('certificate', 'BERTH_TLS=files without BERTH_TLS_CERT_FILE and BERTH_TLS_KEY_FILE', 'point both at the PEM certificate and its key');
  try {
    const cert = loadCertificate(readFileSync(config.tlsCertFile, 'utf8'), readFileSync(config.tlsKeyFile, 'utf8'), now);
    const days = Math.floor((cert.notAfter.getTime() - now.getTime()) / 86_400_000);
    const detail = `${cert.names.join(', ')}; valid until ${cert.notAfter.toISOString().slice(0, 10)} (${days} days), issuer ${cert.issuer}`;
    const wanted = [config.publicUrl ? new URL(config.publicUrl).hostname : null, config.appsDomain ? `x.${config.appsDomain}` : null, config.previewDomain ? `1.${config.previewDomain}` : null].filter((h): h is string => h !== null);
    const uncovered = wanted.filter((h) => !cert.names.some((n) => nameCovers(n, h.toLowerCase())));
    if (uncovered.length > 0) return warn('certificate', detail, `it does not cover ${uncovered.map((h) => h.replace(/^(x|1)\./, '*.')).join(', ')}: browsers will refuse those hosts`);
    if (days < CERT_WARN_DAYS) return warn('certificate', detail, 'renew it soon (replace the files; Berth reloads them without a restart)');
    return ok('certificate', detail);
  } catch (err) {
    return fail('certificate', message(err), isBerthError(err) && err.hint ? err.hint : 'check BERTH_TLS_CERT_FILE and BERTH_TLS_KEY_FILE');
  }
}

export async function checkPostgres(config: BerthConfig): Promise<CheckResult> {
  if (!config.postgresUrl) return skip('postgres', 'BERTH_POSTGRES_URL not set (apps that need it use `berth infra up`)');
  const pg = (await import('pg')).default;
  const client = new pg.Client({ connectionString: config.postgresUrl, connectionTimeoutMillis: 5000 });
  client.on('error', () => {});
  try {
    await client.connect();
    const r = await within(client.query<{ v: string }>('SELECT current_setting(\'server_version\') AS v'), 5000, 'PostgreSQL');
    return ok('postgres', `reachable, server ${r.rows[0]?.v ?? '?'}`);
  } catch (err) {
    return fail('postgres', `cannot connect: ${message(err)}`, 'check BERTH_POSTGRES_URL (host, port, role and password) and that the server runs');
  } finally {
    await client.end().catch(() => {});
  }
}

export async function checkRedis(config: BerthConfig): Promise<CheckResult> {
  if (!config.redisUrl) return skip('redis', 'BERTH_REDIS_URL not set (apps that need it use `berth infra up`)');
  try {
    const conn = await connectResp(config.redisUrl, { timeoutMs: 5000 });
    try {
      const pong = await within(conn.command(['PING']), 5000, 'Redis');
      return pong === 'PONG' ? ok('redis', 'reachable (PING → PONG)') : fail('redis', `PING answered ${JSON.stringify(pong)}`, 'check BERTH_REDIS_URL points at a Redis server');
    } finally {
      await conn.close().catch(() => {});
    }
  } catch (err) {
    return fail('redis', `cannot connect: ${message(err)}`, 'check BERTH_REDIS_URL (host, port, password) and that the server runs');
  }
}

/** Every check, in display order. */
export async function runDoctor(config: BerthConfig): Promise<CheckResult[]> {
  const major = Number(process.versions.node.split('.')[0]);
  const node = major >= 20 ? ok('node', `v${process.versions.node}`) : fail('node', `v${process.versions.node}`, 'Berth needs Node.js 20 or newer: scripts/install-deps installs it');
  const dataDir = checkDataDir(config);
  const [runtime, ports, clock, dns, postgres, redis] = await Promise.all([checkRuntime(config), checkPorts(config), checkClock(), checkDns(config), checkPostgres(config), checkRedis(config)]);
  return [node, dataDir, runtime, ...ports, clock, ...dns, checkCertificate(config), postgres, redis];
}
