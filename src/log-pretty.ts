/**
 * Human-readable log lines for a terminal: `17:22:43 INFO  edge  listening … key=value`. The
 * daemon logs JSON lines (for journald, files and log shippers); when stdout is a TTY, and
 * BERTH_LOG_FORMAT does not say `json`, each line is rewritten by this formatter on its way out.
 * Pure formatting: one JSON line in, one text line out; a line that is not a pino record is kept.
 */

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO ', 40: 'WARN ', 50: 'ERROR', 60: 'FATAL' };
const COLOURS: Record<number, string> = { 10: '\x1b[90m', 20: '\x1b[36m', 30: '\x1b[32m', 40: '\x1b[33m', 50: '\x1b[31m', 60: '\x1b[35m' };
const RESET = '\x1b[0m';
const DIM = '\x1b[2m';
/** Fields shown in the line's own columns, not as key=value. */
const SHOWN = new Set(['level', 'time', 'msg', 'svc', 'component', 'pid', 'hostname', 'err']);

function value(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=]*$/.test(v) && v !== '' ? v : JSON.stringify(v);
  return JSON.stringify(v) ?? String(v);
}

/** Formats one pino JSON line; `colour` adds ANSI colours. */
export function prettyLine(line: string, colour: boolean): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  if (typeof rec.level !== 'number' || typeof rec.msg !== 'string' && rec.msg !== undefined) return line;
  const level = rec.level;
  const time = typeof rec.time === 'string' ? rec.time.slice(11, 19) : '';
  const tag = LEVELS[level] ?? String(level);
  const component = typeof rec.component === 'string' ? `${rec.component} ` : '';
  const extras = Object.entries(rec)
    .filter(([k]) => !SHOWN.has(k))
    .map(([k, v]) => `${k}=${value(v)}`)
    .join(' ');
  const err = rec.err as { message?: unknown; stack?: unknown } | undefined;
  const errText = err ? `\n  ${typeof err.stack === 'string' ? err.stack.replace(/\n/g, '\n  ') : String(err.message ?? JSON.stringify(err))}` : '';
  const msg = typeof rec.msg === 'string' ? rec.msg : '';
  if (!colour) return `${time} ${tag} ${component}${msg}${extras ? ` ${extras}` : ''}${errText}`;
  return `${DIM}${time}${RESET} ${COLOURS[level] ?? ''}${tag}${RESET} ${component ? `\x1b[1m${component}${RESET}` : ''}${msg}${extras ? ` ${DIM}${extras}${RESET}` : ''}${errText}`;
}

/** A pino destination that writes pretty lines to `out` (stdout). */
export function prettyDestination(out: NodeJS.WriteStream, colour: boolean): { write(chunk: string): boolean } {
  return {
    write(chunk: string): boolean {
      // pino writes one record per call, ending in \n.
      return out.write(`${chunk.split('\n').filter(Boolean).map((l) => prettyLine(l, colour)).join('\n')}\n`);
    },
  };
}
