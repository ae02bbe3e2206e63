/**
 * `berth app …`: browse the catalog, install (with progress lines), list, uninstall and follow the
 * logs of catalog apps. Every call goes through the daemon's HTTP API.
 */
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { Command } from 'commander';
import { collectEnv } from '../args.js';
import { BerthClient, CliError, clientOptions } from '../client.js';
import { formatAgo, formatTable, printJson } from '../output.js';

/** A catalog entry as the API presents it. */
export interface ApiCatalogApp {
  name: string;
  title: string;
  description: string;
  requires: string[];
  dependsOn: string[];
  embed: { subpath: boolean; stripPrefix: boolean };
}

/** An installed app as the API presents it. */
export interface ApiApp {
  name: string;
  title: string;
  state: 'installing' | 'running' | 'failed';
  reason: string | null;
  url: string | null;
  createdAt: string;
}

/** `DELETE /api/apps/:name`: what the uninstall removed and kept (`volume x`, `database y`, …). */
export interface UninstallAnswer {
  name: string;
  purged: boolean;
  removed: string[];
  kept: string[];
}

/** One NDJSON line of `POST /api/apps`. */
type InstallLine = { step: string; app: string; message: string } | { error: { code: string; message: string; hint?: string } } | ApiApp;

/** The `app catalog` table: NAME TITLE NEEDS DESCRIPTION. */
export function formatCatalogTable(apps: ApiCatalogApp[]): string {
  if (apps.length === 0) return 'the catalog is empty\n';
  return formatTable(
    ['NAME', 'TITLE', 'NEEDS', 'DESCRIPTION'],
    apps.map((a) => [a.name, a.title, [...a.requires, ...a.dependsOn].join(',') || '-', a.description.split('\n')[0]!.slice(0, 60)]),
  );
}

/** The `app ls` table: NAME STATE URL INSTALLED. */
export function formatAppTable(apps: ApiApp[], now: number = Date.now()): string {
  if (apps.length === 0) return 'no apps installed — see the catalog with: berth app catalog\n';
  return formatTable(
    ['NAME', 'STATE', 'URL', 'INSTALLED'],
    apps.map((a) => [a.name, a.state === 'failed' && a.reason ? `failed: ${a.reason.slice(0, 60)}` : a.state, a.url ?? '-', formatAgo(a.createdAt, now)]),
  );
}

function clientFor(cmd: Command): BerthClient {
  return new BerthClient(clientOptions(cmd.optsWithGlobals<{ url?: string }>().url));
}

/** Reads NDJSON lines from a fetch body (install progress here, `infra up|down` progress too). */
export async function* ndjson<Line = InstallLine>(body: globalThis.ReadableStream<Uint8Array>): AsyncGenerator<Line> {
  let buf = '';
  for await (const chunk of Readable.fromWeb(body as WebReadableStream<Uint8Array>)) {
    buf += String(chunk);
    let nl: number;
    while ((nl = buf.indexOf('\n')) !== -1) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (line) yield JSON.parse(line) as Line;
    }
  }
  if (buf.trim()) yield JSON.parse(buf) as Line;
}

async function install(name: string, opts: { set?: Record<string, string>; json?: boolean }, cmd: Command): Promise<void> {
  const client = clientFor(cmd);
  const body = { name, ...(opts.set && Object.keys(opts.set).length ? { settings: opts.set } : {}) };
  const res = await client.raw('POST', '/api/apps', { body, accept: 'application/x-ndjson' });
  if (!res.body) throw new CliError('the daemon sent no install progress');
  let last: InstallLine | undefined;
  for await (const line of ndjson(res.body)) {
    last = line;
    if ('step' in line) process.stderr.write(`${line.app}: ${line.step}${line.message ? ` — ${line.message}` : ''}\n`);
  }
  if (!last || 'step' in last) throw new CliError('the install stream ended early; see `berth app ls`');
  if ('error' in last) throw new CliError(`${last.error.code}: ${last.error.message}`, last.error.hint ? { hint: last.error.hint } : {});
  if (opts.json) printJson(last);
  else process.stdout.write(`app ${last.name} installed: ${last.url ?? '(no URL)'}\n`);
}

async function logs(name: string, opts: { follow?: boolean }, cmd: Command): Promise<void> {
  const ac = new AbortController();
  const onSigint = (): void => ac.abort();
  process.once('SIGINT', onSigint);
  try {
    const qs = opts.follow ? '?follow=1' : '';
    const res = await clientFor(cmd).raw('GET', `/api/apps/${encodeURIComponent(name)}/logs${qs}`, { signal: ac.signal, accept: 'text/plain' });
    if (!res.body) return;
    for await (const chunk of Readable.fromWeb(res.body as WebReadableStream<Uint8Array>)) process.stdout.write(chunk as Buffer);
  } catch (err) {
    if ((err as Error).name !== 'AbortError') throw err;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

/** Registers `app` and its subcommands on the program. */
export function registerApps(program: Command): void {
  const app = program.command('app').alias('apps').description('install and manage catalog apps (served under /embed/{app}/)');

  app.command('catalog')
    .description('list the apps that can be installed')
    .option('--json', 'print JSON (with catalog load errors)')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const res = await clientFor(cmd).json<{ apps: ApiCatalogApp[]; errors: { text: string }[] }>('GET', '/api/catalog');
      if (opts.json) return printJson(res);
      process.stdout.write(formatCatalogTable(res.apps));
      for (const e of res.errors) process.stderr.write(`catalog problem: ${e.text}\n`);
    });

  app.command('ls')
    .alias('list')
    .description('list installed apps')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const { apps } = await clientFor(cmd).json<{ apps: ApiApp[] }>('GET', '/api/apps');
      if (opts.json) printJson({ apps });
      else process.stdout.write(formatAppTable(apps));
    });

  app.command('install')
    .description('install an app and what it depends on, each healthy before the next starts')
    .argument('<name>', 'catalog app name')
    .option('--set <K=V>', 'setting (env override) for the app (repeatable)', collectEnv)
    .option('--json', 'print the installed app as JSON')
    .action(install);

  app.command('uninstall')
    .alias('rm')
    .description('stop and remove an app and its route (its database and data are kept unless --purge)')
    .argument('<name>')
    .option('--purge', 'also delete its volumes, database, role, Redis keys and secrets')
    .option('--json', 'print what was removed and kept as JSON')
    .action(async (name: string, opts: { purge?: boolean; json?: boolean }, cmd: Command) => {
      const report = await clientFor(cmd).json<UninstallAnswer>('DELETE', `/api/apps/${encodeURIComponent(name)}${opts.purge ? '?purge=1' : ''}`);
      if (opts.json) return printJson(report);
      for (const item of report.removed) process.stderr.write(`${name}: removed ${item}\n`);
      for (const item of report.kept) process.stderr.write(`${name}: kept ${item}\n`);
      process.stdout.write(`app ${name} uninstalled${opts.purge ? ' and purged' : ' (data kept; --purge deletes it)'}\n`);
    });

  app.command('logs')
    .description('print the output of an app')
    .argument('<name>')
    .option('-f, --follow', 'keep streaming new output until Ctrl-C')
    .action(logs);
}
