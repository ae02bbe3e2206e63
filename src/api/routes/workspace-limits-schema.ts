/**
 * The `cpus` / `memory` / `memoryMb` fields of `POST /api/workspaces`: malformed values (0,
 * negative, `lots`) are refused here with a hint; values the runtime or the host cannot honour are
 * refused by the service (services/workspace-limits.ts).
 */
import { z } from 'zod';
import { BerthError } from '../../errors.js';
import { CPUS_HINT, cpusProblem, MEMORY_HINT, MIN_MEMORY_MB, parseMemoryMb } from '../../domain/resources.js';

const cpus = z.number({ error: 'cpus must be a number of CPUs' }).superRefine((n, ctx) => {
  const problem = cpusProblem(n);
  if (problem) ctx.addIssue({ code: 'custom', message: problem, params: { hint: CPUS_HINT } });
});

/** `"512m"`, `"2g"`, or a number of megabytes → whole megabytes. */
const memory = z.union([z.string().max(32), z.number()], { error: 'memory must be a size like "512m" or a number of megabytes' }).transform((v, ctx) => {
  const parsed = parseMemoryMb(v);
  if ('problem' in parsed) {
    ctx.addIssue({ code: 'custom', message: parsed.problem, params: { hint: MEMORY_HINT } });
    return z.NEVER;
  }
  return parsed.mb;
});

const memoryMb = z.number().superRefine((n, ctx) => {
  if (!(Number.isInteger(n) && n >= MIN_MEMORY_MB)) {
    ctx.addIssue({ code: 'custom', message: `memoryMb must be a whole number of megabytes, at least ${MIN_MEMORY_MB}`, params: { hint: MEMORY_HINT } });
  }
});

/** Spread into a body schema: `cpus`, `memory` (a size) and `memoryMb` (megabytes), all optional. */
export const limitsFields = { cpus: cpus.optional(), memory: memory.optional(), memoryMb: memoryMb.optional() };

/** The limits of a parsed body; `memory` and `memoryMb` together are refused (which one was meant?). */
export function limitsOf(body: { cpus?: number | undefined; memory?: number | undefined; memoryMb?: number | undefined }): { cpus?: number; memoryMb?: number } {
  if (body.memory !== undefined && body.memoryMb !== undefined) {
    throw new BerthError('E_BAD_REQUEST', 'give memory or memoryMb, not both', { hint: 'memory takes a size like "512m"; memoryMb a number of megabytes' });
  }
  const mb = body.memory ?? body.memoryMb;
  return { ...(body.cpus !== undefined ? { cpus: body.cpus } : {}), ...(mb !== undefined ? { memoryMb: mb } : {}) };
}
