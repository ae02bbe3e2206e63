/**
 * DNS-01 through RFC 2136 dynamic updates, sent by BIND's `nsupdate` (Debian: bind9-dnsutils),
 * signed with a TSIG key file when one is given. Nothing reaches a shell: the argv is fixed
 * (`nsupdate [-k <absolute key file>]`) and the update goes in on stdin, built only from a
 * validated record name, a base64url value and the configured server.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { BerthError } from '../../../errors.js';
import type { DnsProvider } from './challenges.js';

export interface Rfc2136Options {
  /** `host`, `host:port`, `[v6]` or `[v6]:port`. */
  server: string;
  keyFile?: string | undefined;
  nsupdateBin: string;
  ttl?: number;
  timeoutMs?: number;
}

/** What is run: argv and stdin (split out so they can be checked without a DNS server). */
export interface NsupdateCall {
  bin: string;
  args: string[];
  input: string;
}

const FQDN_RE = /^([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;
const VALUE_RE = /^[A-Za-z0-9_-]{1,255}$/;

function splitServer(server: string): [string, string] {
  const v6 = /^\[([0-9a-fA-F:]+)\](?::(\d{1,5}))?$/.exec(server);
  if (v6) return [v6[1]!, v6[2] ?? '53'];
  const m = /^([A-Za-z0-9.-]+)(?::(\d{1,5}))?$/.exec(server);
  if (!m) throw new BerthError('E_CONFIG', `BERTH_ACME_RFC2136_SERVER ${JSON.stringify(server)} is not host[:port]`, { hint: 'e.g. ns1.example.com or 192.0.2.53:53' });
  return [m[1]!, m[2] ?? '53'];
}

/** The nsupdate call adding (or deleting) TXT `value` at `fqdn`. */
export function nsupdateCall(opts: Rfc2136Options, op: 'add' | 'delete', fqdn: string, value: string): NsupdateCall {
  if (!FQDN_RE.test(fqdn)) throw new BerthError('E_DNS_PROVIDER', `refusing to update ${JSON.stringify(fqdn)}: not a DNS name`, { hint: 'order only DNS names' });
  if (!VALUE_RE.test(value)) throw new BerthError('E_DNS_PROVIDER', 'refusing a TXT value that is not base64url', { hint: 'a DNS-01 value is base64url' });
  const [host, port] = splitServer(opts.server);
  const ttl = opts.ttl ?? 60;
  const record = op === 'add' ? `update add ${fqdn}. ${ttl} IN TXT "${value}"` : `update delete ${fqdn}. IN TXT "${value}"`;
  return {
    bin: opts.nsupdateBin,
    // Absolute, so a key file named like an option cannot read as one.
    args: opts.keyFile ? ['-k', path.resolve(opts.keyFile)] : [],
    input: `server ${host} ${port}\n${record}\nsend\nquit\n`,
  };
}

/** Runs a call; rejects with nsupdate's own words when it exits non-zero. */
export function runNsupdate(call: NsupdateCall, timeoutMs = 30_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(call.bin, call.args, { stdio: ['pipe', 'ignore', 'pipe'], timeout: timeoutMs });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (c: string) => {
      if (stderr.length < 4096) stderr += c;
    });
    child.on('error', (err) => {
      reject(new BerthError('E_DNS_PROVIDER', `cannot run ${call.bin}: ${err.message}`, { hint: 'install nsupdate (Debian: apt-get install bind9-dnsutils) or set BERTH_ACME_NSUPDATE_BIN', cause: err }));
    });
    child.on('close', (code, signal) => {
      if (code === 0) return resolve();
      reject(new BerthError('E_DNS_PROVIDER', `nsupdate failed (${signal ?? `exit ${code}`}): ${stderr.trim() || 'no message'}`, { hint: 'check BERTH_ACME_RFC2136_SERVER, the TSIG key (BERTH_ACME_RFC2136_KEY_FILE) and that the server allows updates of the zone' }));
    });
    child.stdin.on('error', () => {
      // nsupdate exiting early closes its stdin; its exit status says why.
    });
    child.stdin.end(call.input);
  });
}

export class Rfc2136Dns implements DnsProvider {
  readonly name = 'rfc2136';

  constructor(
    private readonly opts: Rfc2136Options,
    private readonly run: (call: NsupdateCall) => Promise<void> = (c) => runNsupdate(c, opts.timeoutMs),
  ) {
    splitServer(opts.server); // refuse a bad server at start, not at the first order
  }

  async publish(fqdn: string, value: string): Promise<string> {
    await this.run(nsupdateCall(this.opts, 'add', fqdn, value));
    return JSON.stringify([fqdn, value]);
  }

  async remove(handle: string): Promise<void> {
    const [fqdn, value] = JSON.parse(handle) as [string, string];
    await this.run(nsupdateCall(this.opts, 'delete', fqdn, value));
  }
}
