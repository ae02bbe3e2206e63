/**
 * Test proxies for the dashboard e2e tests (loopback only):
 * - `startSubpathProxy`: an outer proxy that serves Berth under `/berth/` — strips the prefix and
 *   adds X-Forwarded-Prefix/-Host/-Proto (Berth trusts it via trustedProxies 127.0.0.1/32).
 * - `startDashboardFront`: a stand-in for the daemon wiring that serves web/dist with
 *   createDashboardHandler and passes everything else to the daemon. Used only while the daemon
 *   does not serve the dashboard itself (see `daemonServesDashboard`).
 * Both forward HTTP (streamed both ways) and WebSocket upgrades, keeping the Host header.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { createDashboardHandler } from '../../../src/web/static.js';
import { forwardedInfo, parseTrustedProxies } from '../../../src/edge/forwarded.js';

export interface TestProxy {
  url: string;
  close(): Promise<void>;
}

interface ForwardOptions {
  target: URL;
  /** Rewrites the incoming path; null answers 404. */
  mapPath: (path: string) => string | null;
  extraHeaders: (req: IncomingMessage) => Record<string, string>;
  /** Answers some requests locally (true = handled). */
  local?: (req: IncomingMessage, res: ServerResponse) => boolean;
}

async function startForwarder(opts: ForwardOptions): Promise<TestProxy> {
  const sockets = new Set<net.Socket>();
  const headersFor = (req: IncomingMessage): http.OutgoingHttpHeaders => ({ ...req.headers, ...opts.extraHeaders(req) });

  const server = http.createServer((req, res) => {
    if (opts.local?.(req, res)) return;
    const path = opts.mapPath(req.url ?? '/');
    if (path === null) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not behind this proxy\n');
      return;
    }
    const up = http.request({ host: opts.target.hostname, port: opts.target.port, method: req.method, path, headers: headersFor(req) }, (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, upRes.rawHeaders);
      upRes.pipe(res);
    });
    up.on('error', () => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end('bad gateway\n');
    });
    // A client going away (closing a followed log) must end the upstream request too.
    res.on('close', () => up.destroy());
    req.pipe(up);
  });

  server.on('upgrade', (req: IncomingMessage, client: Duplex, head: Buffer) => {
    const path = opts.mapPath(req.url ?? '/');
    client.on('error', () => undefined);
    if (path === null) {
      client.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const upstream = net.connect(Number(opts.target.port), opts.target.hostname, () => {
      const headers = headersFor(req);
      let raw = `${req.method} ${path} HTTP/1.1\r\n`;
      for (const [k, v] of Object.entries(headers)) {
        for (const one of Array.isArray(v) ? v : [v]) if (one !== undefined) raw += `${k}: ${one}\r\n`;
      }
      upstream.write(raw + '\r\n');
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
  });
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}

/** Berth under `http://127.0.0.1:PORT/berth/`, forwarding to `targetUrl` without the prefix. */
export function startSubpathProxy(targetUrl: string, prefix = '/berth'): Promise<TestProxy> {
  return startForwarder({
    target: new URL(targetUrl),
    mapPath: (p) => (p === prefix || p.startsWith(prefix + '/') || p.startsWith(prefix + '?') ? p.slice(prefix.length) || '/' : null),
    extraHeaders: (req) => ({
      'x-forwarded-prefix': prefix,
      'x-forwarded-host': req.headers.host ?? '',
      'x-forwarded-proto': 'http',
      'x-forwarded-for': req.socket.remoteAddress ?? '127.0.0.1',
    }),
  });
}

/** Serves the dashboard in front of a daemon that does not (yet) serve it itself. */
export function startDashboardFront(daemonUrl: string, distDir: string): Promise<TestProxy> {
  const trusted = parseTrustedProxies(['127.0.0.1/32']);
  const dashboard = createDashboardHandler({ distDir, prefixFor: (req) => forwardedInfo(req, trusted).prefix });
  return startForwarder({ target: new URL(daemonUrl), mapPath: (p) => p, extraHeaders: () => ({}), local: dashboard });
}

/** True when the daemon at `url` answers `/` with the dashboard's index.html. */
export async function daemonServesDashboard(url: string): Promise<boolean> {
  const res = await fetch(url + '/', { headers: { accept: 'text/html' } });
  return res.ok && /<base href="\/">/.test(await res.text());
}
