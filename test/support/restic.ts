/** Whether the restic CLI answers (the backup suites skip loudly without it; CI requires it). */
import { execFileSync } from 'node:child_process';

export function resticAvailable(): boolean {
  try {
    execFileSync('restic', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
