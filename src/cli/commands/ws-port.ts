/**
 * Per-port settings in the CLI: `--keep-prefix PORT` at `ws create`, `berth ws port NAME PORT
 * --keep|--strip` later, and how `ws show` prints a port. A port is named by its container port
 * (8000), its host port (9000, after create) or `@N`, its index (0 = the first port, $PORT): on
 * the process runtime a port's container port is its host port, unknown before create.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { CliError, workspacePath, type BerthClient } from '../client.js';
import { printJson } from '../output.js';

/** A port as the API presents it (prefix, label and basePath are absent from older daemons). */
export interface ApiPort {
  containerPort: number;
  hostPort: number;
  url: string;
  prefix?: 'strip' | 'keep';
  label?: string | null;
  basePath?: string;
}

/** How the CLI names a port before the server resolves it. */
export type CliPortRef = { containerPort: number } | { index: number };

/** Parses `8000` (a container port) or `@0` (an index). */
export function parsePortRef(value: string): CliPortRef {
  const m = /^(@?)(\d{1,5})$/.exec(value.trim());
  const n = m ? Number(m[2]) : NaN;
  if (!m || (m[1] === '' && (n < 1 || n > 65535)) || (m[1] === '@' && n > 63)) {
    throw new InvalidArgumentError(`expected a container port like 8000, or @N for the N-th port (@0 = the first, $PORT), got "${value}"`);
  }
  return m[1] === '@' ? { index: n } : { containerPort: n };
}

/** Commander collector for a repeatable `--keep-prefix PORT`. */
export function collectPortRef(value: string, previous: CliPortRef[] | undefined): CliPortRef[] {
  return [...(previous ?? []), parsePortRef(value)];
}

/** The create body's `ports` for `--keep-prefix` values (undefined when none). */
export function keepPrefixPorts(refs: CliPortRef[] | undefined): { prefix: 'keep'; containerPort?: number; index?: number }[] | undefined {
  return refs?.length ? refs.map((r) => ({ ...r, prefix: 'keep' as const })) : undefined;
}

/** `8000 → URL` plus `keep prefix` for keep ports and the label, as `ws show` prints a port. */
export function formatPortLine(p: ApiPort): string {
  let line = `${p.containerPort} → ${p.url}`;
  if (p.prefix === 'keep') line += `  (keep prefix: served at ${p.basePath ?? new URL(p.url).pathname})`;
  if (p.label) line += `  "${p.label}"`;
  return line;
}

type Mode = { keep?: boolean; strip?: boolean; json?: boolean };

/** Registers `ws port NAME PORT --keep|--strip` on the `ws` command. */
export function registerWsPort(ws: Command, clientFor: (cmd: Command) => BerthClient): void {
  ws.command('port')
    .description('show or change how a port forwards its /hosted/{id}/{port} prefix (strip: the app serves at /; keep: the app was told its base path)')
    .argument('<id|name>')
    .argument('<port>', 'container port (8000), host port (9000) or @N (the N-th port, @0 = $PORT)')
    .option('--keep', 'forward the full path (for Jupyter, Vite, … told $BERTH_BASE_PATH_<port>)')
    .option('--strip', 'forward the path without the prefix (the default)')
    .option('--json', 'print the workspace as JSON')
    .action(async (idOrName: string, portArg: string, opts: Mode, cmd: Command) => {
      if (opts.keep && opts.strip) throw new CliError('--keep and --strip contradict each other', { hint: 'give one of them' });
      const client = clientFor(cmd);
      const ref = parsePortRef(portArg);
      const w = await client.json<{ name: string; ports: ApiPort[] }>('GET', workspacePath(idOrName));
      // A number is a container port when the workspace has one, else a host port (the server checks).
      const named = 'index' in ref ? ref : w.ports.some((p) => p.containerPort === ref.containerPort) ? ref : { hostPort: ref.containerPort };
      const prefix = opts.keep ? 'keep' : opts.strip ? 'strip' : null;
      const after = prefix ? await client.json<{ name: string; ports: ApiPort[] }>('PATCH', workspacePath(idOrName), { body: { ports: [{ ...named, prefix }] } }) : w;
      const port =
        'index' in named ? after.ports[named.index] : 'hostPort' in named ? after.ports.find((p) => p.hostPort === named.hostPort) : after.ports.find((p) => p.containerPort === named.containerPort);
      if (!port) throw new CliError(`port ${portArg} is not one of ${after.name}'s ports`, { hint: `see them with: berth ws show ${after.name}` });
      if (opts.json) return printJson(after);
      process.stdout.write(`${formatPortLine(port)}${port.prefix ? `\nprefix: ${port.prefix}` : ''}\n`);
    });
}
