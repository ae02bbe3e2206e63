/**
 * CPU and memory limits of a workspace, checked against the runtime and the host before anything
 * is created. The API's schema refuses malformed values (0, negative, `12 parsecs`); this refuses
 * the well-formed ones this installation cannot honour.
 */
import { availableParallelism, totalmem } from 'node:os';
import { BerthError } from '../errors.js';
import { CPUS_HINT, cpusProblem, limitsOverHost, MEMORY_HINT, MIN_MEMORY_MB, type HostCapacity } from '../domain/resources.js';
import type { RuntimeCapabilities, RuntimeName } from '../runtime/runtime.js';

/** Limits as given at create; undefined or null: none. */
export interface LimitsInput {
  cpus?: number | null | undefined;
  memoryMb?: number | null | undefined;
}

/** This machine's CPUs and memory (the engines run here: published ports are on its loopback). */
export function localCapacity(): HostCapacity {
  return { cpus: availableParallelism(), memoryMb: Math.floor(totalmem() / (1024 * 1024)) };
}

/**
 * The limits to store and apply, or a BerthError with what to do:
 * - E_BAD_REQUEST for values no engine accepts (below 0.01 CPU or 6 MB), for callers past the API;
 * - E_LIMITS_UNSUPPORTED when the runtime cannot enforce limits (process): refused, never ignored,
 *   so nobody believes a workload is capped when it is not;
 * - E_LIMITS_EXCEED_HOST when a limit is above what the host has (no limit at all, and usually a
 *   slip of the unit: 512g for 512m).
 */
export function checkLimits(
  input: LimitsInput,
  runtime: { name: RuntimeName; capabilities: Pick<RuntimeCapabilities, 'resources'> },
  host: HostCapacity = localCapacity(),
): { cpus: number | null; memoryMb: number | null } {
  const cpus = input.cpus ?? null;
  const memoryMb = input.memoryMb ?? null;
  if (cpus === null && memoryMb === null) return { cpus, memoryMb };
  if (cpus !== null) {
    const problem = cpusProblem(cpus);
    if (problem) throw new BerthError('E_BAD_REQUEST', problem, { hint: CPUS_HINT });
  }
  if (memoryMb !== null && !(Number.isInteger(memoryMb) && memoryMb >= MIN_MEMORY_MB)) {
    throw new BerthError('E_BAD_REQUEST', `memoryMb must be a whole number of megabytes, at least ${MIN_MEMORY_MB}`, { hint: MEMORY_HINT });
  }
  if (!runtime.capabilities.resources) {
    throw new BerthError('E_LIMITS_UNSUPPORTED', `the ${runtime.name} runtime cannot limit CPU or memory: its workloads are plain host processes`, {
      hint: 'create the workspace without --cpus/--memory, or run Berth on podman or docker (BERTH_RUNTIME) to cap workspaces',
    });
  }
  const over = limitsOverHost({ cpus, memoryMb }, host);
  if (over) {
    throw new BerthError('E_LIMITS_EXCEED_HOST', over, {
      hint: `give at most ${host.cpus} CPUs and ${host.memoryMb}m of memory (or leave the limit out: no limit)`,
    });
  }
  return { cpus, memoryMb };
}
