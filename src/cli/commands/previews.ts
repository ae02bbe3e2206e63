/**
 * `berth preview …`: list, create/update by hand (branch or SHA), destroy and read the build log
 * of pull-request previews. Every call goes through the daemon's HTTP API.
 */
import type { Command } from 'commander';
import { BerthClient, CliError, clientOptions } from '../client.js';
import { formatAgo, formatTable, printJson } from '../output.js';

/** A preview as the API presents it. */
export interface ApiPreview {
  id: string;
  repo: string;
  pr: number;
  sha: string;
  state: 'building' | 'running' | 'failed' | 'destroying';
  reason: string | null;
  url: string | null;
  generation: number;
  createdAt: string;
  updatedAt: string;
}

/** The `preview ls` table: ID REPO PR STATE SHA URL UPDATED. */
export function formatPreviewTable(list: ApiPreview[], now: number = Date.now()): string {
  if (list.length === 0) return 'no previews — they appear when a pull request is opened (or: berth preview create)\n';
  return formatTable(
    ['ID', 'REPO', 'PR', 'STATE', 'SHA', 'URL', 'UPDATED'],
    list.map((p) => [
      p.id,
      p.repo,
      String(p.pr),
      p.reason ? `${p.state}: ${p.reason.split('\n')[0]!.slice(0, 50)}` : p.state,
      p.sha.slice(0, 7),
      p.url ?? '-',
      formatAgo(p.updatedAt, now),
    ]),
  );
}

function clientFor(cmd: Command): BerthClient {
  return new BerthClient(clientOptions(cmd.optsWithGlobals<{ url?: string }>().url));
}

/** `repo#pr` or an id → the preview, or null. */
async function lookupPreview(client: BerthClient, which: string): Promise<ApiPreview | null> {
  const { previews } = await client.json<{ previews: ApiPreview[] }>('GET', '/api/previews');
  const m = /^(.+)#(\d+)$/.exec(which);
  return previews.find((p) => p.id === which || (m && p.repo.toLowerCase() === m[1]!.toLowerCase() && p.pr === Number(m[2]))) ?? null;
}

/** Like lookupPreview, but a miss is E_NOT_FOUND. */
async function findPreview(client: BerthClient, which: string): Promise<ApiPreview> {
  const hit = await lookupPreview(client, which);
  if (!hit) throw new CliError(`no preview ${which}`, { code: 'E_NOT_FOUND', hint: 'name a preview by its id or as owner/name#pr; list them with: berth preview ls' });
  return hit;
}

interface CreateOpts {
  repo: string;
  cloneUrl?: string;
  pr: string;
  ref: string;
  json?: boolean;
}

/** `create` builds a preview (new or not); `update` only rebuilds one that exists, from its clone URL unless given. */
async function createOrUpdate(kind: 'create' | 'update', opts: CreateOpts, cmd: Command): Promise<void> {
  const number = /^\d+$/.test(opts.pr) ? Number(opts.pr) : NaN;
  if (!Number.isSafeInteger(number) || number < 1) throw new CliError(`--pr must be a pull request number, not ${opts.pr}`, { exitCode: 2 });
  const client = clientFor(cmd);
  const name = `${opts.repo}#${number}`;
  if (kind === 'update' && !(await lookupPreview(client, name))) {
    throw new CliError(`no preview ${name} to update`, { code: 'E_NOT_FOUND', hint: `create it with: berth preview create --repo ${opts.repo} --pr ${number} --ref ${opts.ref}` });
  }
  // Without --clone-url the daemon keeps the preview's own (or, for a new one, uses GitHub's).
  const body = { repo: opts.repo, number, ref: opts.ref, ...(opts.cloneUrl ? { cloneUrl: opts.cloneUrl } : {}) };
  const res = await client.json<{ jobId: number; sha: string }>('POST', '/api/previews', { body });
  if (opts.json) return printJson(res);
  const what = kind === 'update' ? `update of ${name} to` : `build of ${name} at`;
  process.stdout.write(`queued ${what} ${res.sha.slice(0, 7)} (job ${res.jobId}); follow with: berth preview logs ${name}\n`);
}

/** Registers `berth preview ls|create|update|destroy|logs`. */
export function registerPreviews(program: Command): void {
  const pv = program.command('preview').alias('previews').description('pull-request previews ({pr}.{preview_domain})');

  pv.command('ls')
    .description('list previews')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const { previews } = await clientFor(cmd).json<{ previews: ApiPreview[] }>('GET', '/api/previews');
      if (opts.json) return printJson(previews);
      process.stdout.write(formatPreviewTable(previews));
    });

  for (const name of ['create', 'update'] as const) {
    pv.command(name)
      .description(name === 'create' ? 'build a preview of a branch or commit by hand' : 'rebuild an existing preview at a new branch head or commit (zero downtime)')
      .requiredOption('--repo <owner/name>', 'repository')
      .requiredOption('--pr <number>', 'pull request number (the preview host is {pr}.{preview_domain})')
      .option('--ref <branch|sha>', 'branch, tag or commit SHA to build', 'main')
      .option('--clone-url <url>', name === 'create' ? 'clone URL (default https://github.com/{repo}.git)' : "clone URL (default: the preview's own)")
      .option('--json', 'print JSON')
      .action((opts: CreateOpts, cmd: Command) => createOrUpdate(name, opts, cmd));
  }

  pv.command('destroy')
    .description('remove a preview: workloads, route and database')
    .argument('<preview>', 'preview id or owner/name#pr')
    .action(async (which: string, _opts: unknown, cmd: Command) => {
      const client = clientFor(cmd);
      const p = await findPreview(client, which);
      await client.json('DELETE', `/api/previews/${encodeURIComponent(p.id)}`);
      process.stdout.write(`destroying ${p.repo}#${p.pr} (${p.id})\n`);
    });

  pv.command('logs')
    .description('print the build log of a preview')
    .argument('<preview>', 'preview id or owner/name#pr')
    .action(async (which: string, _opts: unknown, cmd: Command) => {
      const client = clientFor(cmd);
      const p = await findPreview(client, which);
      const detail = await client.json<ApiPreview & { buildLog: string }>('GET', `/api/previews/${encodeURIComponent(p.id)}`);
      process.stdout.write(detail.buildLog || '(no build log yet)\n');
    });
}
