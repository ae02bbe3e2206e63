/**
 * Usage and limits in the CLI: the `--cpus` / `--memory` options of `berth ws create` and
 * `berth ws top`, a table of every running workspace's CPU, memory and disk that refreshes like
 * `top` (`--once` prints it once, for scripts).
 */
import { InvalidArgumentError, type Command } from 'commander';
import { cpusProblem, formatBytes, formatMb, parseMemoryMb } from '../../domain/resources.js';
import { BerthClient, clientOptions } from '../client.js';
import { formatTable, printJson } from '../output.js';

/** `--cpus 1.5`: a number of CPUs, at least 0.01. */
export function parseCpusOption(value: string): number {
  const n = /^\d+(\.\d+)?$|^\.\d+$/.test(value.trim()) ? Number(value) : Number.NaN;
  const problem = Number.isNaN(n) ? `expected a number of CPUs like 0.5 or 2, got "${value}"` : cpusProblem(n);
  if (problem) throw new InvalidArgumentError(problem);
  return n;
}

/** `--memory 512m` / `2g` / `1024` (megabytes) → megabytes. */
export function parseMemoryOption(value: string): number {
  const parsed = parseMemoryMb(value);
  if ('problem' in parsed) throw new InvalidArgumentError(`${parsed.problem}; give a size like 512m or 2g`);
  return parsed.mb;
}

/** `usage` of a workspace as the API presents it (see services/workspace-usage.ts). */
export interface ApiUsage {
  cpuPercent: number | null;
  cpuSeconds: number | null;
  memoryBytes: number;
  memoryLimitBytes: number | null;
  pids: number;
  diskBytes: number | null;
  sampledAt: string;
}

/** What `ws top` needs of a workspace. */
export interface TopRow {
  name: string;
  id: string;
  state: string;
  cpus?: number | null;
  memoryMb?: number | null;
  usage?: ApiUsage | null;
}

/** `ws show`'s limits line: `1.5 CPUs, 512m memory`. */
export function formatLimits(w: { cpus?: number | null; memoryMb?: number | null }): string {
  return [w.cpus != null ? `${w.cpus} CPUs` : 'CPU unlimited', w.memoryMb != null ? `${formatMb(w.memoryMb)} memory` : 'memory unlimited'].join(', ');
}

/** `ws show`'s usage line: `CPU 12.5%, memory 34 MiB, 3 processes, disk 1.2 MiB`. */
export function formatUsageLine(u: ApiUsage): string {
  const parts = [`CPU ${pct(u.cpuPercent)}`, `memory ${formatBytes(u.memoryBytes)}`, `${u.pids} processes`];
  if (u.diskBytes != null) parts.push(`disk ${formatBytes(u.diskBytes)}`);
  return parts.join(', ');
}

const pct = (n: number | null | undefined): string => (n == null ? '-' : `${n.toFixed(1)}%`);

/** The `ws top` table: NAME ID CPU CPU LIMIT MEM MEM LIMIT MEM% PIDS DISK, busiest CPU first. */
export function formatTop(rows: readonly TopRow[]): string {
  const running = rows.filter((r) => r.state === 'running');
  if (running.length === 0) return 'no running workspaces\n';
  const sorted = [...running].sort((a, b) => (b.usage?.cpuPercent ?? -1) - (a.usage?.cpuPercent ?? -1) || a.name.localeCompare(b.name));
  return formatTable(
    ['NAME', 'ID', 'CPU', 'CPUS', 'MEM', 'LIMIT', 'MEM%', 'PIDS', 'DISK'],
    sorted.map((r) => {
      const u = r.usage;
      // The limit the user set; without one the engine reports the host's memory, shown as "-".
      const limitBytes = r.memoryMb != null ? r.memoryMb * 1024 * 1024 : null;
      return [
        r.name,
        r.id,
        pct(u?.cpuPercent),
        r.cpus != null ? String(r.cpus) : '-',
        u ? formatBytes(u.memoryBytes) : '-',
        limitBytes !== null ? formatBytes(limitBytes) : '-',
        u && limitBytes ? pct((100 * u.memoryBytes) / limitBytes) : '-',
        u ? String(u.pids) : '-',
        u?.diskBytes != null ? formatBytes(u.diskBytes) : '-',
      ];
    }),
  );
}

/** Registers `ws top` on the `ws` command. */
export function registerWsTop(ws: Command): void {
  ws.command('top')
    .description('CPU, memory and disk of every running workspace, refreshed like top (Ctrl-C to quit)')
    .option('--once', 'print the table once and exit (for scripts)')
    .option('--interval <seconds>', 'seconds between refreshes (default 2)', (v: string) => {
      const n = Number(v);
      if (!(n >= 0.5 && n <= 3600)) throw new InvalidArgumentError(`expected 0.5 to 3600 seconds, got "${v}"`);
      return n;
    })
    .option('--json', 'print JSON (implies --once)')
    .action(async (opts: { once?: boolean; interval?: number; json?: boolean }, cmd: Command) => {
      const client = new BerthClient(clientOptions(cmd.optsWithGlobals<{ url?: string }>().url));
      const fetchRows = async (): Promise<TopRow[]> =>
        (await client.json<{ workspaces: TopRow[] }>('GET', '/api/workspaces?usage=1')).workspaces;
      if (opts.json) {
        const rows = await fetchRows();
        printJson({ workspaces: rows.filter((r) => r.state === 'running').map((r) => ({ name: r.name, id: r.id, cpus: r.cpus ?? null, memoryMb: r.memoryMb ?? null, usage: r.usage ?? null })) });
        return;
      }
      if (opts.once || !process.stdout.isTTY) {
        process.stdout.write(formatTop(await fetchRows()));
        return;
      }
      let stop = false;
      const onSigint = (): void => {
        stop = true;
      };
      process.once('SIGINT', onSigint);
      try {
        while (!stop) {
          const table = formatTop(await fetchRows());
          // Home + clear, then the frame: no scrollback of old frames, like top.
          process.stdout.write(`\x1b[H\x1b[2J${new Date().toLocaleTimeString()}  every ${opts.interval ?? 2}s, Ctrl-C to quit\n\n${table}`);
          const until = Date.now() + (opts.interval ?? 2) * 1000;
          while (!stop && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
        }
      } finally {
        process.off('SIGINT', onSigint);
      }
    });
}
