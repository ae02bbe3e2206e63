/**
 * The plain-HTTP listener when TLS is on (BERTH_HTTP_PORT, default 80): every request is sent
 * to the same host over HTTPS on the access point's port with 308 (method and body kept), except
 * ACME HTTP-01 challenges under `/.well-known/acme-challenge/`, which must be answered over plain
 * HTTP and go to `challenge` when one is wired. Nothing else is served in clear: no API, no app.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isIP } from 'node:net';
import type { Logger } from '../../log.js';
import { splitHost } from '../own-host.js';
import { sendError } from '../pages.js';

export const ACME_CHALLENGE_PREFIX = '/.well-known/acme-challenge/';

export interface RedirectOptions {
  /** Port HTTPS is served on (omitted from the Location when 443). */
  httpsPort: () => number;
  /** Answers an HTTP-01 challenge (token = the last path segment); false when it knows none. */
  challenge?: (token: string, host: string, res: ServerResponse) => boolean;
  log: Logger;
}

export interface RedirectServer {
  server: http.Server;
  listen(port: number, host: string): Promise<AddressInfo>;
  close(): Promise<void>;
}

/** `https://{host}[:port]{path}` for a request, or null when its Host is not a host name. */
export function httpsLocation(hostHeader: string | undefined, url: string | undefined, httpsPort: number): string | null {
  const parts = hostHeader ? splitHost(hostHeader) : null;
  if (!parts) return null;
  const [name] = parts;
  const shown = isIP(name) === 6 ? `[${name}]` : name;
  // Only an origin-form target is kept: an absolute-form one (`GET http://elsewhere/`) must not pick the redirect's host.
  const path = url !== undefined && url.startsWith('/') && !url.startsWith('//') ? url : '/';
  return `https://${shown}${httpsPort === 443 ? '' : `:${httpsPort}`}${path}`;
}

export function createRedirectServer(opts: RedirectOptions): RedirectServer {
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    try {
      const url = req.url ?? '/';
      if (url.startsWith(ACME_CHALLENGE_PREFIX) && opts.challenge) {
        const token = url.slice(ACME_CHALLENGE_PREFIX.length).split(/[?#]/)[0] ?? '';
        const host = splitHost(req.headers.host ?? '')?.[0] ?? '';
        if (/^[A-Za-z0-9_-]{1,256}$/.test(token) && opts.challenge(token, host, res)) return;
        sendError(res, { status: 404, code: 'E_NOT_FOUND', message: 'No such ACME challenge.' }, 'text/plain');
        return;
      }
      const location = httpsLocation(req.headers.host, url, opts.httpsPort());
      if (!location) {
        sendError(res, { status: 400, code: 'E_BAD_REQUEST', message: 'The Host header is not a valid host name.' }, req.headers.accept);
        return;
      }
      res.writeHead(308, { location, 'content-length': 0, 'cache-control': 'no-store' });
      res.end();
    } catch (err) {
      opts.log.error({ err, url: req.url }, 'HTTP redirect handler failed');
      if (!res.headersSent) res.writeHead(500, { 'content-length': 0 });
      res.end();
    }
  };
  const server = http.createServer({ headersTimeout: 10_000, requestTimeout: 15_000, maxHeaderSize: 16 * 1024 }, onRequest);
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    else socket.destroy();
  });
  return {
    server,
    listen: (port, host) =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve(server.address() as AddressInfo);
        });
      }),
    close: () =>
      new Promise((resolve) => {
        if (!server.listening) return resolve();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
