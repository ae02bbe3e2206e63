/**
 * What the edge does when one of its entry points throws or Node's HTTP parser gives up: answer
 * that one request or socket (500 with a request id, or 400/408/431 for malformed HTTP) and log
 * it, so a bug costs one request and never the process. None of these functions throws.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from '../log.js';
import { sendError, sendSocketError } from './pages.js';
import { requestId } from './request-id.js';

export interface EntryGuards {
  /** A request handler threw: 500 naming the request id if nothing was sent, else cut the response. */
  requestFailed(err: unknown, req: IncomingMessage, res: ServerResponse, where: string): void;
  /** An upgrade handler threw: `HTTP/1.1 500` if the socket is untouched, else just close it. */
  upgradeFailed(err: unknown, req: IncomingMessage, socket: Duplex): void;
  /** The server's `clientError` listener: 431/408/400 between responses, then close the socket. */
  onClientError(err: NodeJS.ErrnoException, socket: Duplex): void;
}

const failedMessage = (reqId: string): string => `Berth failed on this request; the daemon log names it ${reqId}.`;

export function createEntryGuards(log: Logger): EntryGuards {
  return {
    requestFailed(err, req, res, where) {
      const reqId = requestId(req.headers['x-request-id']);
      try {
        log.error({ err, reqId, method: req.method, url: req.url }, `${where} failed`);
        if (res.writableEnded) return; // the answer is out; cutting it now would only lose bytes
        if (res.headersSent) return void res.destroy();
        sendError(res, { status: 500, code: 'E_INTERNAL', message: failedMessage(reqId) }, req.headers.accept, { 'x-request-id': reqId });
      } catch {
        res.destroy();
      }
    },

    upgradeFailed(err, req, socket) {
      const reqId = requestId(req.headers['x-request-id']);
      try {
        log.error({ err, reqId, url: req.url }, 'upgrade handler failed');
        // Node passes `upgrade` listeners a net.Socket (a Duplex only in its type), so bytesWritten is there.
        if (socket.destroyed || socket.writableEnded || (socket as Socket).bytesWritten > 0) return void socket.destroy();
        const body = failedMessage(reqId) + '\n';
        socket.end(
          `HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain; charset=utf-8\r\n` +
            `Content-Length: ${Buffer.byteLength(body)}\r\nX-Request-Id: ${reqId}\r\nConnection: close\r\n\r\n${body}`,
        );
      } catch {
        socket.destroy();
      }
    },

    onClientError(err, socket) {
      try {
        // Node's own rule: answer only between responses (a half-sent answer cannot take a status line).
        const current = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage;
        if (err.code === 'ECONNRESET' || !socket.writable || current?.headersSent) return void socket.destroy();
        const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
        log.debug({ code: err.code, status }, 'malformed request');
        sendSocketError(socket, { status, code: 'E_BAD_REQUEST', message: 'Malformed HTTP request.' }, undefined);
        (socket as Partial<Socket>).destroySoon?.();
      } catch {
        socket.destroy();
      }
    },
  };
}
