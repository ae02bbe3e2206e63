/**
 * The exec WebSocket protocol as the dashboard's terminal speaks it (the same one as
 * `berth ws shell`, see src/api/exec-socket.ts): binary frames are terminal bytes both ways, text
 * frames are JSON control messages — `resize` and `eof` from the client, `exit` from the server.
 * No DOM and no imports: the node tests import this file.
 */

/** A terminal size in character cells. */
export interface TermSize {
  cols: number;
  rows: number;
}

/** Path (below the page's base) of an interactive session of `argv` at `size` in workspace `id`. */
export function execPath(id: string, size: TermSize, argv: string[] = ['/bin/sh']): string {
  const q = new URLSearchParams({ tty: '1', cols: String(size.cols), rows: String(size.rows) });
  for (const arg of argv) q.append('cmd', arg);
  return `api/workspaces/${encodeURIComponent(id)}/exec?${q.toString()}`;
}

/** The text frame that tells the server the terminal's new size. */
export function resizeMessage(size: TermSize): string {
  return JSON.stringify({ type: 'resize', cols: size.cols, rows: size.rows });
}

/** The exit code of an `exit` control message, or undefined for any other text. */
export function exitCodeOf(text: string): number | undefined {
  try {
    const msg = JSON.parse(text) as { type?: unknown; code?: unknown };
    if (msg && msg.type === 'exit') return typeof msg.code === 'number' ? msg.code : 1;
  } catch {
    // not JSON: not a control message
  }
  return undefined;
}

/**
 * Milliseconds to wait before reconnect attempt `attempt` (1-based), or undefined once the
 * terminal should stop trying by itself: 0.5 s, 1 s, 2 s, 4 s, then every 5 s, 10 tries in all
 * (about 40 s — a network blip, a daemon restart). After that the user reconnects by hand.
 */
export function reconnectDelay(attempt: number): number | undefined {
  if (!Number.isInteger(attempt) || attempt < 1 || attempt > 10) return undefined;
  return Math.min(5_000, 500 * 2 ** (attempt - 1));
}
