/**
 * Account commands: `berth user add|rm|passwd|ls`, `berth token create|ls|revoke`, `berth audit`.
 * Passwords are read from stdin (one line) or typed at a hidden prompt — never taken as an
 * argument, where `ps` and shell history would keep them.
 */
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { BerthClient, CliError, clientOptions } from '../client.js';
import { formatAgo, formatTable, printJson } from '../output.js';

interface UserAnswer {
  id: string;
  username: string;
  role: string;
  createdAt: string;
}
interface TokenAnswer {
  id: string;
  name: string;
  scopes: string[];
  createdAt: string;
  lastUsedAt: string | null;
}
interface AuditAnswer {
  at: string;
  actor: string;
  action: string;
  target: string | null;
  ip: string | null;
}

const clientOf = (cmd: Command): BerthClient => new BerthClient(clientOptions(cmd.optsWithGlobals<{ url?: string }>().url));

/** Reads a password: hidden prompt on a terminal, else the first line of stdin. */
export async function readPassword(prompt: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: Boolean(process.stdin.isTTY) });
  if (process.stdin.isTTY) {
    process.stderr.write(prompt);
    // Mute the echo: readline writes each typed character through _writeToOutput.
    (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = () => {};
  }
  const line = await new Promise<string>((resolve) => {
    rl.once('line', resolve);
    rl.once('close', () => resolve(''));
  });
  rl.close();
  if (process.stdin.isTTY) process.stderr.write('\n');
  if (!line) throw new CliError('no password given', { hint: 'type it at the prompt, or pipe it on stdin' });
  return line;
}

export function registerAdmin(program: Command): void {
  const user = program.command('user').description('manage accounts (admins)');
  user
    .command('ls')
    .alias('list')
    .option('--json', 'print JSON')
    .description('list accounts')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const { users } = await clientOf(cmd).json<{ users: UserAnswer[] }>('GET', '/api/users');
      if (opts.json) return printJson(users);
      process.stdout.write(formatTable(['USERNAME', 'ROLE', 'ID', 'CREATED'], users.map((u) => [u.username, u.role, u.id, formatAgo(u.createdAt)])));
    });
  user
    .command('add <username>')
    .option('--role <role>', 'admin or member', 'member')
    .option('--json', 'print JSON')
    .description('create an account (password from the prompt or stdin)')
    .action(async (username: string, opts: { role: string; json?: boolean }, cmd: Command) => {
      const password = await readPassword(`password for ${username}: `);
      const u = await clientOf(cmd).json<UserAnswer>('POST', '/api/users', { body: { username, password, role: opts.role } });
      if (opts.json) printJson(u);
      else process.stdout.write(`user ${u.username} (${u.role}) created\n`);
    });
  user
    .command('rm <username>')
    .alias('remove')
    .description('remove an account (its sessions and tokens end)')
    .action(async (username: string, _opts: unknown, cmd: Command) => {
      await clientOf(cmd).json('DELETE', `/api/users/${encodeURIComponent(username)}`);
      process.stdout.write(`user ${username} removed\n`);
    });
  user
    .command('passwd <username>')
    .description("set an account's password (ends its sessions)")
    .action(async (username: string, _opts: unknown, cmd: Command) => {
      const password = await readPassword(`new password for ${username}: `);
      await clientOf(cmd).json('POST', `/api/users/${encodeURIComponent(username)}/password`, { body: { password } });
      process.stdout.write(`password of ${username} changed\n`);
    });

  const token = program.command('token').description('manage API tokens');
  token
    .command('create <name>')
    .option('--scope <scope...>', 'read, write, admin', ['read', 'write'])
    .option('--json', 'print JSON')
    .description('create a token (shown once)')
    .action(async (name: string, opts: { scope: string[]; json?: boolean }, cmd: Command) => {
      const t = await clientOf(cmd).json<TokenAnswer & { token: string }>('POST', '/api/tokens', { body: { name, scopes: opts.scope } });
      if (opts.json) return printJson(t);
      process.stdout.write(`${t.token}\n`);
      process.stderr.write(`token ${t.name} (${t.scopes.join(', ')}) created; it is shown only this once\n`);
    });
  token
    .command('ls')
    .alias('list')
    .option('--json', 'print JSON')
    .description('list tokens (never their values)')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const { tokens } = await clientOf(cmd).json<{ tokens: TokenAnswer[] }>('GET', '/api/tokens');
      if (opts.json) return printJson(tokens);
      process.stdout.write(
        formatTable(
          ['NAME', 'ID', 'SCOPES', 'CREATED', 'LAST USED'],
          tokens.map((t) => [t.name, t.id, t.scopes.join(','), formatAgo(t.createdAt), t.lastUsedAt ? formatAgo(t.lastUsedAt) : 'never']),
        ),
      );
    });
  token
    .command('revoke <id>')
    .description('revoke a token at once')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      await clientOf(cmd).json('DELETE', `/api/tokens/${encodeURIComponent(id)}`);
      process.stdout.write(`token ${id} revoked\n`);
    });

  program
    .command('audit')
    .option('--limit <n>', 'entries to show', '50')
    .option('--json', 'print JSON')
    .description('who did what, when, from where (admins)')
    .action(async (opts: { limit: string; json?: boolean }, cmd: Command) => {
      const { entries } = await clientOf(cmd).json<{ entries: AuditAnswer[] }>('GET', `/api/audit?limit=${encodeURIComponent(opts.limit)}`);
      if (opts.json) return printJson(entries);
      process.stdout.write(formatTable(['WHEN', 'ACTOR', 'ACTION', 'TARGET', 'FROM'], entries.map((e) => [e.at, e.actor, e.action, e.target ?? '', e.ip ?? ''])));
    });
}
