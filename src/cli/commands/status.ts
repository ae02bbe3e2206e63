/** `berth status [--json]`: is the daemon up, which runtime, how many workspaces and ports. */
import type { Command } from 'commander';
import { BerthClient, clientOptions } from '../client.js';
import { formatDuration, printJson } from '../output.js';

/** `GET /api/health` (no auth). */
export interface HealthAnswer {
  status: string;
  runtime?: string;
  version?: string;
}

/** `GET /api/status` (auth). */
export interface StatusAnswer {
  runtime: string;
  runtimeReason: string;
  version: string;
  uptimeSeconds: number;
  workspaces: { creating: number; running: number; stopped: number; failed: number };
  ports: { used: number; total: number };
  /** Absent from daemons before TLS existed. */
  tls?: { mode: string; certificates: TlsCertificateStatus[] };
}

/** One certificate source as /api/status reports it (edge/tls/certificates.ts CertificateStatus). */
export interface TlsCertificateStatus {
  source: string;
  names: string[];
  notAfter: string | null;
  error: string | null;
}

/** One line per certificate: names, expiry in days, and why its last update failed. */
export function formatCertificates(certs: TlsCertificateStatus[], now = Date.now()): string[] {
  return certs.map((c) => {
    const names = c.names.length > 0 ? c.names.join(', ') : c.source.replace(/^acme:/, '');
    const expiry = c.notAfter ? `expires ${c.notAfter.slice(0, 10)} (in ${Math.floor((Date.parse(c.notAfter) - now) / 86_400_000)} days)` : 'no certificate yet';
    return `${names}: ${expiry}${c.error ? `; last update FAILED: ${c.error}` : ''}`;
  });
}

/** `podman (found podman 5.4)`; a reason that already names the runtime is shown alone. */
export function describeRuntime(runtime: string, reason: string): string {
  if (!reason) return runtime;
  return reason.startsWith(runtime) ? reason : `${runtime} (${reason})`;
}

/** Human-readable status block. */
export function formatStatus(url: string, health: HealthAnswer, status: StatusAnswer): string {
  const w = status.workspaces;
  const total = w.creating + w.running + w.stopped + w.failed;
  const lines: [string, string][] = [
    ['daemon', `${url} (${health.status}, version ${status.version})`],
    ['runtime', describeRuntime(status.runtime, status.runtimeReason)],
    ['uptime', formatDuration(status.uptimeSeconds)],
    [
      'workspaces',
      `${total} (${w.running} running, ${w.stopped} stopped, ${w.creating} creating, ${w.failed} failed)`,
    ],
    ['ports', `${status.ports.used} of ${status.ports.total} host ports in use`],
  ];
  if (status.tls && status.tls.mode !== 'off') {
    const certs = formatCertificates(status.tls.certificates);
    lines.push(['tls', `${status.tls.mode}${certs.length === 0 ? ' (no certificate yet)' : ''}`]);
    for (const c of certs) lines.push(['', c]);
  }
  const width = Math.max(...lines.map(([k]) => k.length));
  return lines.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n') + '\n';
}

/** Registers `status` on the program. */
export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('show whether the daemon is running, its runtime and resource use')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const client = new BerthClient(clientOptions(cmd.optsWithGlobals<{ url?: string }>().url));
      const health = await client.json<HealthAnswer>('GET', '/api/health', { auth: false });
      const status = await client.json<StatusAnswer>('GET', '/api/status');
      if (opts.json) printJson({ url: client.url, health, status });
      else process.stdout.write(formatStatus(client.url, health, status));
    });
}
