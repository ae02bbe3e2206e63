import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { isBerthError } from '../errors.js';
import type { Logger } from '../log.js';
import type { WorkspaceService } from '../services/workspaces.js';
import { bearerToken, tokenMatches } from './auth.js';

const EXEC_PATH = /^\/api\/workspaces\/([^/]+)\/exec$/;

function refuse(socket: Duplex, status: number, message: string): void {
  const body = JSON.stringify({ error: { code: status === 401 ? 'E_UNAUTHORIZED' : 'E_NOT_FOUND', message } });
  socket.end(
    `HTTP/1.1 ${status} ${status === 401 ? 'Unauthorized' : 'Not Found'}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/**
 * WebSocket endpoint `GET /api/workspaces/:id/exec?tty=1&cmd=/bin/sh&cmd=-l` for `berth ws shell`.
 * Protocol: binary frames carry stdin (client → server) and output (server → client); text
 * frames carry JSON control messages: `{"type":"resize","cols","rows"}` from the client,
 * `{"type":"exit","code":N}` from the server before it closes.
 */
export function createExecUpgradeHandler(deps: { token: string; workspaces: WorkspaceService; log: Logger }) {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 1024 * 1024 });
  return (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const url = new URL(req.url ?? '/', 'http://berth.invalid');
    const m = EXEC_PATH.exec(url.pathname);
    if (!m) return refuse(socket, 404, 'no WebSocket endpoint here');
    if (!tokenMatches(bearerToken(req.headers.authorization), deps.token)) {
      return refuse(socket, 401, 'missing or invalid API token');
    }
    const idOrName = decodeURIComponent(m[1]!);
    const argv = url.searchParams.getAll('cmd');
    const tty = url.searchParams.get('tty') === '1';
    wss.handleUpgrade(req, socket, head, (ws) => void runSession(ws, idOrName, argv.length ? argv : ['/bin/sh'], tty));
  };

  async function runSession(ws: WebSocket, idOrName: string, argv: string[], tty: boolean): Promise<void> {
    const log = deps.log.child({ exec: idOrName });
    try {
      const session = await deps.workspaces.exec(idOrName, argv, { tty });
      if (session.kind === 'result') {
        if (session.stdout) ws.send(Buffer.from(session.stdout));
        if (session.stderr) ws.send(Buffer.from(session.stderr));
        ws.send(JSON.stringify({ type: 'exit', code: session.exitCode }));
        ws.close(1000);
        return;
      }
      session.stdout.on('data', (d: Buffer) => ws.send(d));
      session.stderr.on('data', (d: Buffer) => ws.send(d));
      ws.on('message', (data, isBinary) => {
        if (isBinary) {
          session.stdin.write(data as Buffer);
          return;
        }
        try {
          const msg = JSON.parse(String(data)) as { type?: string; cols?: number; rows?: number };
          if (msg.type === 'resize' && session.resize && msg.cols && msg.rows) session.resize(msg.cols, msg.rows);
        } catch {
          // Ignore malformed control frames: they must not kill the user's shell.
        }
      });
      ws.on('close', () => session.stdin.end());
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
}
