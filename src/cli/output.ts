/**
 * Terminal output of the CLI: tables, durations, error lines and a progress indicator.
 * Results go to stdout; progress and errors go to stderr so `--json` output stays clean.
 */
import { CliError } from './client.js';

/** A writable the helpers print to; `process.stdout`/`process.stderr` in real use. */
export interface OutStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
}

/**
 * Left-aligned columns separated by two spaces, header first. Cells are plain strings; the last
 * column is not padded so lines carry no trailing blanks.
 */
export function formatTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

/** `9000-9004` for a run of host ports, `9000` for one, `-` for none. */
export function formatPortRange(hostPorts: number[]): string {
  if (hostPorts.length === 0) return '-';
  const min = Math.min(...hostPorts);
  const max = Math.max(...hostPorts);
  return min === max ? String(min) : `${min}-${max}`;
}

/** Compact duration: `42s`, `5m`, `3h 12m`, `2d 4h`. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h}h ${m % 60}m` : `${h}h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d}d ${h % 24}h` : `${d}d`;
}

/** `5m ago` from an ISO timestamp; the input unchanged when it does not parse. */
export function formatAgo(iso: string, now: number = Date.now()): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const secs = (now - t) / 1000;
  return secs < 5 ? 'just now' : `${formatDuration(secs)} ago`;
}

/** `error CODE: message` and, when there is one, an indented `hint:` line. */
export function formatError(err: unknown): string {
  if (err instanceof CliError) {
    const head = err.code ? `error ${err.code}: ${err.message}` : `error: ${err.message}`;
    return err.hint ? `${head}\n  hint: ${err.hint}\n` : `${head}\n`;
  }
  if (err instanceof Error) {
    const withCode = err as Error & { code?: unknown; hint?: unknown };
    const code = typeof withCode.code === 'string' && withCode.code.startsWith('E_') ? withCode.code : undefined;
    const head = code ? `error ${code}: ${err.message}` : `error: ${err.message}`;
    return typeof withCode.hint === 'string' ? `${head}\n  hint: ${withCode.hint}\n` : `${head}\n`;
  }
  return `error: ${String(err)}\n`;
}

/** Prints `value` as indented JSON on stdout. */
export function printJson(value: unknown, out: OutStream = process.stdout): void {
  out.write(JSON.stringify(value, null, 2) + '\n');
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/** Options of {@link withProgress}; the defaults are the real terminal. */
export interface ProgressOptions {
  stream?: OutStream;
  /** Animate (TTY) or print one line (pipe, CI log). Defaults to `stream.isTTY`. */
  tty?: boolean;
  /** Nothing is shown for work that finishes sooner than this. Default 1000 ms. */
  delayMs?: number;
  /** Frame interval of the animation. Default 80 ms. */
  intervalMs?: number;
}

/** Handle given to the work so it can change the label (`waiting for dev to start`). */
export interface Progress {
  update(label: string): void;
}

/**
 * Runs `work` and, if it takes longer than `delayMs`, shows progress on stderr: an animated
 * spinner line when the stream is a TTY (erased afterwards), otherwise one `label…` line,
 * printed once. Work that is fast shows nothing at all.
 */
export async function withProgress<T>(label: string, work: (p: Progress) => Promise<T>, opts: ProgressOptions = {}): Promise<T> {
  const stream = opts.stream ?? process.stderr;
  const tty = opts.tty ?? Boolean(stream.isTTY);
  const delayMs = opts.delayMs ?? 1000;
  let current = label;
  let shown = false;
  let frame = 0;
  let spin: NodeJS.Timeout | undefined;

  const draw = (): void => {
    stream.write(`\r\x1b[2K${FRAMES[frame++ % FRAMES.length]} ${current}…`);
  };
  const start = setTimeout(() => {
    shown = true;
    if (tty) {
      draw();
      spin = setInterval(draw, opts.intervalMs ?? 80);
      spin.unref();
    } else {
      stream.write(`${current}…\n`);
    }
  }, delayMs);
  start.unref();

  const progress: Progress = {
    update(next) {
      current = next;
      if (shown && tty) draw();
    },
  };
  try {
    return await work(progress);
  } finally {
    clearTimeout(start);
    if (spin) clearInterval(spin);
    if (shown && tty) stream.write('\r\x1b[2K');
  }
}
