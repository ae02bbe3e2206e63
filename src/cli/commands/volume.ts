/**
 * `berth volume ls|rm`: Berth's volumes (workspace data, kept or in use; apps' data) with their
 * sizes and what uses them, through the daemon's `/api/volumes`.
 */
import type { Command } from 'commander';
import { BerthClient, clientOptions } from '../client.js';
import { formatTable, printJson } from '../output.js';

/** A volume as the API presents it. */
export interface ApiVolume {
  name: string;
  sizeBytes: number | null;
  kind: string;
  usedBy: string | null;
  madeBy: string | null;
  ownerId: string | null;
}

/** 1536 → `1.5 KiB`; null → `?`. */
export function formatBytes(n: number | null): string {
  if (n === null) return '?';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/** The `volume ls` table: NAME SIZE KIND USED BY. A kept volume says what it was. */
export function formatVolumeTable(list: ApiVolume[]): string {
  if (list.length === 0) return 'no volumes\n';
  return formatTable(
    ['NAME', 'SIZE', 'KIND', 'USED BY'],
    list.map((v) => [v.name, formatBytes(v.sizeBytes), v.kind, v.usedBy ?? `- (kept; was ${v.madeBy ?? '?'})`]),
  );
}

function clientFor(cmd: Command): BerthClient {
  return new BerthClient(clientOptions(cmd.optsWithGlobals<{ url?: string }>().url));
}

/** Registers `volume` and its subcommands on the program. */
export function registerVolume(program: Command): void {
  const volume = program.command('volume').description("Berth's volumes: workspace data (in use or kept) and apps' data");

  volume
    .command('ls')
    .alias('list')
    .description('list volumes with their size on disk and what uses them')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const { volumes } = await clientFor(cmd).json<{ volumes: ApiVolume[] }>('GET', '/api/volumes');
      if (opts.json) printJson({ volumes });
      else process.stdout.write(formatVolumeTable(volumes));
    });

  volume
    .command('rm')
    .alias('remove')
    .description('delete a volume nothing uses, and every file in it')
    .argument('<name>')
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      const { removed } = await clientFor(cmd).json<{ removed: ApiVolume }>('DELETE', `/api/volumes/${encodeURIComponent(name)}`);
      process.stdout.write(`volume ${removed.name} removed (${formatBytes(removed.sizeBytes)})\n`);
    });
}
