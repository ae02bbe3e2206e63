/**
 * `berth ws shell`: an interactive session over the daemon's exec WebSocket.
 *
 * Protocol (see api/exec-socket.ts): binary frames carry stdin (client → server) and output
 * (server → client); text frames carry JSON control messages. The client sends
 * `{"type":"resize","cols","rows"}` when the session opens and on every SIGWINCH, and
 * `{"type":"eof"}` when a non-terminal stdin ends (servers that do not know it ignore it); the
 * server sends `{"type":"exit","code":N}` and closes. A terminal stdin is put in raw mode while
 * connected and always restored.
 */
import type { IncomingMessage } from 'node:http';
import WebSocket from 'ws';
import { type BerthClient, CliError, errorFromResponse, unreachableError, workspacePath } from './client.js';

/**
 * Query string of an exec session: `tty=1|0`, the terminal's initial `cols`/`rows` when known
 * (so the session starts at the right size instead of resizing right after it starts), and one
 * `cmd` per argv element.
 */
export function execQuery(argv: string[], tty: boolean, size?: { cols: number; rows: number }): string {
  const q = new URLSearchParams({ tty: tty ? '1' : '0' });
  if (size) {
    q.set('cols', String(size.cols));
    q.set('rows', String(size.rows));
  }
  for (const arg of argv) q.append('cmd', arg);
  return q.toString();
}

/** A control message from the server, or undefined for anything that is not one. */
export function parseControl(text: string): { type: 'exit'; code: number } | undefined {
  try {
    const msg = JSON.parse(text) as { type?: unknown; code?: unknown };
    if (msg.type === 'exit') return { type: 'exit', code: typeof msg.code === 'number' ? msg.code : 1 };
  } catch {
    // not JSON: ignore
  }
  return undefined;
}

function readBody(res: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

/**
 * Runs `argv` in the workspace with stdin/stdout attached and resolves to the remote exit code.
 * Refusals (401, 404) reject with the API's error; an unreachable daemon with the usual message.
 */
export function runShell(client: BerthClient, idOrName: string, argv: string[]): Promise<number> {
  const stdin = process.stdin;
  const stdout = process.stdout;
  const tty = Boolean(stdin.isTTY);
  const size = (): { cols: number; rows: number } => ({ cols: stdout.columns || 80, rows: stdout.rows || 24 });
  // Always an interactive session (tty=1): it is the mode that attaches stdin, also for pipes.
  const url = client.wsUrl(workspacePath(idOrName, `/exec?${execQuery(argv, true, size())}`));

  return new Promise<number>((resolve, reject) => {
    const ws = new WebSocket(url, { headers: client.authHeaders(), perMessageDeflate: false });
    let exitCode: number | undefined;
    let rawMode = false;
    let attached = false;
    let settled = false;

    const sendResize = (): void => {
      if (ws.readyState !== WebSocket.OPEN) return;
      ws.send(JSON.stringify({ type: 'resize', ...size() }));
    };
    const onData = (chunk: Buffer): void => {
      if (ws.readyState === WebSocket.OPEN) ws.send(chunk, { binary: true });
    };
    const onEnd = (): void => {
      if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'eof' }));
    };
    const detach = (): void => {
      if (rawMode) stdin.setRawMode(false);
      rawMode = false;
      if (attached) {
        stdin.off('data', onData);
        stdin.off('end', onEnd);
        stdin.pause();
        process.off('SIGWINCH', sendResize);
        attached = false;
      }
    };
    const finish = (result: { code: number } | { err: unknown }): void => {
      detach();
      if (settled) return;
      settled = true;
      if ('code' in result) resolve(result.code);
      else reject(result.err);
    };

    ws.on('unexpected-response', (req, res) => {
      void readBody(res).then((text) => {
        finish({ err: errorFromResponse(res.statusCode ?? 0, res.statusMessage ?? '', text, client.tokenPath) });
        req.destroy();
      });
    });

    ws.on('open', () => {
      sendResize();
      if (tty) {
        stdin.setRawMode(true);
        rawMode = true;
      }
      stdin.on('data', onData);
      stdin.on('end', onEnd);
      stdin.resume();
      process.on('SIGWINCH', sendResize);
      attached = true;
    });

    ws.on('message', (data, isBinary) => {
      const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
      if (isBinary) {
        stdout.write(buf);
        return;
      }
      const ctl = parseControl(buf.toString('utf8'));
      if (ctl) exitCode = ctl.code;
    });

    ws.on('close', (code, reason) => {
      if (exitCode !== undefined) return finish({ code: exitCode });
      const why = reason.length ? `${code} ${reason.toString('utf8')}` : String(code);
      finish({ err: new CliError(`the shell session ended without an exit status (WebSocket close ${why})`) });
    });

    ws.on('error', (err) => {
      const sysCode = (err as NodeJS.ErrnoException).code;
      if (sysCode && /^(ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ECONNRESET|ETIMEDOUT|EAI_AGAIN)$/.test(sysCode) && !attached) {
        finish({ err: unreachableError(client.url, err) });
      } else {
        finish({ err: new CliError(`shell connection failed: ${err.message}`) });
      }
    });
  });
}
