/**
 * Let's Encrypt's test CA on loopback: `pebble-challtestsrv` as the DNS server Pebble resolves
 * with (every name → 127.0.0.1 unless a test says otherwise; DNS-01 TXT records set through its
 * management API) and `pebble` itself, validating HTTP-01 on the port Berth's redirect listener
 * uses. Pebble's own HTTPS uses a certificate from the throw-away test CA; certificates it issues
 * chain to its root, fetched from its management port (`/roots/0`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { freeLoopbackPort } from './free-port.js';
import { createTestCa, type TestCa } from './test-certs.js';
import { poll } from './wait.js';

export interface Pebble {
  /** ACME directory URL. */
  directoryUrl: string;
  /** PEM file of the CA Pebble's HTTPS is signed by (BERTH_ACME_CA_FILE). */
  caFile: string;
  /** Pebble's root: what certificates it issues chain to. */
  root(): Promise<string>;
  /** challtestsrv's management API (`/add-a`, `/clear-a`, `/set-txt`, `/clear-txt`). */
  dnsManagementUrl: string;
  dns(pathname: string, body: Record<string, unknown>): Promise<void>;
  stop(): Promise<void>;
}

function getText(url: string, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`${url}: HTTP ${res.statusCode} ${body}`))));
      })
      .on('error', reject);
  });
}

function start(bin: string, args: string[], env: NodeJS.ProcessEnv, log: string[]): ChildProcess {
  const child = spawn(bin, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const keep = (c: Buffer): void => {
    log.push(c.toString());
    if (log.length > 200) log.shift();
    if (process.env.BERTH_TEST_VERBOSE) process.stderr.write(`[${path.basename(bin)}] ${c.toString()}`);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  return child;
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

/** Starts challtestsrv and Pebble; `httpPort` / `tlsPort` are where Pebble validates HTTP-01 / TLS-ALPN-01. */
export async function startPebble(opts: { httpPort: number; tlsPort: number }): Promise<Pebble> {
  const ca: TestCa = createTestCa();
  const serving = ca.issue('pebble', ['localhost', '127.0.0.1']);
  const [dnsPort, mgmtPort, acmePort, pebbleMgmtPort] = [await freeLoopbackPort(), await freeLoopbackPort(), await freeLoopbackPort(), await freeLoopbackPort()];
  const log: string[] = [];
  const challtest = start('pebble-challtestsrv', [
    '-defaultIPv4', '127.0.0.1',
    '-defaultIPv6', '',
    '-dns01', `127.0.0.1:${dnsPort}`,
    '-http01', '',
    '-https01', '',
    '-tlsalpn01', '',
    '-management', `127.0.0.1:${mgmtPort}`,
  ], {}, log);
  const configFile = path.join(ca.dir, 'pebble.json');
  writeFileSync(configFile, JSON.stringify({
    pebble: {
      listenAddress: `127.0.0.1:${acmePort}`,
      managementListenAddress: `127.0.0.1:${pebbleMgmtPort}`,
      certificate: serving.certFile,
      privateKey: serving.keyFile,
      httpPort: opts.httpPort,
      tlsPort: opts.tlsPort,
      ocspResponderURL: '',
      externalAccountBindingRequired: false,
    },
  }));
  const pebble = start('pebble', ['-config', configFile, '-dnsserver', `127.0.0.1:${dnsPort}`], {
    PEBBLE_VA_NOSLEEP: '1',
    PEBBLE_WFE_NONCEREJECT: '0',
    PEBBLE_VA_ALWAYS_VALID: '0',
    // Every order validates afresh: a reused authorization would hide a challenge that now fails.
    PEBBLE_AUTHZREUSE: '0',
  }, log);
  const directoryUrl = `https://127.0.0.1:${acmePort}/dir`;
  const dnsManagementUrl = `http://127.0.0.1:${mgmtPort}`;
  const stop = async (): Promise<void> => {
    await Promise.all([stopChild(pebble), stopChild(challtest)]);
    ca.cleanup();
  };
  try {
    await poll('pebble directory', async () => getText(directoryUrl, ca.caPem).catch(() => null), 15_000);
    await poll('challtestsrv management', async () => fetch(`${dnsManagementUrl}/`).then(() => true, () => null), 15_000);
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}\n${log.join('')}`);
  }
  return {
    directoryUrl,
    caFile: path.join(ca.dir, 'ca.pem'),
    root: () => getText(`https://127.0.0.1:${pebbleMgmtPort}/roots/0`, ca.caPem),
    dnsManagementUrl,
    async dns(pathname, body) {
      const res = await fetch(`${dnsManagementUrl}${pathname}`, { method: 'POST', body: JSON.stringify(body) });
      if (!res.ok) throw new Error(`challtestsrv ${pathname}: HTTP ${res.status} ${await res.text()}`);
    },
    stop,
  };
}
