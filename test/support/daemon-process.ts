import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';

const root = path.resolve(import.meta.dirname, '../..');

/** Starts test/support/daemon-main.ts as its own process (so tests can kill -9 it); resolves with its URL once it listens. */
export function spawnDaemon(env: Record<string, string>): Promise<{ child: ChildProcess; url: string; appsUrl: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'test/support/daemon-main.ts')], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const m = /^READY (\S+) (\S+)/.exec(line);
      if (m) resolve({ child, url: m[1]!, appsUrl: m[2]! });
    });
    child.once('exit', (code) => reject(new Error(`daemon exited early with ${code}`)));
  });
}
