/**
 * The `cpus` / `memory` / `memoryMb` fields of `POST /api/workspaces`: malformed values (0,
 * negative, `lots`) are refused here with a hint; values the runtime or the host cannot honour are
 * refused by the service (services/workspace-limits.ts).
 */
import { z } from 'zod';
import { BerthError } from '../../errors.js';
import { CPUS_HINT, cpusProblem, MEMORY_HINT, MIN_MEMORY_MB, parseMemoryMb } from '../../domain/resources.js';

/**
 * A field read by `read`, which returns the value or the problem; every refusal is a custom issue
 * carrying `hint`, so even a value of the wrong type (`"cpus": "1"`) says what to send.
 */
const field = <T>(hint: string, read: (v: unknown) => { ok: T } | { problem: string }) =>
  z.unknown().transform((v, ctx) => {
    const r = read(v);
    if ('problem' in r) {
      ctx.addIssue({ code: 'custom', message: r.problem, params: { hint } });
      return z.NEVER;
    }
    return r.ok;
  });

const cpus = field(CPUS_HINT, (v) => {
  if (typeof v !== 'number') return { problem: 'cpus must be a number of CPUs' };
  const problem = cpusProblem(v);
  return problem ? { problem } : { ok: v };
});

/** `"512m"`, `"2g"`, or a number of megabytes → whole megabytes. */
const memory = field(MEMORY_HINT, (v) => {
  if (typeof v === 'string' && v.length > 32) return { problem: 'memory is too long for a size' };
  if (typeof v !== 'string' && typeof v !== 'number') return { problem: 'memory must be a size like "512m" or a number of megabytes' };
  const parsed = parseMemoryMb(v);
  return 'problem' in parsed ? parsed : { ok: parsed.mb };
});

const memoryMb = field(MEMORY_HINT, (v) =>
  typeof v === 'number' && Number.isInteger(v) && v >= MIN_MEMORY_MB ? { ok: v } : { problem: `memoryMb must be a whole number of megabytes, at least ${MIN_MEMORY_MB}` },
);

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
