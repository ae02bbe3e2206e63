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

/** `repo#pr` or an id → the preview. */
async function findPreview(client: BerthClient, which: string): Promise<ApiPreview> {
  const { previews } = await client.json<{ previews: ApiPreview[] }>('GET', '/api/previews');
  const m = /^(.+)#(\d+)$/.exec(which);
  const hit = previews.find((p) => p.id === which || (m && p.repo.toLowerCase() === m[1]!.toLowerCase() && p.pr === Number(m[2])));
  if (!hit) throw new CliError(`no preview ${which} (see: berth preview ls)`);
  return hit;
}

interface CreateOpts {
  repo: string;
  cloneUrl?: string;
  pr: string;
  ref: string;
  json?: boolean;
}

async function create(opts: CreateOpts, cmd: Command): Promise<void> {
  const number = Number(opts.pr);
  if (!Number.isSafeInteger(number) || number < 1) throw new CliError(`--pr must be a pull request number, not ${opts.pr}`);
  const body = { repo: opts.repo, cloneUrl: opts.cloneUrl ?? `https://github.com/${opts.repo}.git`, number, ref: opts.ref };
  const res = await clientFor(cmd).json<{ jobId: number; sha: string }>('POST', '/api/previews', { body });
  if (opts.json) return printJson(res);
  process.stdout.write(`queued build of ${opts.repo}#${number} at ${res.sha.slice(0, 7)} (job ${res.jobId}); follow with: berth preview logs ${opts.repo}#${number}\n`);
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
      .description(name === 'create' ? 'build a preview of a branch or commit by hand' : 'rebuild a preview at a new branch head or commit (zero downtime)')
      .requiredOption('--repo <owner/name>', 'repository')
      .requiredOption('--pr <number>', 'pull request number (the preview host is {pr}.{preview_domain})')
      .option('--ref <branch|sha>', 'branch, tag or commit SHA to build', 'main')
      .option('--clone-url <url>', 'clone URL (default https://github.com/{repo}.git)')
      .option('--json', 'print JSON')
      .action(create);
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
