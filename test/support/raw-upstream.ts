/**
 * Raw TCP fixtures for the edge's fault paths: an upstream whose every byte the test scripts
 * (a status line split across writes, a reset after `101`), a listener that never accepts (so a
 * connect hangs until the edge's own timeout), and a raw WebSocket client. Loopback only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

export interface RawUpstream {
  port: number;
  server: Server;
  /** Connections accepted so far, in order; each collects what the edge sent on it. */
  conns: { socket: Socket; received: () => Buffer; closed: Promise<void> }[];
  close(): Promise<void>;
}

/** A TCP upstream that records every byte; `onConnection` decides what it answers. */
export async function startRawUpstream(onConnection: (socket: Socket) => void = () => {}): Promise<RawUpstream> {
  const conns: RawUpstream['conns'] = [];
  const server = createServer((socket) => {
    const chunks: Buffer[] = [];
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', () => {});
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    conns.push({ socket, received: () => Buffer.concat(chunks), closed });
    onConnection(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    server,
    conns,
    close: async () => {
      for (const c of conns) c.socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * A loopback listener with a backlog of 0 that never accepts, its queue filled: further SYNs are
 * dropped, so a connect to it hangs (Node's own servers always accept, hence a Python child).
 */
export async function startBlackhole(): Promise<{ port: number; close(): void }> {
  const child: ChildProcess = spawn('python3', [
    '-c',
    'import socket,sys,time\ns=socket.socket()\ns.bind(("127.0.0.1",0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\nsys.stdin.read()',
  ]);
  const port = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
  });
  // Fill the accept queue; these stay pending until the child exits.
  const fillers = [0, 1, 2].map(() => connect(port, '127.0.0.1').on('error', () => {}));
  await new Promise((r) => setTimeout(r, 200));
  return {
    port,
    close: () => {
      for (const f of fillers) f.destroy();
      child.kill();
    },
  };
}

/** The upgrade request a browser would send for `path`. */
export function upgradeRequest(path: string, host: string): string {
  return (
    `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n'
  );
}

/** A short text frame; `masked` as a client must send it. */
export function textFrame(text: string, masked: boolean): Buffer {
  const payload = Buffer.from(text);
  if (!masked) return Buffer.concat([Buffer.from([0x81, payload.length]), payload]);
  const mask = Buffer.from([1, 2, 3, 4]);
  const body = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!));
  return Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, body]);
}

/** A binary frame of `size` bytes (64-bit length), unmasked as a server sends it. */
export function bigServerFrame(size: number): Buffer {
  const head = Buffer.alloc(10);
  head[0] = 0x82;
  head[1] = 127;
  head.writeBigUInt64BE(BigInt(size), 2);
  return Buffer.concat([head, Buffer.alloc(size, 0x61)]);
}

/** A raw client socket that collects what it receives. */
export function rawClient(port: number): { socket: Socket; received: () => Buffer; closed: Promise<void> } {
  const socket = connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  socket.on('data', (d: Buffer) => chunks.push(d));
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return { socket, received: () => Buffer.concat(chunks), closed };
}

export const SWITCH = 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n';
