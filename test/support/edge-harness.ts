/**
 * Real-socket fixtures for the edge conformance suites: recording upstreams, a WebSocket echo
 * upstream, raw HTTP clients (Node's and fetch's URL handling would normalize the malicious paths
 * before they reach the edge), and `startEdge`, an edge wired to a recording fallback. Loopback only.
 *
 * `startEdge` is NOT the daemon's edge. It has no access hook (`authorize`), no hand-off
 * (`redeemHandoff`), no origins (one listener serves everything), no exec handler (upgrades that
 * match no route get `418 Fallback`) and no API behind the fallback. It is for what involves no
 * access decision: matching and normalizing targets, forwarding headers, streaming, pools,
 * timeouts, tunnels and close frames, and the edge's behaviour when an optional hook is absent
 * (`/llm` without `llmAccess`, an upgrade without `fallbackUpgrade`). Fault injection — a hook or
 * handler that throws (`edge-guards`, `edge-upstream-faults`: passed to `startEdge` or
 * `createEdge`) — stays on stand-ins: a real hook cannot be made to throw on cue, and the
 * guard under test is the edge's, not the hook's. The `/llm` forwarding case of
 * `edge.test.ts` passes an allow-all `llmAccess` to test forwarding only; who may use `/llm` is
 * tested through the daemon in `llm-proxy.test.ts`.
 *
 * Anything that decides who reaches what — private routes, the hand-off, the two origins, the
 * exec socket, cookies and tokens on upgrades — is tested through the daemon's own wiring
 * (`startTestDaemon` in ./daemon.ts): `private-apps`, `origins`, `daemon-access`, `exec-socket`,
 * `crash-entry-points`, `member-boundaries`, `llm-proxy`. Do not add such cases here: a stand-in
 * hook is how two one-request crashes of the daemon went unnoticed (issue 19).
 */
import assert from 'node:assert/strict';
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, createServer, type AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { loadConfig } from '../../src/config/load.js';
import type { BerthConfig } from '../../src/config/schema.js';
import { silentLogger, createLogger } from '../../src/log.js';
import { createEdge } from '../../src/edge/server.js';
import type { Edge, EdgeLimits, EdgeOptions } from '../../src/edge/edge-contract.js';

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
}

export interface TestUpstream {
  port: number;
  server: http.Server;
  requests: RecordedRequest[];
  /** TCP connections accepted so far (a refused route must not add one). */
  connections: number;
  close(): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** Default upstream behaviour: answers JSON describing the request (and body) it received. */
export const echoRequest: Handler = (req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = JSON.stringify({ url: req.url, method: req.method, headers: req.headers, body: Buffer.concat(chunks).toString() });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-upstream': 'yes' });
    res.end(body);
  });
};

function listenLoopback(server: http.Server | ReturnType<typeof createServer>, port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

function closeServer(server: http.Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/**
 * An HTTP upstream on loopback that records requests and counts connections. `port`: listen there
 * (e.g. the host port of a test daemon's workspace whose own command does not listen), else any.
 */
export async function startUpstream(handler: Handler = echoRequest, port = 0): Promise<TestUpstream> {
  const requests: RecordedRequest[] = [];
  const server = http.createServer((req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders });
    handler(req, res);
  });
  const up: TestUpstream = { port: 0, server, requests, connections: 0, close: () => closeServer(server) };
  server.on('connection', () => up.connections++);
  up.port = await listenLoopback(server, port);
  return up;
}

export interface WsUpstream extends TestUpstream {
  /** Upgrade requests as the upstream saw them. */
  upgrades: RecordedRequest[];
}

/** A WebSocket echo server (plus the HTTP echo) on loopback. */
export async function startWsEcho(): Promise<WsUpstream> {
  const up = (await startUpstream()) as WsUpstream;
  up.upgrades = [];
  const wss = new WebSocketServer({ server: up.server });
  wss.on('connection', (ws, req) => {
    up.upgrades.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders });
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  const close = up.close;
  up.close = async () => {
    for (const c of wss.clients) c.terminate();
    wss.close();
    await close();
  };
  return up;
}

/** A loopback port that nothing listens on (right now). */
export async function freePort(): Promise<number> {
  const s = createServer();
  const port = await listenLoopback(s);
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

function parseResponse(raw: string): RawResponse {
  const split = raw.indexOf('\r\n\r\n');
  const head = split === -1 ? raw : raw.slice(0, split);
  let body = split === -1 ? '' : raw.slice(split + 4);
  const [statusLine, ...lines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const c = l.indexOf(':');
    if (c > 0) headers[l.slice(0, c).trim().toLowerCase()] = l.slice(c + 1).trim();
  }
  if (headers['transfer-encoding'] === 'chunked') {
    let out = '';
    let rest = body;
    for (;;) {
      const nl = rest.indexOf('\r\n');
      const size = parseInt(rest.slice(0, nl), 16);
      if (!size) break;
      out += rest.slice(nl + 2, nl + 2 + size);
      rest = rest.slice(nl + 2 + size + 2);
    }
    body = out;
  }
  return { status: Number(statusLine?.split(' ')[1] ?? 0), headers, body };
}

/**
 * Sends `request` bytes verbatim and reads until the server closes (send `Connection: close`).
 * Resolves status 0 when the server closes without answering.
 */
export function rawRequest(port: number, request: string, opts: { localAddress?: string; timeoutMs?: number; host?: string } = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect({ port, host: opts.host ?? '127.0.0.1', ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) });
    socket.setTimeout(opts.timeoutMs ?? 5_000, () => socket.destroy(new Error('raw request timed out')));
    socket.on('data', (d) => chunks.push(d));
    socket.on('error', reject);
    socket.on('close', () => resolve(chunks.length ? parseResponse(Buffer.concat(chunks).toString('latin1')) : { status: 0, headers: {}, body: '' }));
    socket.write(request);
  });
}

/** `GET path` with the given headers as one raw request (Host defaults to the edge address). */
export function get(port: number, path: string, headers: Record<string, string> = {}, opts: { localAddress?: string; method?: string; host?: string } = {}): Promise<RawResponse> {
  const all: Record<string, string> = { Host: `127.0.0.1:${port}`, Connection: 'close', ...headers };
  const lines = Object.entries(all).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  return rawRequest(port, `${opts.method ?? 'GET'} ${path} HTTP/1.1\r\n${lines}\r\n`, opts);
}

export interface EdgeHarness {
  edge: Edge;
  port: number;
  config: BerthConfig;
  /** Requests the fallback (the API stand-in) received. */
  fallbackRequests: RecordedRequest[];
  /** Upgrade requests the fallback received. */
  fallbackUpgrades: string[];
  close(): Promise<void>;
}

/** An edge on an ephemeral loopback port whose fallback answers `fallback <url>`; `hooks` adds edge options (e.g. `llmAccess`). */
export async function startEdge(
  overrides: Partial<Record<keyof BerthConfig, unknown>> = {},
  limits: Partial<EdgeLimits> = {},
  hooks: Pick<EdgeOptions, 'llmAccess' | 'onLlmResponse'> = {},
): Promise<EdgeHarness> {
  const config = loadConfig({}, { port: 0, host: '127.0.0.1', ...overrides });
  const fallbackRequests: RecordedRequest[] = [];
  const fallbackUpgrades: string[] = [];
  const edge = createEdge({
    config,
    log: process.env.BERTH_TEST_VERBOSE ? createLogger('debug') : silentLogger(),
    fallback: (req, res) => {
      fallbackRequests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders });
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`fallback ${req.url}`);
    },
    fallbackUpgrade: (req: IncomingMessage, socket: Duplex) => {
      fallbackUpgrades.push(req.url ?? '');
      socket.end('HTTP/1.1 418 Fallback\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    },
    limits: { drainMs: 200, ...limits },
    ...hooks,
  });
  const addr = await edge.listen(0, '127.0.0.1');
  return { edge, port: addr.port, config, fallbackRequests, fallbackUpgrades, close: () => edge.close() };
}

/** Resolves when `predicate` holds, polling; rejects after `ms`. */
export async function waitFor(predicate: () => boolean, ms = 3_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** An upstream whose `/stream` answers one event, then waits for `release()` before the rest. */
export function gatedStream() {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let finished = false;
  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const sse = req.url?.includes('sse');
    res.writeHead(200, { 'content-type': sse ? 'text/event-stream' : 'text/plain', 'cache-control': 'no-cache' });
    res.write(sse ? 'data: one\n\n' : 'one|');
    void gate.then(() => {
      finished = true;
      res.end(sse ? 'data: two\n\n' : 'two');
    });
  };
  return { handler, release: () => release(), isFinished: () => finished };
}

/** GETs through the edge and checks the first chunk arrives while the upstream is still holding. */
export async function assertStreamsBeforeEnd(port: number, path: string, stream: ReturnType<typeof gatedStream>, first: string, last: string): Promise<void> {
  const body = await new Promise<string>((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          if (text === '') {
            assert.ok(d.includes(first), `first chunk ${JSON.stringify(d)}`);
            assert.equal(stream.isFinished(), false, 'first chunk must arrive before the upstream finishes');
            stream.release();
          }
          text += d;
        });
        res.on('end', () => resolve(text));
      })
      .on('error', reject);
  });
  assert.ok(body.includes(last));
}
