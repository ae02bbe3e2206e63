import type { Runtime, WorkloadRef } from './runtime.js';

/**
 * The last `lines` lines a workload printed, as text, for error messages (a health check that
 * never passed, a server that exited). '' when the logs cannot be read: the caller is already
 * reporting a failure and must not fail differently because of its explanation.
 */
export async function logTail(runtime: Runtime, ref: WorkloadRef, lines: number): Promise<string> {
  try {
    let out = '';
    for await (const chunk of await runtime.logs(ref, { tail: lines })) out += String(chunk);
    return out;
  } catch {
    return '';
  }
}
