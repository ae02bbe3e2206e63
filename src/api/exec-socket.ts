import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { isBerthError } from '../errors.js';
import type { Logger } from '../log.js';
import type { WorkspaceService } from '../services/workspaces.js';
import type { Principal } from '../services/auth.js';
import type { ExecOptions } from '../runtime/runtime.js';
import { clampSize } from '../runtime/pty.js';
import { canSee } from './routes/workspaces.js';

const EXEC_PATH = /^\/api\/workspaces\/([^/]+)\/exec$/;

/** How long a session whose client went away may end by itself (Ctrl-D) before it is hung up. */
const HANGUP_GRACE_MS = 1_000;

const REASONS: Record<number, [string, string]> = {
  401: ['Unauthorized', 'E_UNAUTHORIZED'],
  403: ['Forbidden', 'E_FORBIDDEN'],
  404: ['Not Found', 'E_NOT_FOUND'],
};

function refuse(socket: Duplex, status: 401 | 403 | 404, message: string): void {
  const [reason, code] = REASONS[status]!;
  const body = JSON.stringify({ error: { code, message } });
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/**
 * WebSocket endpoint `GET /api/workspaces/:id/exec?tty=1&cols=120&rows=40&cmd=/bin/sh&cmd=-l`
 * for `berth ws shell` and the dashboard's terminal (one protocol for both).
 * Protocol: binary frames carry stdin (client → server) and output (server → client); text
 * frames carry JSON control messages: `{"type":"resize","cols","rows"}` from the client (the
 * session's terminal takes that size, its program gets SIGWINCH), `{"type":"eof"}` from the
 * client when its input ends, `{"type":"exit","code":N}` from the server before it closes.
 * `tty=1` runs the command on a terminal (TERM=xterm-256color) of `cols`×`rows` (default 80×24);
 * a client that goes away hangs it up (Ctrl-D, then SIGHUP after HANGUP_GRACE_MS).
 */
export function createExecUpgradeHandler(deps: {
  /** The request's principal (bearer token, or session cookie from a same-origin page), or null. */
  principalOf: (req: IncomingMessage) => Principal | null;
  workspaces: WorkspaceService;
  log: Logger;
  /** An exec session opened on a workspace; the returned function is called when it closes (idle auto-stop holds the workspace meanwhile). */
  onSession?: (workspaceId: string) => () => void;
}) {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 1024 * 1024 });
  const handle = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    // Split the target by hand: `new URL` throws on targets such as `//` (client input must not
    // throw), and the edge matched the raw origin-form path, so this reads the same one.
    const target = req.url ?? '/';
    const q = target.indexOf('?');
    const m = EXEC_PATH.exec(q === -1 ? target : target.slice(0, q));
    if (!m) return refuse(socket, 404, 'no WebSocket endpoint here');
    const principal = deps.principalOf(req);
    if (!principal) return refuse(socket, 401, 'log in or send Authorization: Bearer <token>');
    if (!principal.scopes.has('write')) return refuse(socket, 403, 'this token may only read');
    let idOrName: string;
    let workspaceId: string;
    try {
      idOrName = decodeURIComponent(m[1]!);
      const ws = deps.workspaces.get(idOrName);
      if (!canSee(principal, ws)) return refuse(socket, 404, `workspace "${idOrName}" not found`);
      workspaceId = ws.id;
    } catch {
      return refuse(socket, 404, 'workspace not found');
    }
    // A shell on a runtime without isolation is a shell as Berth itself (see WorkspaceService.mayRun).
    if (!deps.workspaces.mayRun(principal)) return refuse(socket, 403, 'this runtime does not isolate workloads: only admins may open a shell');
    const query = new URLSearchParams(q === -1 ? '' : target.slice(q + 1));
    const argv = query.getAll('cmd');
    const tty = query.get('tty') === '1';
    const size = clampSize(query.get('cols'), query.get('rows'));
    wss.handleUpgrade(req, socket, head, (ws) => {
      if (deps.onSession) ws.once('close', deps.onSession(workspaceId));
      void runSession(ws, idOrName, argv.length ? argv : ['/bin/sh'], { tty, ...size });
    });
  };

  /**
   * Daemon shutdown: every session gets a close frame (1001) and a moment to answer it; the
   * shells themselves keep running in their workloads only as long as the engine lets them.
   */
  async function closeAll(): Promise<void> {
    const open = [...wss.clients];
    await Promise.all(
      open.map(
        (ws) =>
          new Promise<void>((resolve) => {
            if (ws.readyState === ws.CLOSED) return resolve();
            const timer = setTimeout(() => ws.terminate(), 1_000);
            ws.once('close', () => {
              clearTimeout(timer);
              resolve();
            });
            ws.close(1001, 'Berth is shutting down');
          }),
      ),
    );
  }

  async function runSession(ws: WebSocket, idOrName: string, argv: string[], opts: ExecOptions): Promise<void> {
    const log = deps.log.child({ exec: idOrName });
    // Frames may arrive before the engine's exec is ready (piped input): queue them until then.
    const queued: { data: Buffer; isBinary: boolean }[] = [];
    let deliver: ((data: Buffer, isBinary: boolean) => void) | null = null;
    let clientClosed = false;
    ws.on('message', (data, isBinary) => {
      const buf = Buffer.isBuffer(data) ? data : Buffer.from(data as ArrayBuffer);
      if (deliver) deliver(buf, isBinary);
      else queued.push({ data: buf, isBinary });
    });
    ws.on('close', () => {
      clientClosed = true;
      if (deliver) deliver(Buffer.alloc(0), false);
    });
    try {
      const session = await deps.workspaces.exec(idOrName, argv, opts);
      if (session.kind === 'result') {
        if (session.stdout) ws.send(Buffer.from(session.stdout));
        if (session.stderr) ws.send(Buffer.from(session.stderr));
        ws.send(JSON.stringify({ type: 'exit', code: session.exitCode }));
        ws.close(1000);
        return;
      }
      session.stdout.on('data', (d: Buffer) => ws.send(d));
      session.stderr.on('data', (d: Buffer) => ws.send(d));
      let stdinOpen = true;
      const endStdin = (): void => {
        if (stdinOpen) session.stdin.end();
        stdinOpen = false;
      };
      let hungUp = false;
      const hangUp = (): void => {
        endStdin();
        if (hungUp || !session.close) return;
        hungUp = true;
        const timer = setTimeout(() => session.close?.(), HANGUP_GRACE_MS);
        void session.wait().finally(() => clearTimeout(timer));
      };
      deliver = (data, isBinary) => {
        if (clientClosed) return hangUp();
        if (isBinary) {
          if (stdinOpen) session.stdin.write(data);
          return;
        }
        try {
          const msg = JSON.parse(data.toString()) as { type?: string; cols?: unknown; rows?: unknown };
          // Only numbers resize (clamped to sane bounds); anything else leaves the size alone.
          if (msg.type === 'resize' && session.resize && typeof msg.cols === 'number' && typeof msg.rows === 'number') {
            const s = clampSize(msg.cols, msg.rows);
            session.resize(s.cols, s.rows);
          }
          if (msg.type === 'eof') endStdin();
        } catch {
          // Ignore malformed control frames: they must not kill the user's shell.
        }
      };
      for (const q of queued.splice(0)) deliver(q.data, q.isBinary);
      if (clientClosed) hangUp();
      const code = await session.wait();
      if (ws.readyState === ws.OPEN) {
        ws.send(JSON.stringify({ type: 'exit', code }));
        ws.close(1000);
      }
    } catch (err) {
      const message = isBerthError(err) ? err.message : 'exec failed';
      log.warn({ err }, 'exec session failed');
      if (ws.readyState === ws.OPEN) {
        ws.send(Buffer.from(`berth: ${message}\r\n`));
        ws.send(JSON.stringify({ type: 'exit', code: 126 }));
        ws.close(1011);
      }
    }
  }

  return { handle, closeAll };
}
