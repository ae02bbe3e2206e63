/**
 * One proxied request on a pooled upstream connection: writes the request head (and streams the
 * client's body, re-framed), parses the answer with ResponseParser and hands it to a handler.
 *
 * Safety rules: a connection goes back to the pool only after a complete response to a fully
 * sent request, with nothing extra on the wire; anything else closes it. A request without a body
 * that fails on a reused connection before a single response byte arrived (the upstream closed an
 * idle keep-alive connection just as it was lent) is retried once.
 */
import type { Readable } from 'node:stream';
import type { Socket } from 'node:net';
import type { SocketOwner, UpstreamPool } from './pool.js';
import { ResponseParser, type ResponseSink } from './response-parser.js';

/** Receives the response; exactly one of `onEnd` (via the sink) or `onError` ends an exchange. */
export interface ExchangeHandler extends ResponseSink {
  onError(err: Error): void;
}

/** What a handler may do to a running exchange. */
export interface ExchangeControl {
  /** Stop reading the upstream (the client is slow). */
  pause(): void;
  resume(): void;
  /** The client went away: cut the upstream request (the connection is not reused). */
  abort(): void;
}

export interface ExchangeRequest {
  method: string;
  /** Request target: path + query, sent as is. */
  path: string;
  /** Flat `[name, value, …]`, already filtered for the upstream. */
  headers: readonly string[];
  /** The client's body, when it has one (framing headers already decided by the caller). */
  body: Readable | null;
  /** Longest wait from the request sent to the response head. */
  headersTimeoutMs: number;
}

function codedError(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

const LAST_CHUNK = '0\r\n\r\n';

class Exchange implements SocketOwner, ExchangeControl, ResponseSink {
  private socket: Socket | null = null;
  private parser: ResponseParser;
  private finished = false;
  private retried = false;
  private reused = false;
  /** The request body was written completely (or there is none). */
  private bodySent: boolean;
  private readonly chunked: boolean;

  constructor(
    private readonly pool: UpstreamPool,
    private readonly req: ExchangeRequest,
    private readonly handler: ExchangeHandler,
  ) {
    this.parser = new ResponseParser(this, req.method === 'HEAD');
    this.bodySent = req.body === null;
    this.chunked = req.body !== null && !hasHeader(req.headers, 'content-length');
    pool.acquire(this);
  }

  // --- SocketOwner -------------------------------------------------------------------------

  onSocket(err: Error | null, socket: Socket | null, reused: boolean): void {
    if (this.finished) {
      if (socket !== null) this.pool.release(socket, true);
      return;
    }
    if (err !== null || socket === null) {
      this.fail(err ?? codedError('no upstream connection', 'ECONNREFUSED'));
      return;
    }
    this.socket = socket;
    this.reused = reused;
    let head: string;
    try {
      head = requestHead(this.req, this.pool.origin, this.chunked);
    } catch (e) {
      this.fail(e as Error);
      return;
    }
    socket.setTimeout(this.req.headersTimeoutMs);
    socket.write(head, 'latin1');
    if (this.req.body !== null) this.sendBody(socket, this.req.body);
  }

  onSocketData(chunk: Buffer): void {
    try {
      this.parser.feed(chunk);
    } catch (err) {
      this.fail(err as Error);
    }
  }

  onSocketEnd(): void {
    try {
      this.parser.finish();
    } catch (err) {
      this.closedEarly(err as Error);
    }
  }

  onSocketClose(err: Error | undefined): void {
    if (this.finished) return;
    this.closedEarly(err ?? codedError('upstream closed the connection', 'ECONNRESET'));
  }

  onSocketTimeout(): void {
    this.fail(codedError('upstream did not answer in time', 'E_HEADERS_TIMEOUT'));
  }

  // --- ResponseSink --------------------------------------------------------------------------

  onInterim(status: number): void {
    this.handler.onInterim?.(status);
  }

  onHead(status: number, rawHeaders: string[]): void {
    this.socket?.setTimeout(0); // bodies (event streams, long polls) may idle as long as they like
    this.handler.onHead(status, rawHeaders);
  }

  onBody(chunk: Buffer): void {
    if (!this.finished) this.handler.onBody(chunk);
  }

  // --- ExchangeControl -----------------------------------------------------------------------

  pause(): void {
    this.socket?.pause();
  }

  resume(): void {
    this.socket?.resume();
  }

  abort(): void {
    if (this.finished) return;
    this.finished = true;
    this.req.body?.unpipe();
    this.socket?.destroy();
  }

  // --- internals -----------------------------------------------------------------------------

  /** The response ended: give the connection back if it can carry another request. */
  onEnd(): void {
    if (this.finished) return;
    this.finished = true;
    const socket = this.socket!;
    this.socket = null;
    const reusable = this.parser.keepAlive && !this.parser.extra && this.bodySent;
    if (!this.bodySent) this.req.body!.removeAllListeners('data').pause();
    this.pool.release(socket, reusable);
    this.handler.onEnd();
  }

  private closedEarly(err: Error): void {
    if (this.finished) return;
    // A stale keep-alive connection: nothing was answered and nothing irreversible was sent.
    if (this.reused && !this.retried && this.parser.bytesSeen === 0 && this.req.body === null) {
      this.retried = true;
      const socket = this.socket;
      this.socket = null;
      if (socket !== null) this.pool.release(socket, false);
      // An EOF went through finish(), which leaves the parser failed: the retry needs a fresh one.
      this.parser = new ResponseParser(this, this.req.method === 'HEAD');
      this.pool.acquire(this);
      return;
    }
    this.fail(err);
  }

  private fail(err: Error): void {
    if (this.finished) return;
    this.finished = true;
    const socket = this.socket;
    this.socket = null;
    if (socket !== null) this.pool.release(socket, false);
    this.req.body?.unpipe();
    this.handler.onError(err);
  }

  /** Streams the client's body, re-chunked when its length is unknown, honouring backpressure. */
  private sendBody(socket: Socket, body: Readable): void {
    const chunked = this.chunked;
    body.on('data', (chunk: Buffer) => {
      if (this.finished || socket.destroyed) return;
      let ok: boolean;
      if (chunked) {
        // All three writes, always: a false return only means "buffered", and skipping the rest
        // would leave a size line without its data, so the client's bytes would become framing.
        socket.write(`${chunk.length.toString(16)}\r\n`);
        socket.write(chunk);
        ok = socket.write('\r\n');
      } else ok = socket.write(chunk);
      if (!ok) {
        body.pause();
        socket.once('drain', () => body.resume());
      }
    });
    body.once('end', () => {
      if (this.finished || socket.destroyed) return;
      if (chunked) socket.write(LAST_CHUNK);
      this.bodySent = true;
    });
    body.once('error', () => this.abort());
  }
}

/** `true` when `name` (lower case) is among the flat headers. */
function hasHeader(headers: readonly string[], name: string): boolean {
  for (let i = 0; i < headers.length; i += 2) {
    const h = headers[i]!;
    if (h.length === name.length && h.toLowerCase() === name) return true;
  }
  return false;
}

/**
 * The request head. Values come from Node's parser (which refuses CR/LF) or from Berth itself;
 * a CR or LF here would split the request, so it is refused outright all the same.
 */
function requestHead(req: ExchangeRequest, origin: string, chunked: boolean): string {
  let head = `${req.method} ${req.path} HTTP/1.1\r\n`;
  let host = false;
  const h = req.headers;
  for (let i = 0; i < h.length; i += 2) {
    const name = h[i]!;
    const value = h[i + 1]!;
    if (value.includes('\n') || value.includes('\r')) throw new Error(`header ${name} contains a line break`);
    if (name.length === 4 && name.toLowerCase() === 'host') host = true;
    head += `${name}: ${value}\r\n`;
  }
  if (!host) head += `Host: ${origin.slice(origin.indexOf('//') + 2)}\r\n`;
  if (chunked) head += 'Transfer-Encoding: chunked\r\n';
  return `${head}\r\n`;
}

/** Sends `req` to `pool`'s upstream; the answer goes to `handler`. */
export function exchange(pool: UpstreamPool, req: ExchangeRequest, handler: ExchangeHandler): ExchangeControl {
  return new Exchange(pool, req, handler);
}
