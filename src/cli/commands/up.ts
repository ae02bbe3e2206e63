/**
 * `berth up`: runs the daemon in the foreground until SIGINT/SIGTERM.
 *
 * Lifecycle: load config (E_CONFIG → clear message, exit 2) → create the logger → startDaemon
 * → wait for a signal → close() → exit 0. A second Ctrl-C while closing forces exit 1.
 * The daemon modules are imported lazily so client commands never load SQLite or the runtime.
 */
import type { Command } from 'commander';
import { CliError } from '../client.js';
import { describeRuntime } from './status.js';

/** Code of an error thrown by the daemon's modules (BerthError or a Node system error). */
function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Maps start-up failures to a message the user can act on; returns other errors unchanged. */
export function explainStartError(err: unknown, port: number | undefined): unknown {
  const code = codeOf(err);
  const hint = (err as { hint?: unknown }).hint;
  if (code === 'E_CONFIG') {
    return new CliError((err as Error).message, {
      code,
      hint: typeof hint === 'string' ? hint : 'fix the BERTH_* environment variables and start again',
      exitCode: 2,
    });
  }
  if (code === 'EADDRINUSE') {
    return new CliError(`port ${port ?? '?'} is already in use`, {
      hint: 'is another Berth already running? stop it, or set BERTH_PORT to a free port',
    });
  }
  if (code === 'EACCES') {
    return new CliError(`not allowed to listen on port ${port ?? '?'}`, {
      hint: 'ports below 1024 need privileges; set BERTH_PORT to a port ≥ 1024',
    });
  }
  return err;
}

async function runUp(): Promise<void> {
  const { loadConfig } = await import('../../config/load.js');
  const { createLogger } = await import('../../log.js');
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (err) {
    throw explainStartError(err, undefined);
  }
  const log = createLogger();
  const { startDaemon } = await import('../../daemon.js');
  let daemon: Awaited<ReturnType<typeof startDaemon>>;
  try {
    daemon = await startDaemon(config, log);
  } catch (err) {
    throw explainStartError(err, config.port);
  }

  const runtime = describeRuntime(daemon.runtime, daemon.runtimeReason);
  process.stderr.write(`Berth is running at ${daemon.url} — runtime ${runtime}. Press Ctrl-C to stop.\n`);

  await new Promise<void>(() => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        process.stderr.write(`${signal} again: exiting without finishing shutdown\n`);
        process.exit(1);
      }
      stopping = true;
      process.stderr.write(`\n${signal}: stopping Berth (press Ctrl-C again to force)…\n`);
      daemon.close().then(
        () => process.exit(0),
        (err: unknown) => {
          log.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

/** Registers `up` on the program. */
export function registerUp(program: Command): void {
  program
    .command('up')
    .description('start the Berth daemon in the foreground (configure with BERTH_* variables; Ctrl-C stops it)')
    .action(runUp);
}
