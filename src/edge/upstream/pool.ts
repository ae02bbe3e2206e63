/**
 * Keep-alive connections to one upstream origin (`http://host:port` or `https://…`), one request
 * at a time per connection (no pipelining). Idle connections are reused newest first, closed
 * after `keepAliveMs` idle (below Node's 5 s server default, so the edge is the side that closes),
 * and dropped the moment the upstream closes or sends anything unasked.
 *
 * Each socket carries permanent listeners that forward to its current owner (the exchange using
 * it), so lending a connection adds and removes no listeners on the hot path.
 *
 * Lifecycle: `acquire(owner)` → `owner.onSocket(…)` → one exchange → `release(socket, reusable)`.
 * `close()` lets busy connections finish; `destroy()` cuts them all.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

export interface PoolOptions {
  /** Most connections open at once; more requests wait in line for one. */
  connections: number;
  connectTimeoutMs: number;
  keepAliveMs: number;
}

/** Who is using a connection: receives it, then everything that happens on it until released. */
export interface SocketOwner {
  /** A connected socket (`reused`: it carried earlier requests, so it may turn out stale), or why there is none. */
  onSocket(err: Error | null, socket: Socket | null, reused: boolean): void;
  onSocketData(chunk: Buffer): void;
  /** The upstream half-closed (EOF). */
  onSocketEnd(): void;
  /** The connection closed; `err` is the socket error that closed it, if any. */
  onSocketClose(err: Error | undefined): void;
  /** No bytes moved for the timeout the owner set with `socket.setTimeout`. */
  onSocketTimeout(): void;
}

const STATE = Symbol('berth.upstream');
interface SocketState {
  pool: UpstreamPool;
  owner: SocketOwner | null;
  error: Error | undefined;
}
type PooledSocket = Socket & { [STATE]: SocketState };

// Shared listeners (`this` is the socket): an idle connection must stay silent, so data, EOF or
// the keep-alive timeout on one that has no owner closes it.
function onData(this: PooledSocket, chunk: Buffer): void {
  const owner = this[STATE].owner;
  if (owner !== null) owner.onSocketData(chunk);
  else this.destroy();
}
function onEnd(this: PooledSocket): void {
  const owner = this[STATE].owner;
  if (owner !== null) owner.onSocketEnd();
  else this.destroy();
}
function onTimeout(this: PooledSocket): void {
  const owner = this[STATE].owner;
  if (owner !== null) owner.onSocketTimeout();
  else this.destroy();
}
function onError(this: PooledSocket, err: Error): void {
  this[STATE].error ??= err;
}
function onClose(this: PooledSocket): void {
  const state = this[STATE];
  state.pool.forget(this);
  const owner = state.owner;
  state.owner = null;
  owner?.onSocketClose(state.error);
}

function poolClosedError(): Error {
  return Object.assign(new Error('upstream pool closed'), { code: 'ECONNREFUSED' });
}

export class UpstreamPool {
  private readonly idle: PooledSocket[] = [];
  private readonly sockets = new Set<PooledSocket>();
  private readonly waiting: SocketOwner[] = [];
  private closing = false;
  private closed: (() => void) | null = null;
  private readonly host: string;
  private readonly port: number;
  private readonly tls: boolean;

  constructor(
    readonly origin: string,
    private readonly opts: PoolOptions,
  ) {
    const url = new URL(origin);
    this.tls = url.protocol === 'https:';
    this.host = url.hostname.replace(/^\[|\]$/g, '');
    this.port = Number(url.port || (this.tls ? 443 : 80));
  }

  /** Connections open right now (busy + idle). */
  get size(): number {
    return this.sockets.size;
  }

  /** Lends a connection to `owner` (now, or when one frees up). */
  acquire(owner: SocketOwner): void {
    if (this.closing) {
      owner.onSocket(poolClosedError(), null, false);
      return;
    }
    for (let s = this.idle.pop(); s !== undefined; s = this.idle.pop()) {
      if (s.destroyed || !s.writable) continue;
      this.lend(s, owner, true);
      return;
    }
    if (this.sockets.size < this.opts.connections) this.dial(owner);
    else this.waiting.push(owner);
  }

  /** Takes a connection back after an exchange; `reusable` false closes it. */
  release(socket: Socket, reusable: boolean): void {
    const s = socket as PooledSocket;
    s[STATE].owner = null;
    // The last owner may have paused it for a slow client; an idle one must be read (EOF, strays).
    if (s.isPaused()) s.resume();
    if (!reusable || this.closing || s.destroyed || !s.writable) {
      s.destroy(); // 'close' → forget() → a waiter gets a fresh connection
      return;
    }
    const next = this.waiting.shift();
    if (next !== undefined) {
      this.lend(s, next, true);
      return;
    }
    s.setTimeout(this.opts.keepAliveMs);
    this.idle.push(s);
  }

  /** Bookkeeping when a socket closed, whatever the reason. */
  forget(s: Socket): void {
    const p = s as PooledSocket;
    if (!this.sockets.delete(p)) return;
    const i = this.idle.indexOf(p);
    if (i !== -1) this.idle.splice(i, 1);
    if (this.waiting.length > 0 && !this.closing) this.dial(this.waiting.shift()!);
    if (this.closing && this.sockets.size === 0) this.closed?.();
  }

  /** Stops lending, closes idle connections, and resolves once the busy ones are done. */
  close(): Promise<void> {
    this.closing = true;
    for (const owner of this.waiting.splice(0)) owner.onSocket(poolClosedError(), null, false);
    for (const s of this.idle.splice(0)) s.destroy();
    if (this.sockets.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.closed = resolve;
    });
  }

  /** Cuts every connection, busy ones included (their exchanges fail). */
  destroy(): void {
    this.closing = true;
    for (const owner of this.waiting.splice(0)) owner.onSocket(poolClosedError(), null, false);
    this.idle.length = 0;
    for (const s of this.sockets) s.destroy();
  }

  private lend(s: PooledSocket, owner: SocketOwner, reused: boolean): void {
    s[STATE].owner = owner;
    s.setTimeout(0);
    owner.onSocket(null, s, reused);
  }

  private dial(owner: SocketOwner): void {
    const s = (
      this.tls
        ? tlsConnect({ host: this.host, port: this.port, servername: this.host, ALPNProtocols: ['http/1.1'] })
        : netConnect(this.port, this.host)
    ) as PooledSocket;
    const state: SocketState = { pool: this, owner: null, error: undefined };
    s[STATE] = state;
    this.sockets.add(s);
    s.setNoDelay(true);
    s.on('error', onError);
    s.on('close', onClose);

    // Until connected, failures go to the dialing owner; afterwards the shared listeners run.
    const connectTimer = setTimeout(() => {
      s.destroy(Object.assign(new Error('connect timeout'), { code: 'E_CONNECT_TIMEOUT' }));
    }, this.opts.connectTimeoutMs);
    const failed = (): void => {
      clearTimeout(connectTimer);
      owner.onSocket(state.error ?? Object.assign(new Error('connection closed while connecting'), { code: 'ECONNRESET' }), null, false);
    };
    s.once('close', failed);
    s.once(this.tls ? 'secureConnect' : 'connect', () => {
      clearTimeout(connectTimer);
      s.off('close', failed);
      s.on('data', onData);
      s.on('end', onEnd);
      s.on('timeout', onTimeout);
      this.lend(s, owner, false);
    });
  }
}
