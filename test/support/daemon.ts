import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import type { BerthConfig } from '../../src/config/schema.js';
import { startDaemon, type Daemon } from '../../src/daemon.js';
import { silentLogger, createLogger } from '../../src/log.js';
import { rangeStartBelowEphemeral } from './free-port.js';

/** Password of `admin` in test daemons. */
export const TEST_ADMIN_PASSWORD = 'test-admin-password';

export interface TestDaemon {
  daemon: Daemon;
  config: BerthConfig;
  dataDir: string;
  /** Calls the API with the daemon's token (unless `token: null`) and parses JSON answers. */
  api(method: string, urlPath: string, body?: unknown, opts?: { token?: string | null; headers?: Record<string, string> }): Promise<{ status: number; body: any; headers: Headers }>;
  stop(): Promise<void>;
}

/**
 * A port range nobody else in this test run uses: tests run one file at a time, but leftovers of a
 * crashed run may still hold ports. Below the kernel's ephemeral range, which sockets take ports from.
 */
export function randomPortRange(size = 200): { portRangeStart: number; portRangeEnd: number } {
  const start = rangeStartBelowEphemeral(size, 100);
  return { portRangeStart: start, portRangeEnd: start + size - 1 };
}

/**
 * Starts a real daemon in-process on an ephemeral loopback port with a fresh data dir.
 * Logs are silent unless BERTH_TEST_VERBOSE is set.
 */
export async function startTestDaemon(overrides: Partial<Record<keyof BerthConfig, unknown>> = {}): Promise<TestDaemon> {
  const dataDir = (overrides.dataDir as string | undefined) ?? mkdtempSync(path.join(tmpdir(), 'berth-test-'));
  const config = loadConfig({}, {
    port: 0,
    host: '127.0.0.1',
    runtime: 'process',
    dataDir,
    adminPassword: TEST_ADMIN_PASSWORD,
    ...randomPortRange(),
    ...overrides,
  });
  const log = process.env.BERTH_TEST_VERBOSE ? createLogger('debug') : silentLogger();
  const daemon = await startDaemon(config, log);
  return {
    daemon,
    config,
    dataDir,
    async api(method, urlPath, body, opts = {}) {
      const headers: Record<string, string> = { accept: 'application/json', ...opts.headers };
      const token = opts.token === undefined ? daemon.token : opts.token;
      if (token) headers.authorization = `Bearer ${token}`;
      if (body !== undefined) headers['content-type'] = 'application/json';
      const res = await fetch(daemon.url + urlPath, {
        method,
        headers,
        ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
      });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch {
        // not JSON (logs, HTML pages): keep the text
      }
      return { status: res.status, body: parsed, headers: res.headers };
    },
    async stop() {
      // Remove every workload this daemon made, then the daemon and its data.
      for (const ws of daemon.workspaces.list()) await daemon.workspaces.remove(ws.id).catch(() => {});
      // Apps: dependents were installed after their dependencies, so remove newest first.
      for (const app of daemon.apps.list().reverse()) await daemon.apps.uninstall(app.name, { purge: false }).catch(() => {});
      await daemon.close();
      if (!overrides.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
