import { pino, type Logger } from 'pino';
import { prettyDestination } from './log-pretty.js';

export type { Logger };

/**
 * Root structured logger: JSON lines on stdout, or human lines when stdout is a terminal (see
 * log-pretty.ts; BERTH_LOG_FORMAT=json|pretty overrides). Components take a child:
 * `log.child({ component: 'edge' })`, `log.child({ workspaceId })`, `log.child({ reqId })`.
 * Level from BERTH_LOG_LEVEL (read here because logging starts before config is parsed).
 */
export function createLogger(level = process.env.BERTH_LOG_LEVEL ?? 'info'): Logger {
  const opts = { level, base: { svc: 'berth' }, timestamp: pino.stdTimeFunctions.isoTime };
  const format = process.env.BERTH_LOG_FORMAT ?? (process.stdout.isTTY ? 'pretty' : 'json');
  if (format !== 'pretty') return pino(opts);
  return pino(opts, prettyDestination(process.stdout, process.stdout.isTTY === true && !process.env.NO_COLOR));
}

/** A logger that drops everything; for unit tests and benchmarks. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
