/**
 * `berth ws share NAME private|authenticated|public` and `berth ws idle-stop NAME 2h|off`, and the
 * `ws show` lines about them: who may open the workspace's apps, when it was last active and why,
 * and when it will be stopped if nothing happens.
 */
import type { Command } from 'commander';
import { BerthClient, CliError, clientOptions, workspacePath } from '../client.js';
import { formatAgo, formatDuration, printJson } from '../output.js';

/** Who may open a workspace's hosted apps. */
export const SHARE_LEVELS = ['private', 'authenticated', 'public'] as const;
export type ShareLevel = (typeof SHARE_LEVELS)[number];

/** The idle block of a workspace as the API presents it. */
export interface ApiIdle {
  idleStop: string | null;
  idleStopMs: number | null;
  lastActiveAt: string | null;
  lastActiveReason: string | null;
  openSessions: number;
  idleStopAt: string | null;
}

/** What `ws show` says about sharing and idleness, as key/value rows (none when the API sent nothing). */
export function idleRows(w: { state: string; visibility?: string; idle?: ApiIdle }, now: number = Date.now()): [string, string][] {
  const rows: [string, string][] = [];
  if (w.visibility) rows.push(['shared', describeShare(w.visibility)]);
  const idle = w.idle;
  if (!idle) return rows;
  if (idle.lastActiveAt) {
    const sessions = idle.openSessions > 0 ? ` (${idle.openSessions} open)` : '';
    rows.push(['last active', `${formatAgo(idle.lastActiveAt, now)}: ${idle.lastActiveReason ?? 'unknown'}${sessions}`]);
  } else rows.push(['last active', 'no activity recorded']);
  if (idle.idleStop === null) rows.push(['idle stop', 'off']);
  else if (idle.idleStopAt && w.state === 'running') {
    const left = (Date.parse(idle.idleStopAt) - now) / 1000;
    rows.push(['idle stop', `after ${idle.idleStop} idle: ${idle.openSessions > 0 ? 'not while a session is open' : left > 0 ? `stops in ${formatDuration(left)} if idle` : 'stopping now'}`]);
  } else rows.push(['idle stop', `after ${idle.idleStop} idle`]);
  return rows;
}

function describeShare(level: string): string {
  switch (level) {
    case 'public':
      return 'public (anyone with the link)';
    case 'authenticated':
      return 'authenticated (any signed-in Berth user)';
    default:
      return 'private (owner and admins)';
  }
}

/** `--share` / `ws share` argument → level, or a CliError naming the choices. */
export function parseShareLevel(value: string): ShareLevel {
  if ((SHARE_LEVELS as readonly string[]).includes(value)) return value as ShareLevel;
  throw new CliError(`unknown share level "${value}"`, { hint: `use one of: ${SHARE_LEVELS.join(', ')}` });
}

function clientFor(cmd: Command): BerthClient {
  return new BerthClient(clientOptions(cmd.optsWithGlobals<{ url?: string }>().url));
}

interface Patched {
  name: string;
  visibility?: string;
  state: string;
  idle?: ApiIdle;
}

/** Registers `ws share` and `ws idle-stop` on the `ws` command. */
export function registerWsIdle(ws: Command): void {
  ws.command('share')
    .description('set who may open the workspace’s apps: private (owner and admins), authenticated (any signed-in user) or public')
    .argument('<id|name>')
    .argument('<level>', SHARE_LEVELS.join(' | '))
    .option('--json', 'print the workspace as JSON')
    .action(async (idOrName: string, level: string, opts: { json?: boolean }, cmd: Command) => {
      const w = await clientFor(cmd).json<Patched>('PATCH', workspacePath(idOrName), { body: { visibility: parseShareLevel(level) } });
      if (opts.json) printJson(w);
      else process.stdout.write(`workspace ${w.name} is now ${describeShare(w.visibility ?? level)}\n`);
    });

  ws.command('idle-stop')
    .description('stop the workspace after this long without activity (HTTP or WebSocket traffic, exec sessions, CLI use), or never (off)')
    .argument('<id|name>')
    .argument('<duration>', 'e.g. 30m, 2h, 1h30m, or off')
    .option('--json', 'print the workspace as JSON')
    .action(async (idOrName: string, duration: string, opts: { json?: boolean }, cmd: Command) => {
      const w = await clientFor(cmd).json<Patched>('PATCH', workspacePath(idOrName), { body: { idleStop: duration } });
      if (opts.json) printJson(w);
      else if (w.idle?.idleStop) process.stdout.write(`workspace ${w.name} stops after ${w.idle.idleStop} without activity\n`);
      else process.stdout.write(`workspace ${w.name} no longer stops when idle\n`);
    });
}
