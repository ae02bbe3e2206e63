/**
 * A throwaway Redis for tests: `redis-server` on a free loopback port, no persistence, a password
 * (so the URL's credentials are exercised), stopped and cleaned up by `stop()`.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connectResp } from '../../src/infra/resp.js';
import { freeLoopbackPort } from './free-port.js';

export interface TestRedis {
  /** `redis://:password@127.0.0.1:port` */
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** Path of `redis-server` on PATH, or null (the test then skips with a reason). */
export function findRedisServer(): string | null {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, 'redis-server');
    if (dir && existsSync(candidate)) return candidate;
  }
  return null;
}

export async function startRedis(opts: { bin?: string; databases?: number } = {}): Promise<TestRedis> {
  const dir = await mkdtemp(path.join(tmpdir(), 'berth-redis-'));
  const port = await freeLoopbackPort();
  const password = randomBytes(18).toString('base64url');
  const argv = [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--save', '',
    '--appendonly', 'no',
    '--dir', dir,
    '--databases', String(opts.databases ?? 16),
    '--requirepass', password,
  ];
  const child = spawn(opts.bin ?? 'redis-server', argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (d: Buffer): void => {
    output = (output + d.toString()).slice(-4000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const spawnError = new Promise<never>((_, reject) => child.once('error', reject));
  const url = `redis://:${password}@127.0.0.1:${port}`;

  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };

  try {
    await Promise.race([waitForRedis(url, () => child.exitCode !== null, () => output), spawnError]);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, port, stop };
}

async function waitForRedis(url: string, died: () => boolean, log: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (died()) throw new Error(`redis-server exited during startup:\n${log()}`);
    try {
      const conn = await connectResp(url, { timeoutMs: 1000 });
      await conn.command(['PING']);
      await conn.close();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`redis-server did not answer in 10 s: ${(err as Error).message}\n${log()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
