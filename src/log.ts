import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Root structured logger (JSON lines on stdout). Components take a child:
 * `log.child({ component: 'edge' })`, `log.child({ workspaceId })`, `log.child({ reqId })`.
 * Level from BERTH_LOG_LEVEL (read here because logging starts before config is parsed).
 */
export function createLogger(level = process.env.BERTH_LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: { svc: 'berth' }, timestamp: pino.stdTimeFunctions.isoTime });
}

/** A logger that drops everything; for unit tests and benchmarks. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
