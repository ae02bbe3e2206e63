/**
 * The parts of `berth ws` about a workspace's persistent data: `ws rm [--keep-data]` and
 * `ws recreate NAME [--image IMG]` (the workload is replaced, the data volume stays; progress lines
 * stream from the daemon). `berth volume` (volume.ts) lists and removes the volumes themselves.
 */
import type { Command } from 'commander';
import { BerthClient, CliError, clientOptions, workspacePath } from '../client.js';
import { printJson, withProgress } from '../output.js';
import { ndjson } from './apps.js';
// Types only: ws.ts imports this module.
import type { ApiWorkspace } from './ws.js';

function clientFor(cmd: Command): BerthClient {
  return new BerthClient(clientOptions(cmd.optsWithGlobals<{ url?: string }>().url));
}

/** `berth ws rm NAME [--keep-data]`: says where kept data is. */
export async function removeWorkspace(idOrName: string, opts: { keepData?: boolean }, cmd: Command): Promise<void> {
  const client = clientFor(cmd);
  // Read first: the answer to DELETE is empty, and the user needs the kept volume's name.
  const ws = opts.keepData ? await client.json<ApiWorkspace>('GET', workspacePath(idOrName)) : null;
  const qs = opts.keepData ? '?keepData=1' : '';
  await withProgress(`removing workspace ${idOrName}`, () => client.json<void>('DELETE', workspacePath(idOrName, qs)));
  process.stdout.write(`workspace ${idOrName} removed\n`);
  if (ws?.dataVolume) {
    process.stdout.write(`its data is kept in volume ${ws.dataVolume}: mount it with \`berth ws create NAME --data-volume ${ws.dataVolume}\`, delete it with \`berth volume rm ${ws.dataVolume}\`\n`);
  }
}

/** One line of the recreate stream. */
type RecreateLine =
  | { workspace: string; step: string; message?: string }
  | { error: { code: string; message: string; hint?: string } }
  | ApiWorkspace;

async function recreate(idOrName: string, opts: { image?: string; json?: boolean }, cmd: Command): Promise<void> {
  const client = clientFor(cmd);
  const body = opts.image ? { image: opts.image } : {};
  let last: RecreateLine | undefined;
  await withProgress(`recreating workspace ${idOrName}`, async (p) => {
    const res = await client.raw('POST', workspacePath(idOrName, '/recreate'), { body, accept: 'application/x-ndjson' });
    if (!res.body) throw new CliError('the daemon sent no recreate progress');
    for await (const line of ndjson<RecreateLine>(res.body)) {
      last = line;
      if ('step' in line) p.update(`${line.workspace}: ${line.step}${line.message ? ` — ${line.message}` : ''}`);
    }
  });
  if (!last || 'step' in last) throw new CliError('the recreate stream ended early', { hint: `see the workspace with \`berth ws show ${idOrName}\`` });
  if ('error' in last) throw new CliError(`${last.error.code}: ${last.error.message}`, last.error.hint ? { hint: last.error.hint } : {});
  if (opts.json) printJson(last);
  else process.stdout.write(`workspace ${last.name} recreated from ${last.image}; data kept at ${last.dataPath} (volume ${last.dataVolume})\n${last.ports.map((p) => `  ${p.containerPort} → ${p.url}\n`).join('')}`);
}

/** Registers `ws recreate` on the `ws` command. */
export function registerWsRecreate(ws: Command): void {
  ws.command('recreate')
    .description('replace the workload with a new one (same id, ports and data volume), e.g. with another image')
    .argument('<id|name>')
    .option('--image <image>', 'the new image (default: the current one)')
    .option('--json', 'print the workspace as JSON')
    .action(recreate);
}
