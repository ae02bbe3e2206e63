/**
 * Interactive exec sessions on a pseudo-terminal of the host.
 *
 * Every driver runs a `tty` exec as a program whose stdin/stdout is the slave side of a host PTY
 * (node-pty's forkpty): for podman and docker that program is the engine CLI (`exec -i -t`), for
 * the process runtime it is the command itself. Why a host PTY for the engine CLIs: a resize has
 * to reach the container's own terminal, which the engine owns (conmon for podman, the shim for
 * docker). Neither CLI has a resize command; each applies its terminal's size to the exec session
 * through the engine (podman: conmon's control pipe; docker: `POST /exec/{id}/resize`) when it
 * starts and on every SIGWINCH — but only when its stdin is a terminal. Setting the host PTY's
 * window size (TIOCSWINSZ) makes the kernel send that SIGWINCH, so a resize travels the engine's
 * own resize path, and docker, which refuses `-t` over pipes, gets a terminal too.
 *
 * No shell is involved: `spawn(file, args)` is an execvp of argv as given.
 */
import { spawn as spawnPty, type IPty } from '@lydell/node-pty';
import { constants as fsConstants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import type { ExecSession } from './runtime.js';

/** What an interactive terminal announces itself as: xterm.js and the usual terminals speak it. */
export const TERM_NAME = 'xterm-256color';

/** Size of a new PTY when the client did not say (the classic 80×24). */
export const DEFAULT_SIZE = { cols: 80, rows: 24 } as const;

/**
 * A resize within this time of the previous one waits for the end of the window and is applied
 * once, at the last size asked for (a single resize is applied at once). A window being dragged
 * sends bursts, and podman was seen (once in six runs, under load) to end a same-tick burst of
 * two SIGWINCHes at the first size: spacing them leaves the engine one change at a time.
 */
const RESIZE_SETTLE_MS = 25;

/** Bounds of a terminal size; anything outside is clamped (client input must not reach an ioctl as is). */
const MAX_COLS = 1000;
const MAX_ROWS = 500;

/** Columns/rows as whole numbers within 1..MAX, or the default for anything that is not a number. */
export function clampSize(cols: unknown, rows: unknown): { cols: number; rows: number } {
  const fit = (v: unknown, max: number, dflt: number): number => {
    const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d{1,5}$/.test(v) ? Number(v) : NaN;
    return Number.isFinite(n) ? Math.min(max, Math.max(1, Math.floor(n))) : dflt;
  };
  return { cols: fit(cols, MAX_COLS, DEFAULT_SIZE.cols), rows: fit(rows, MAX_ROWS, DEFAULT_SIZE.rows) };
}

/** Options of a PTY session. */
export interface PtyOptions {
  cwd?: string;
  /** The program's whole environment (TERM is set on top). */
  env: NodeJS.ProcessEnv;
  cols?: number;
  rows?: number;
}

/** End-of-transmission: what a terminal's Ctrl-D sends; the line discipline turns it into EOF. */
const EOT = Buffer.from([0x04]);

/**
 * Runs argv on a new host PTY and returns it as an ExecSession: stdout carries everything the
 * program writes (stdout and stderr share the terminal, as on any terminal), stderr stays empty,
 * `stdin.end()` sends Ctrl-D, `resize` sets the window size, `close` hangs up (SIGHUP).
 */
export function ptySession(file: string, args: string[], opts: PtyOptions): ExecSession {
  const size = clampSize(opts.cols, opts.rows);
  const env = { ...opts.env, TERM: TERM_NAME };
  // encoding null: bytes in, bytes out; a UTF-8 character split over two chunks stays intact.
  const pty: IPty = spawnPty(file, args, { name: TERM_NAME, cols: size.cols, rows: size.rows, cwd: opts.cwd, env, encoding: null });
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  stderr.end();
  let exited = false;
  const exit = new Promise<number>((resolve) => {
    pty.onExit(({ exitCode, signal }) => {
      exited = true;
      stdout.end();
      resolve(signal ? 128 + signal : exitCode);
    });
  });
  // node-pty's typings say string; with encoding null the events carry Buffers.
  pty.onData((data: string | Buffer) => {
    if (!stdout.writableEnded) stdout.write(data);
  });
  // The socket under node-pty writes Buffers as they are; its typings only name strings.
  const write = (data: Buffer): void => {
    if (!exited) pty.write(data as unknown as string);
  };
  const stdin = new Writable({
    write(chunk: Buffer, _enc, done) {
      write(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
      done();
    },
    final(done) {
      // Piped input ended: a Ctrl-D at the start of a line is EOF for a program reading lines.
      write(EOT);
      done();
    },
  });
  let pendingSize: { cols: number; rows: number } | null = null;
  let settling: ReturnType<typeof setTimeout> | undefined;
  const applySize = (s: { cols: number; rows: number }): void => {
    if (exited) return;
    try {
      pty.resize(s.cols, s.rows);
    } catch {
      // The PTY closed between the check and the ioctl: nothing left to resize.
    }
    // Open a window: resizes until it closes are kept, the last one is applied when it does.
    settling = setTimeout(() => {
      settling = undefined;
      const next = pendingSize;
      pendingSize = null;
      if (next) applySize(next);
    }, RESIZE_SETTLE_MS);
  };
  return {
    kind: 'session',
    stdin,
    stdout,
    stderr,
    resize(cols, rows) {
      if (exited) return;
      if (settling) pendingSize = clampSize(cols, rows);
      else applySize(clampSize(cols, rows));
    },
    close() {
      if (exited) return;
      try {
        pty.kill('SIGHUP');
      } catch {
        // already gone
      }
    },
    wait: () => exit,
  };
}


/**
 * A session that already ended: `message` on its terminal, then `code`. For a command that cannot
 * start, so the client sees the reason on its terminal and the exit code a shell would give.
 */
export function endedSession(message: string, code: number): ExecSession {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  stdout.end(message);
  stderr.end();
  const stdin = new Writable({ write: (_c, _e, done) => done() });
  return { kind: 'session', stdin, stdout, stderr, resize() {}, close() {}, wait: async () => code };
}

/**
 * Whether `file` names an executable as execvp would find it: a path (relative to `cwd`) when it
 * has a slash, else a search of `PATH`. forkpty reports a failed exec only as exit 1 and a line
 * of text, so the process runtime asks first to keep a shell's 127 for "not found".
 */
export async function isExecutable(file: string, pathVar: string | undefined, cwd: string): Promise<boolean> {
  const candidates = file.includes('/') ? [path.resolve(cwd, file)] : (pathVar ?? '').split(':').filter(Boolean).map((dir) => path.join(path.resolve(cwd, dir), file));
  for (const candidate of candidates) {
    try {
      await access(candidate, fsConstants.X_OK);
      if ((await stat(candidate)).isFile()) return true;
    } catch {
      // not this one
    }
  }
  return false;
}

/**
 * `file` with `args` on a new host PTY in `cwd`, or — when execvp would not find `file` — an
 * ended session that says so with a shell's exit code 127.
 */
export async function commandOnPty(file: string, args: string[], opts: PtyOptions & { cwd: string }): Promise<ExecSession> {
  if (!(await isExecutable(file, opts.env.PATH, opts.cwd))) return endedSession(`${file}: not found\r\n`, 127);
  return ptySession(file, args, opts);
}
