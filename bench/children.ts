/**
 * Processes a benchmark starts beside itself (upstreams, edges, nginx): free loopback ports,
 * waiting for a listener, and children that print one JSON line (`{"port":N}`) when ready.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';

/** A loopback port nothing listens on right now. */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Resolves once something accepts connections on 127.0.0.1:port; throws after `ms`. */
export async function waitForPort(port: number, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`nothing listens on ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Starts a child that prints one JSON line when ready (recorded in `children` for cleanup); resolves that line. */
export async function startJsonChild<T = { port: number }>(children: ChildProcess[], cmd: string, argv: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<{ child: ChildProcess; info: T }> {
  const child = spawn(cmd, argv, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const rl = createInterface({ input: child.stdout! });
  const [line] = (await Promise.race([once(rl, 'line'), once(child, 'exit').then(() => [null])])) as [string | null];
  if (!line) throw new Error(`${cmd} ${argv.join(' ')} exited before it was ready`);
  return { child, info: JSON.parse(line) as T };
}

/**
 * The start of a benchmark nginx.conf: foreground, everything under `dir` (pid, logs, temp paths),
 * no access log; the caller appends its `upstream`/`server` blocks and the closing `}` of `http`.
 */
export function nginxPreamble(dir: string, workers: number | 'auto'): string {
  return `daemon off;
worker_processes ${workers};
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;`;
}
