/**
 * WebSocket tunnels: the upgrade request goes to the upstream as is (headers rewritten), and once
 * it answers `101` bytes flow both ways untouched. Each direction follows frame boundaries
 * (FrameCursor), so `goAway()` can end a tunnel the way RFC 6455 §7 asks: a close frame (1001) to
 * the client and a masked one to the upstream, each written between two frames; then the edge
 * closes the client connection and waits (bounded) for the upstream to close its own.
 */
import type { IncomingMessage } from 'node:http';
import { connect, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from '../log.js';
import type { Route } from '../domain/route.js';
import { sendSocketError, type EdgeError } from './pages.js';
import { CLOSE_GOING_AWAY, closeFrame, FrameCursor } from './ws-frames.js';

const SWITCHED = /^HTTP\/1\.[01] 101\b/;
/** Longest a going-away tunnel waits for a frame in flight to finish and the peers to close. */
const GO_AWAY_MS = 1_000;

export interface TunnelOptions {
  log: Logger;
  connectTimeoutMs: number;
  /** Maps a connect error to the answer the client gets before any upstream byte. */
  upstreamError: (err: unknown, route: Route) => EdgeError;
  /** Called once when both sockets are gone. */
  onClosed: (t: Tunnel) => void;
  /** Bytes relayed either way after the switch (WebSocket frames), once per chunk: must be cheap (no clock read). */
  onTraffic?: (t: Tunnel) => void;
}

/** One direction: bytes from `from` to `to`, with the frame cursor and the going-away state. */
interface Direction {
  from: Duplex;
  to: Duplex;
  cursor: FrameCursor;
  /** Our close frame for `to`, written at the next boundary; null once written (or not closing). */
  pendingClose: Buffer | null;
  /** After our close frame, nothing more is relayed this way. */
  stopped: boolean;
}

export class Tunnel {
  readonly upstream: Socket;
  private down: Direction | null = null;
  private up: Direction | null = null;
  private goingAway: Promise<void> | null = null;
  private closed = false;
  private readonly whenClosed: Promise<void>;

  constructor(
    readonly route: Route,
    readonly key: string,
    readonly client: Duplex,
    req: IncomingMessage,
    requestHead: string,
    head: Buffer,
    private readonly opts: TunnelOptions,
  ) {
    const upstream = connect({ host: route.upstream.host, port: route.upstream.port });
    this.upstream = upstream;
    upstream.setNoDelay(true);
    upstream.setTimeout(opts.connectTimeoutMs, () => {
      upstream.destroy(Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT' }));
    });
    upstream.once('connect', () => upstream.setTimeout(0));
    upstream.write(requestHead);

    upstream.on('error', (err) => {
      opts.log.debug({ err, route: route.workloadId }, 'websocket upstream error');
      // Before the upstream said anything the client can still get a proper error answer.
      if (upstream.bytesRead === 0 && !client.writableEnded) sendSocketError(client, opts.upstreamError(err, route), req.headers.accept);
    });
    client.on('error', (err) => {
      opts.log.debug({ err, route: route.workloadId }, 'websocket client error');
      upstream.destroy();
    });
    this.whenClosed = new Promise((resolve) => {
      const cleanup = (): void => {
        if (!upstream.destroyed) upstream.destroy();
        // Going away and the upstream left between frames: the client still gets its close frame.
        const down = this.down;
        if (down !== null && down.pendingClose !== null && down.cursor.atBoundary && !client.destroyed) this.sendClose(down);
        if (!client.destroyed) {
          // An ended client socket may still be flushing a close frame or error page: give it a moment.
          if (client.writableEnded) setTimeout(() => client.destroy(), 2_000).unref();
          else client.destroy();
        }
        if (!this.closed) {
          this.closed = true;
          opts.onClosed(this);
          resolve();
        }
      };
      upstream.once('close', cleanup);
      client.once('close', cleanup);
    });

    if (client instanceof Socket) client.setNoDelay(true);
    // Client bytes flow upstream only once the upstream switched protocols (101). Otherwise the
    // client could pipeline plain requests with paths the edge never normalized or authorized.
    let prelude: Buffer | null = null;
    const onFirstBytes = (chunk: Buffer): void => {
      prelude = prelude === null ? chunk : Buffer.concat([prelude, chunk]);
      if (prelude.length < 12 && prelude.indexOf(10) === -1) return; // status code not in yet
      upstream.off('data', onFirstBytes);
      if (!SWITCHED.test(prelude.toString('latin1', 0, 12))) {
        // Not a WebSocket after all (an error page, a redirect): relay it and nothing from the client.
        client.write(prelude);
        upstream.pipe(client);
        return;
      }
      this.down = { from: upstream, to: client, cursor: new FrameCursor({ afterHttpHead: true }), pendingClose: null, stopped: false };
      this.up = { from: client, to: upstream, cursor: new FrameCursor(), pendingClose: null, stopped: false };
      this.relay(this.down, prelude);
      if (head.length > 0) this.relay(this.up, head);
      this.follow(this.down);
      this.follow(this.up);
    };
    upstream.on('data', onFirstBytes);
  }

  /**
   * Ends the tunnel cleanly: close frames both ways at the next frame boundary, then FIN; cut
   * after GO_AWAY_MS whatever is still open. Resolves when both sockets are closed.
   */
  goAway(reason: string): Promise<void> {
    if (this.goingAway !== null) return this.goingAway;
    if (this.down === null || this.up === null) {
      // Not switched yet (or never will be): there is no WebSocket to close politely.
      this.destroy();
      return this.whenClosed;
    }
    this.down.pendingClose = closeFrame(CLOSE_GOING_AWAY, reason, false);
    this.up.pendingClose = closeFrame(CLOSE_GOING_AWAY, reason, true);
    for (const d of [this.down, this.up]) if (d.cursor.atBoundary) this.sendClose(d);
    const timer = setTimeout(() => this.destroy(), GO_AWAY_MS);
    timer.unref();
    this.goingAway = this.whenClosed.then(() => clearTimeout(timer));
    return this.goingAway;
  }

  destroy(): void {
    this.client.destroy();
    this.upstream.destroy();
  }

  private follow(d: Direction): void {
    d.from.on('data', (chunk: Buffer) => this.relay(d, chunk));
    // Half-close travels on like pipe() does.
    d.from.once('end', () => {
      if (!d.stopped) d.to.end();
    });
    d.to.on('drain', () => d.from.resume());
  }

  private relay(d: Direction, chunk: Buffer): void {
    if (d.stopped) return;
    if (this.opts.onTraffic) this.opts.onTraffic(this);
    if (d.pendingClose !== null) {
      // Going away: relay up to the end of the frame in flight, then our close frame.
      const upTo = d.cursor.advance(chunk, true);
      if (upTo > 0) d.to.write(chunk.subarray(0, upTo));
      if (d.cursor.atBoundary) this.sendClose(d);
      return;
    }
    d.cursor.advance(chunk);
    if (!d.to.write(chunk)) d.from.pause();
  }

  private sendClose(d: Direction): void {
    if (d.pendingClose === null || d.stopped) return;
    d.stopped = true;
    // The server side closes TCP first (RFC 6455 §7.1.1): FIN to the client right after the frame;
    // towards the upstream the edge is the client, so it waits for the upstream to close.
    if (d.to === this.client) d.to.end(d.pendingClose);
    else d.to.write(d.pendingClose);
    d.pendingClose = null;
    d.from.resume(); // keep reading (and dropping) until the peer closes
  }
}
