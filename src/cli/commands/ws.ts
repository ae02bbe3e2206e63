/**
 * `berth ws …`: create, list, show, stop, start, remove, follow logs of, open a shell in and
 * rotate the LLM credential of workspaces. Every call goes through the daemon's HTTP API.
 */
import { once } from 'node:events';
import { Readable } from 'node:stream';
import type { Command } from 'commander';
import { collectEnv, parseCount } from '../args.js';
import { BerthClient, CliError, clientOptions, workspacePath } from '../client.js';
import { formatAgo, formatPortRange, formatTable, printJson, withProgress } from '../output.js';
import { runShell } from '../shell.js';
import { registerWsRecreate, removeWorkspace } from './ws-data.js';
import { collectPortRef, formatPortLine, keepPrefixPorts, registerWsPort, type ApiPort, type CliPortRef } from './ws-port.js';
import { formatLimits, formatUsageLine, parseCpusOption, parseMemoryOption, registerWsTop, type ApiUsage } from './ws-usage.js';
import { idleRows, parseShareLevel, registerWsIdle, type ApiIdle } from './ws-idle.js';

/** A workspace as the API presents it. */
export interface ApiWorkspace {
  id: string;
  name: string;
  state: 'creating' | 'running' | 'stopped' | 'failed';
  reason: string | null;
  image: string;
  command: string[] | null;
  env: Record<string, string>;
  ports: ApiPort[];
  exitCode: number | null;
  /** The data volume and where it is mounted; null (or absent, older daemons): none. */
  dataVolume?: string | null;
  dataPath?: string | null;
  cpus?: number | null;
  memoryMb?: number | null;
  usage?: ApiUsage | null;
  createdAt: string;
  updatedAt: string;
  visibility?: string;
  idle?: ApiIdle;
}

/** The `ws ls` table: NAME ID STATE PORTS CREATED. */
export function formatWorkspaceTable(list: ApiWorkspace[], now: number = Date.now()): string {
  if (list.length === 0) return 'no workspaces yet — create one with: berth ws create NAME\n';
  return formatTable(
    ['NAME', 'ID', 'STATE', 'PORTS', 'CREATED'],
    list.map((w) => [w.name, w.id, w.state, formatPortRange(w.ports.map((p) => p.hostPort)), formatAgo(w.createdAt, now)]),
  );
}

/** Quotes an argv element only when needed, for display (never executed). */
function displayArg(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** The `ws show` / `ws create` block: key/value lines and one line per port with its URL. */
export function formatWorkspace(w: ApiWorkspace, now: number = Date.now()): string {
  const rows: [string, string][] = [
    ['name', w.name],
    ['id', w.id],
    ['state', w.exitCode !== null && w.state !== 'running' ? `${w.state} (exit code ${w.exitCode})` : w.state],
  ];
  if (w.reason) rows.push(['reason', w.reason]);
  rows.push(['image', w.image]);
  if (w.command?.length) rows.push(['command', w.command.map(displayArg).join(' ')]);
  if (w.cpus != null || w.memoryMb != null) rows.push(['limits', formatLimits(w)]);
  if (w.usage) rows.push(['usage', formatUsageLine(w.usage)]);
  const envKeys = Object.keys(w.env).sort();
  envKeys.forEach((k, i) => rows.push([i === 0 ? 'env' : '', `${k}=${w.env[k]}`]));
  if (w.ports.length === 0) rows.push(['ports', '-']);
  w.ports.forEach((p, i) => rows.push([i === 0 ? 'ports' : '', formatPortLine(p)]));
  rows.push(['data', w.dataVolume && w.dataPath ? `${w.dataPath} (volume ${w.dataVolume})` : 'none (files are lost on recreate)']);
  rows.push(...idleRows(w, now));
  rows.push(['created', `${w.createdAt} (${formatAgo(w.createdAt, now)})`]);
  if (w.updatedAt !== w.createdAt) rows.push(['updated', `${w.updatedAt} (${formatAgo(w.updatedAt, now)})`]);
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n') + '\n';
}

/** Client bound to the global `--url` of the command being run. */
function clientFor(cmd: Command): BerthClient {
  return new BerthClient(clientOptions(cmd.optsWithGlobals<{ url?: string }>().url));
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls the workspace until it leaves `creating` or `timeoutMs` passes; returns the last view. */
async function waitWhileCreating(client: BerthClient, ws: ApiWorkspace, timeoutMs: number): Promise<ApiWorkspace> {
  const deadline = Date.now() + timeoutMs;
  let current = ws;
  while (current.state === 'creating' && Date.now() < deadline) {
    await sleep(500);
    current = await client.json<ApiWorkspace>('GET', workspacePath(ws.id));
  }
  return current;
}

/** Port lines only: `  8000 → URL`, for commands whose user mostly wants the links. */
export function formatPortLines(w: ApiWorkspace): string {
  return w.ports.map((p) => `  ${p.containerPort} → ${p.url}\n`).join('');
}

/**
 * Prints a workspace (JSON, or the headline and `detail` of it) and fails the command when the
 * workspace ended up `failed`.
 */
function report(w: ApiWorkspace, json: boolean | undefined, headline: string, detail: (w: ApiWorkspace) => string): void {
  if (json) printJson(w);
  else process.stdout.write(`${headline}\n${detail(w)}`);
  if (w.state === 'failed') {
    throw new CliError(`workspace "${w.name}" failed${w.reason ? `: ${w.reason}` : ''}`, {
      hint: `see its output with: berth ws logs ${w.name}`,
    });
  }
}

interface CreateOpts {
  image?: string;
  env?: Record<string, string>;
  json?: boolean;
  wait: boolean;
  restart?: string;
  public?: boolean;
  dataPath?: string;
  /** false with --no-data. */
  data: boolean;
  dataVolume?: string;
  keepPrefix?: CliPortRef[];
  cpus?: number;
  memory?: number;
  share?: string;
  idleStop?: string;
}

async function create(name: string, command: string[], opts: CreateOpts, cmd: Command): Promise<void> {
  const client = clientFor(cmd);
  const body: Record<string, unknown> = { name };
  if (opts.image) body.image = opts.image;
  if (command.length) body.command = command;
  if (opts.env && Object.keys(opts.env).length) body.env = opts.env;
  if (opts.restart) body.restart = opts.restart;
  if (opts.public) body.visibility = 'public';
  if (!opts.data) body.dataPath = null;
  else if (opts.dataPath) body.dataPath = opts.dataPath;
  if (opts.dataVolume) body.dataVolume = opts.dataVolume;
  const ports = keepPrefixPorts(opts.keepPrefix);
  if (ports) body.ports = ports;
  if (opts.cpus !== undefined) body.cpus = opts.cpus;
  if (opts.memory !== undefined) body.memoryMb = opts.memory;
  if (opts.share) body.visibility = parseShareLevel(opts.share);
  if (opts.idleStop) body.idleStop = opts.idleStop;
  const ws = await withProgress(`creating workspace ${name}`, async (p) => {
    const created = await client.json<ApiWorkspace>('POST', '/api/workspaces', { body });
    if (!opts.wait || created.state !== 'creating') return created;
    p.update(`waiting for workspace ${name} to start`);
    return waitWhileCreating(client, created, 5 * 60_000);
  });
  const headline = ws.state === 'creating' ? `workspace ${ws.name} accepted (still starting)` : `workspace ${ws.name} created`;
  report(ws, opts.json, headline, formatWorkspace);
}

/** Pipes `berth ws logs` to stdout until the stream ends or Ctrl-C. */
async function logs(idOrName: string, opts: { follow?: boolean; tail?: number }, cmd: Command): Promise<void> {
  const client = clientFor(cmd);
  const query = new URLSearchParams();
  if (opts.follow) query.set('follow', '1');
  if (opts.tail !== undefined) query.set('tail', String(opts.tail));
  const qs = query.size ? `?${query}` : '';
  const ac = new AbortController();
  const onSigint = (): void => ac.abort();
  process.once('SIGINT', onSigint);
  try {
    const res = await client.raw('GET', workspacePath(idOrName, `/logs${qs}`), { signal: ac.signal, accept: 'text/plain' });
    if (!res.body) return;
    for await (const chunk of Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>)) {
      if (!process.stdout.write(chunk as Uint8Array)) await once(process.stdout, 'drain');
    }
  } catch (err) {
    if (ac.signal.aborted) {
      process.exitCode = 130;
      return;
    }
    if (err instanceof CliError) throw err;
    throw new CliError(`log stream interrupted: ${(err as Error).message}`, { hint: 'is the daemon still running? see: berth status' });
  } finally {
    process.off('SIGINT', onSigint);
  }
}

/** Registers `ws` and its subcommands on the program. */
export function registerWs(program: Command): void {
  const ws = program.command('ws').description('manage workspaces (long-lived dev containers with app ports)');

  ws.command('create')
    .description('create and start a workspace; a command after -- replaces the image default')
    .argument('<name>', 'workspace name: lowercase letters, digits and dashes')
    .argument('[command...]', 'command to run (put it after --)')
    .option('--image <image>', 'container image (default: the daemon’s BERTH_DEFAULT_IMAGE)')
    .option('-e, --env <K=V>', 'environment variable for the workspace (repeatable)', collectEnv)
    .option('--restart <policy>', 'restart policy when the workload exits: no | on-failure | always')
    .option('--public', 'hosted apps reachable without a Berth login (default: private)')
    .option('--data-path <path>', 'where the persistent data volume is mounted (default: the daemon’s BERTH_WORKSPACE_DATA_PATH, /workspace)')
    .option('--data-volume <volume>', 'mount a volume kept by `ws rm --keep-data` (see `berth volume ls`) instead of a new one')
    .option('--no-data', 'no data volume: every file is lost on recreate')
    .option('--keep-prefix <port>', 'forward the full /hosted/… path to this port (container port like 8000, or @0 for the first); repeatable', collectPortRef)
    .option('--cpus <n>', 'CPU limit in CPUs, e.g. 0.5 or 2 (default: no limit)', parseCpusOption)
    .option('--memory <size>', 'memory limit, e.g. 512m or 2g (default: no limit)', parseMemoryOption)
    .option('--share <level>', 'who may open its apps: private (default) | authenticated (any signed-in user) | public')
    .option('--idle-stop <duration>', 'stop it after this long without activity, e.g. 2h (default: the daemon’s BERTH_WORKSPACE_IDLE_STOP; off: never)')
    .option('--no-wait', 'return as soon as the daemon accepted the workspace')
    .option('--json', 'print the workspace as JSON')
    .action(create);

  registerWsPort(ws, clientFor);
  registerWsIdle(ws);

  ws.command('ls')
    .alias('list')
    .description('list workspaces')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const { workspaces } = await clientFor(cmd).json<{ workspaces: ApiWorkspace[] }>('GET', '/api/workspaces');
      if (opts.json) printJson({ workspaces });
      else process.stdout.write(formatWorkspaceTable(workspaces));
    });

  ws.command('show')
    .description('show one workspace with the URL of each port')
    .argument('<id|name>')
    .option('--json', 'print JSON')
    .action(async (idOrName: string, opts: { json?: boolean }, cmd: Command) => {
      const w = await clientFor(cmd).json<ApiWorkspace>('GET', workspacePath(idOrName));
      if (opts.json) printJson(w);
      else process.stdout.write(formatWorkspace(w));
    });

  for (const [verb, done, label, detail] of [
    ['stop', 'stopped', 'stopping', () => ''],
    ['start', 'started', 'starting', formatPortLines],
  ] as const) {
    ws.command(verb)
      .description(`${verb} a workspace (its ports and data are kept)`)
      .argument('<id|name>')
      .option('--json', 'print the workspace as JSON')
      .action(async (idOrName: string, opts: { json?: boolean }, cmd: Command) => {
        const client = clientFor(cmd);
        const w = await withProgress(`${label} workspace ${idOrName}`, () =>
          client.json<ApiWorkspace>('POST', workspacePath(idOrName, `/${verb}`)),
        );
        const headline = w.state === 'failed' ? `workspace ${w.name} failed` : `workspace ${w.name} ${done}`;
        report(w, opts.json, headline, detail);
      });
  }

  ws.command('rm')
    .alias('remove')
    .description('remove a workspace, its data volume and its ports')
    .argument('<id|name>')
    .option('--keep-data', 'keep the data volume (listed by `berth volume ls`, mountable with `ws create --data-volume`)')
    .action(removeWorkspace);

  registerWsRecreate(ws);

  ws.command('llm-token')
    .description("issue a workspace a new /llm/ credential (the old one stops working at once) and print it as env lines")
    .argument('<id|name>')
    .action(async (idOrName: string, _opts: unknown, cmd: Command) => {
      const r = await clientFor(cmd).json<{ env: Record<string, string> }>('POST', `${workspacePath(idOrName)}/llm-token`);
      // KEY=value lines, ready for an env file or `export` in the workspace.
      for (const [k, v] of Object.entries(r.env)) process.stdout.write(`${k}=${v}\n`);
    });

  ws.command('logs')
    .description('print the output of a workspace')
    .argument('<id|name>')
    .option('-f, --follow', 'keep streaming new output until Ctrl-C')
    .option('--tail <n>', 'only the last N lines', parseCount)
    .action(logs);

  registerWsTop(ws);

  ws.command('shell')
    .description('open an interactive shell (or run a command given after --) in a workspace')
    .argument('<id|name>')
    .argument('[command...]', 'command to run instead of /bin/sh (put it after --)')
    .action(async (idOrName: string, command: string[], _opts: unknown, cmd: Command) => {
      const code = await runShell(clientFor(cmd), idOrName, command.length ? command : ['/bin/sh']);
      process.exitCode = code;
    });
}
