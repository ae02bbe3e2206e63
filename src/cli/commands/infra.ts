/**
 * `berth infra up|status|down`: Berth's own shared PostgreSQL and Redis for apps, run as workloads
 * of the daemon's runtime when BERTH_POSTGRES_URL / BERTH_REDIS_URL are not set. Through the API.
 */
import type { Command } from 'commander';
import { BerthClient, CliError, clientOptions } from '../client.js';
import { formatTable, printJson } from '../output.js';
import { ndjson } from './apps.js';

/** One service of `GET /api/infra`. */
export interface ApiInfraService {
  kind: string;
  source: 'env' | 'managed' | 'none';
  state: string;
  address: string | null;
  appAddress: string | null;
  data: string | null;
  version: string | null;
  problem: string | null;
}

export interface ApiInfraStatus {
  runtime: string;
  services: ApiInfraService[];
}

type ProgressLine = { message: string } | { status: ApiInfraStatus } | { error: { code: string; message: string; hint?: string } };

const SOURCE: Record<ApiInfraService['source'], string> = { env: 'BERTH_*_URL', managed: 'berth', none: '-' };

/** The `infra status` table: SERVICE SOURCE STATE ADDRESS APPS-USE DATA VERSION, then problems. */
export function formatInfraTable(s: ApiInfraStatus): string {
  const table = formatTable(
    ['SERVICE', 'SOURCE', 'STATE', 'ADDRESS', 'APPS USE', 'DATA', 'VERSION'],
    s.services.map((x) => [x.kind, SOURCE[x.source], x.state, x.address ?? '-', x.appAddress ?? '-', x.data ?? '-', x.version ?? '-']),
  );
  const problems = s.services.filter((x) => x.problem).map((x) => `${x.kind}: ${x.problem}\n`);
  const none = s.services.some((x) => x.source === 'none') ? 'not configured services: start Berth\'s own with `berth infra up`\n' : '';
  return table + problems.join('') + none;
}

function clientFor(cmd: Command): BerthClient {
  return new BerthClient(clientOptions(cmd.optsWithGlobals<{ url?: string }>().url));
}

/** POSTs `path`, prints progress lines to stderr, and resolves to the final status. */
async function streamed(cmd: Command, path: string, body: unknown): Promise<ApiInfraStatus> {
  const res = await clientFor(cmd).raw('POST', path, { body, accept: 'application/x-ndjson' });
  if (!res.body) throw new CliError('the daemon sent no progress');
  let last: ProgressLine | undefined;
  for await (const line of ndjson<ProgressLine>(res.body)) {
    last = line;
    if ('message' in line) process.stderr.write(`${line.message}\n`);
  }
  if (!last || 'message' in last) throw new CliError('the progress stream ended early; see `berth infra status`');
  if ('error' in last) throw new CliError(last.error.message, { code: last.error.code, ...(last.error.hint ? { hint: last.error.hint } : {}) });
  return last.status;
}

/** Registers `infra` and its subcommands on the program. */
export function registerInfra(program: Command): void {
  const infra = program.command('infra').description("Berth's own PostgreSQL and Redis for apps (when BERTH_POSTGRES_URL / BERTH_REDIS_URL are not set)");

  infra
    .command('up')
    .description('start PostgreSQL and Redis as workloads of the current runtime (first run: initialize their data)')
    .option('--json', 'print the resulting status as JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const status = await streamed(cmd, '/api/infra/up', {});
      if (opts.json) printJson(status);
      else process.stdout.write(formatInfraTable(status));
    });

  infra
    .command('status')
    .description('show where the shared PostgreSQL and Redis run and whether they answer')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const status = await clientFor(cmd).json<ApiInfraStatus>('GET', '/api/infra');
      if (opts.json) printJson(status);
      else process.stdout.write(formatInfraTable(status));
    });

  infra
    .command('down')
    .description("stop Berth's own PostgreSQL and Redis (their data is kept unless --purge)")
    .option('--purge', 'also delete their data (every app database and Redis key in them)')
    .option('--force', 'even while installed apps use them')
    .option('--json', 'print the resulting status as JSON')
    .action(async (opts: { purge?: boolean; force?: boolean; json?: boolean }, cmd: Command) => {
      const status = await streamed(cmd, '/api/infra/down', { purge: !!opts.purge, force: !!opts.force });
      if (opts.json) printJson(status);
      else process.stdout.write(formatInfraTable(status));
    });
}
