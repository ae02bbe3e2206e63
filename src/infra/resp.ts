/**
 * A minimal Redis client (RESP2 over node:net / node:tls). Berth only talks to the shared Redis to
 * check it, read its settings and flush an app's database on purge, a handful of commands at
 * install/uninstall time; a full client (reconnects, pooling, cluster, RESP3, scripting) would be
 * a large dependency for that, and its reconnect loop would hide a down server that Berth should
 * report at once. Commands are pipelined in order; replies are matched FIFO.
 */
import net from 'node:net';
import tls from 'node:tls';
import { BerthError } from '../errors.js';

export type RespValue = string | number | null | Buffer | RespValue[];

/** An error reply (`-ERR …`) from the server. */
export class RespReplyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RespReplyError';
  }
}

export interface RespConnection {
  /**
   * Sends one command (`['SET', 'k', 'v']`) and resolves to its reply; error replies reject with
   * RespReplyError. Bulk strings come back as UTF-8 text, or as Buffers on a `binary` connection.
   */
  command(args: readonly (string | number | Buffer)[]): Promise<RespValue>;
  /** Sends QUIT and closes the socket. */
  close(): Promise<void>;
}

/** Parsed `redis://[[user]:password@]host[:port][/db]` (or `rediss://` for TLS). */
export interface RedisTarget {
  host: string;
  port: number;
  tls: boolean;
  username?: string | undefined;
  password?: string | undefined;
  db: number;
}

export function parseRedisUrl(url: string): RedisTarget {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new BerthError('E_CONFIG', 'the Redis URL is not a URL (expected redis://[:password@]host:port[/db])');
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new BerthError('E_CONFIG', `unsupported Redis URL scheme ${u.protocol}`);
  const dbPart = u.pathname.replace(/^\//, '');
  if (dbPart && !/^\d+$/.test(dbPart)) throw new BerthError('E_CONFIG', `the Redis URL path must be a database number, not "${dbPart}"`);
  return {
    host: u.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1',
    port: u.port ? Number(u.port) : 6379,
    tls: u.protocol === 'rediss:',
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    db: dbPart ? Number(dbPart) : 0,
  };
}

/** Connects, authenticates and selects the URL's database. Throws E_INFRA_UNAVAILABLE when it cannot. */
export async function connectResp(url: string, opts: { timeoutMs?: number; binary?: boolean } = {}): Promise<RespConnection> {
  const binary = opts.binary === true;
  const target = parseRedisUrl(url);
  const timeoutMs = opts.timeoutMs ?? 5000;
  const socket: net.Socket = target.tls
    ? tls.connect({ host: target.host, port: target.port, servername: net.isIP(target.host) ? undefined : target.host })
    : net.connect({ host: target.host, port: target.port });
  socket.setNoDelay(true);
  socket.setTimeout(timeoutMs);

  const pending: { resolve(v: RespValue): void; reject(e: Error): void }[] = [];
  let buffer: Buffer = Buffer.alloc(0);
  let failure: Error | null = null;

  const failAll = (err: Error): void => {
    failure ??= err;
    for (const p of pending.splice(0)) p.reject(failure);
    socket.destroy();
  };
  socket.on('data', (chunk: Buffer) => {
    buffer = buffer.length ? Buffer.concat([buffer, chunk]) : chunk;
    let offset = 0;
    for (;;) {
      let parsed: { value: RespValue | RespReplyError; end: number } | undefined;
      try {
        parsed = parseReply(buffer, offset, binary);
      } catch (err) {
        failAll(err as Error);
        return;
      }
      if (!parsed) break;
      offset = parsed.end;
      const waiter = pending.shift();
      if (!waiter) continue; // unsolicited data: ignore (we never subscribe)
      if (parsed.value instanceof RespReplyError) waiter.reject(parsed.value);
      else waiter.resolve(parsed.value);
    }
    buffer = buffer.subarray(offset);
  });
  socket.on('timeout', () => failAll(new Error(`Redis did not answer within ${timeoutMs} ms`)));
  socket.on('error', (err) => failAll(err));
  socket.on('close', () => failAll(new Error('Redis closed the connection')));

  await new Promise<void>((resolve, reject) => {
    const ready = target.tls ? 'secureConnect' : 'connect';
    socket.once(ready, () => resolve());
    socket.once('error', reject);
    socket.once('timeout', () => reject(new Error(`no connection within ${timeoutMs} ms`)));
  }).catch((err: unknown) => {
    throw new BerthError('E_INFRA_UNAVAILABLE', `cannot connect to the shared Redis at ${target.host}:${target.port}: ${(err as Error).message}`, {
      cause: err,
    });
  });

  const command = (args: readonly (string | number | Buffer)[]): Promise<RespValue> =>
    new Promise((resolve, reject) => {
      if (failure) return reject(failure);
      pending.push({ resolve, reject });
      socket.write(encodeCommand(args));
    });

  try {
    if (target.password !== undefined) {
      await command(target.username ? ['AUTH', target.username, target.password] : ['AUTH', target.password]);
    }
    if (target.db !== 0) await command(['SELECT', target.db]);
  } catch (err) {
    socket.destroy();
    throw new BerthError('E_INFRA_UNAVAILABLE', `the shared Redis refused the connection: ${(err as Error).message}`, { cause: err });
  }

  return {
    command,
    async close() {
      if (!failure) await command(['QUIT']).catch(() => {});
      socket.destroy();
    },
  };
}

/** Encodes a command as a RESP array of bulk strings. */
export function encodeCommand(args: readonly (string | number | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = Buffer.isBuffer(a) ? a : Buffer.from(String(a), 'utf8');
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/**
 * Parses one reply starting at `offset`; undefined when the buffer does not hold all of it yet.
 * Bulk strings are decoded as UTF-8, or kept as Buffers with `binary` (DUMP payloads, any key).
 */
export function parseReply(buf: Buffer, offset: number, binary = false): { value: RespValue | RespReplyError; end: number } | undefined {
  if (offset >= buf.length) return undefined;
  const lineEnd = buf.indexOf('\r\n', offset);
  if (lineEnd < 0) return undefined;
  const type = String.fromCharCode(buf[offset]!);
  const line = buf.toString('utf8', offset + 1, lineEnd);
  const next = lineEnd + 2;
  switch (type) {
    case '+':
      return { value: line, end: next };
    case '-':
      return { value: new RespReplyError(line), end: next };
    case ':':
      return { value: Number(line), end: next };
    case '$': {
      const len = Number(line);
      if (len < 0) return { value: null, end: next };
      if (buf.length < next + len + 2) return undefined;
      return { value: binary ? Buffer.from(buf.subarray(next, next + len)) : buf.toString('utf8', next, next + len), end: next + len + 2 };
    }
    case '*': {
      const count = Number(line);
      if (count < 0) return { value: null, end: next };
      const items: RespValue[] = [];
      let pos = next;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buf, pos, binary);
        if (!item) return undefined;
        // An error inside an array (EXEC) is kept as its message; Berth sends no transactions.
        items.push(item.value instanceof RespReplyError ? item.value.message : item.value);
        pos = item.end;
      }
      return { value: items, end: pos };
    }
    default:
      throw new Error(`unexpected RESP type byte ${JSON.stringify(type)}`);
  }
}
