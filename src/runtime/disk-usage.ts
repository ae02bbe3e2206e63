/**
 * Size on disk of a directory tree, for `listVolumes`. `du` rather than a walk in Node: a volume
 * may hold a node_modules of 100 000 files, which du sums in a fraction of the time. The path is
 * the engine's (or the process driver's) own mountpoint, never a user's value, and is passed after
 * `--` to `execFile` — no shell.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/**
 * Bytes the files under `dir` take on disk (`du -s -B1 -x`), or null when it cannot be read (no
 * such directory — an engine on another host —, no permission, du missing, or slower than `timeoutMs`).
 */
export async function diskUsage(dir: string, timeoutMs = 30_000): Promise<number | null> {
  if (!dir.startsWith('/')) return null;
  try {
    const { stdout } = await execFileAsync('du', ['-s', '-B1', '-x', '--', dir], { timeout: timeoutMs });
    const bytes = Number(/^(\d+)\s/.exec(stdout)?.[1]);
    return Number.isSafeInteger(bytes) ? bytes : null;
  } catch {
    return null;
  }
}
