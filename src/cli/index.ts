#!/usr/bin/env node
/**
 * `berth` command line. Client commands talk to the daemon over HTTP only (see client.ts);
 * `berth up` runs the daemon itself. Exit codes: 0 success, 1 failure (API error, daemon
 * unreachable, remote command failed), 2 usage or configuration error; `ws shell` exits with
 * the remote command's code.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { CliError } from './client.js';
import { registerStatus } from './commands/status.js';
import { registerUp } from './commands/up.js';
import { registerWs } from './commands/ws.js';
import { registerVolume } from './commands/volume.js';
import { registerAdmin } from './commands/admin.js';
import { registerApps } from './commands/apps.js';
import { registerPreviews } from './commands/previews.js';
import { registerInfra } from './commands/infra.js';
import { registerDoctor } from './commands/doctor.js';
import { registerService } from './commands/service.js';
import { formatError } from './output.js';

/** Version from package.json (two levels up from both src/cli and dist/cli). */
function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** The full command tree; exported shape is the CLI's public surface. */
export function buildProgram(): Command {
  const program = new Command('berth')
    .description('Berth — workspaces, apps and pull-request previews behind one access point')
    .version(packageVersion(), '-V, --version')
    .option('--url <url>', 'daemon URL (default: $BERTH_URL, else http://127.0.0.1:${BERTH_PORT:-8995})')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerUp(program);
  registerStatus(program);
  registerWs(program);
  registerVolume(program);
  registerAdmin(program);
  registerApps(program);
  registerPreviews(program);
  registerInfra(program);
  registerDoctor(program);
  registerService(program);
  return program;
}

async function main(argv: string[]): Promise<void> {
  // `berth ws logs x | head` closes the pipe early: that is not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander has printed the help or the usage error already.
      process.exitCode = err.exitCode === 0 ? 0 : 2;
      return;
    }
    process.stderr.write(formatError(err));
    const debug = /^(debug|trace)$/.test(process.env.BERTH_LOG_LEVEL ?? '');
    if (debug && err instanceof Error && !(err instanceof CliError)) process.stderr.write(`${err.stack}\n`);
    process.exitCode = err instanceof CliError ? err.exitCode : 1;
  }
}

await main(process.argv);
