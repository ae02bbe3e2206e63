/**
 * Picks the runtime driver at start-up and explains the choice, so `berth up` can say why it runs
 * containers with podman, or why it fell back to plain processes.
 */
import { isBerthError } from '../errors.js';
import { createDockerRuntime, createPodmanRuntime } from './oci/engines.js';
import { createProcessRuntime, type ProcessRuntimeOptions } from './process/process-runtime.js';
import type { Runtime, RuntimeContext, RuntimeName } from './runtime.js';

/** `auto` tries podman, then docker, then falls back to the process runtime. */
export type RuntimeMode = 'auto' | RuntimeName;

/** Per-driver settings; everything optional. */
export interface SelectRuntimeOptions {
  /** podman binary, absolute or on PATH (default `podman`). */
  podmanBin?: string;
  /** docker binary, absolute or on PATH (default `docker`). */
  dockerBin?: string;
  process?: ProcessRuntimeOptions;
}

/** The chosen driver and a one-line account of how it was chosen (for the start-up log and /api/status). */
export interface SelectedRuntime {
  runtime: Runtime;
  reason: string;
}

/**
 * Chooses a runtime for `mode`. E.g. reasons: "auto: podman 4.3.1 answered `podman info`";
 * "auto: podman not found (ENOENT), docker: Cannot connect to the Docker daemon…, falling back to
 * process (no isolation)". An explicit mode must work: its probe failure is thrown as the
 * driver's BerthError (E_RUNTIME_UNAVAILABLE). `auto` never throws for an absent engine; it records
 * why each engine was passed over in `reason`.
 */
export async function selectRuntime(mode: RuntimeMode, ctx: RuntimeContext, opts: SelectRuntimeOptions = {}): Promise<SelectedRuntime> {
  // Factories are deferred so that only the chosen driver is created (the process driver warns
  // about its lack of isolation when created).
  const candidates: Record<RuntimeName, () => Runtime> = {
    podman: () => createPodmanRuntime(ctx, { ...(opts.podmanBin ? { bin: opts.podmanBin } : {}) }),
    docker: () => createDockerRuntime(ctx, { ...(opts.dockerBin ? { bin: opts.dockerBin } : {}) }),
    process: () => createProcessRuntime(ctx, opts.process ?? {}),
  };

  if (mode !== 'auto') {
    const runtime = candidates[mode]();
    const answered = await runtime.probe();
    return { runtime, reason: `${mode}: chosen explicitly; ${describe(mode, answered)}` };
  }

  const passedOver: string[] = [];
  for (const name of ['podman', 'docker'] as const) {
    const runtime = candidates[name]();
    try {
      const answered = await runtime.probe();
      const skipped = passedOver.length ? `${passedOver.join(', ')}; ` : '';
      return { runtime, reason: `auto: ${skipped}${describe(name, answered)}` };
    } catch (err) {
      if (!isBerthError(err) || err.code !== 'E_RUNTIME_UNAVAILABLE') throw err;
      const words = firstLine(err.message);
      // "podman not found (ENOENT)" already names the engine.
      passedOver.push(words.startsWith(`${name} `) ? words : `${name}: ${words}`);
    }
  }
  const runtime = candidates.process();
  await runtime.probe();
  return { runtime, reason: `auto: ${passedOver.join(', ')}, falling back to process (no isolation)` };
}

function describe(name: RuntimeName, answered: string | void): string {
  const who = answered || name;
  return name === 'process' ? `${who}` : `${who} answered \`${name} info\``;
}

/** Engine messages can span lines (hints, retries); the reason stays one line. */
function firstLine(text: string): string {
  return (text.split('\n').find((l) => l.trim() !== '') ?? text).trim();
}
