/**
 * Assertions and waits shared by the runtime conformance suites (runtime.suite.ts,
 * runtime-networks.suite.ts).
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { isBerthError, type ErrorCode } from '../errors.js';
import type { ExecResult, ExecSession } from './runtime.js';

export function asResult(r: ExecResult | ExecSession): ExecResult {
  assert.equal(r.kind, 'result');
  return r as ExecResult;
}

/** Asserts `p` rejects with a BerthError of `code` and returns it. */
export async function rejectsWith(p: Promise<unknown>, code: ErrorCode): Promise<Error> {
  try {
    await p;
  } catch (err) {
    assert.ok(isBerthError(err), `expected a BerthError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return err;
  }
  assert.fail(`expected ${code}, but it resolved`);
}

/** Retries `fn` until it stops throwing (workloads take a moment to start and print). */
export async function eventually<T>(fn: () => Promise<T> | T, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(100);
    }
  }
}

export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(what)), ms)));
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export async function readAll(stream: Readable): Promise<string> {
  let text = '';
  for await (const chunk of stream) text += String(chunk);
  return text;
}

/** A port in 19000–19999 that nothing listens on right now (random start so parallel runs differ). */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const port = 19000 + Math.floor(Math.random() * 1000);
    const free = await new Promise<boolean>((resolve) => {
      const srv = createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error('no free port in 19000–19999');
}
