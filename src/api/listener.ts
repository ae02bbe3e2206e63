import type { IncomingMessage, ServerResponse } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import type { ErrorBody } from './error-handler.js';

/**
 * True when `new URL` accepts `http://{host}/`, which is how @hono/node-server builds every
 * Request's URL. Hosts such as `bb.6` (a last label that is a number reads as a bad IPv4 address)
 * pass Node's HTTP parser but not the URL parser, and would throw inside the API as a 500.
 */
export function hostParses(host: string | undefined): boolean {
  return host === undefined || URL.canParse(`http://${host}/`);
}

const BAD_HOST: ErrorBody = { error: { code: 'E_BAD_REQUEST', message: 'the Host header is not a valid host name' } };
const BAD_HOST_BODY = JSON.stringify(BAD_HOST);

/**
 * The API as a Node request listener (the edge's fallback). A Host the URL parser rejects is
 * answered 400 here (RFC 9112 §3.2: an invalid Host is a 400) instead of failing inside Hono.
 */
export function createApiListener(fetch: Parameters<typeof getRequestListener>[0]): (req: IncomingMessage, res: ServerResponse) => Promise<void> | void {
  const listener = getRequestListener(fetch);
  return (req, res) => {
    if (hostParses(req.headers.host)) return listener(req, res);
    res.writeHead(400, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(BAD_HOST_BODY), 'cache-control': 'no-store' });
    res.end(BAD_HOST_BODY);
  };
}
