/**
 * Defence in depth for the engines' argv: whatever the edges (API bodies, preview configs,
 * manifests) let through, the podman/docker driver checks every value it is about to put in an
 * engine's argv against what that value may be, and refuses the call (E_BAD_REQUEST) before any
 * process runs. The argv builders (oci-args.ts) additionally end the options with `--` and pass
 * values as `--flag=value`, so a value that slipped past both could still not read as an option.
 * Pure: each check answers a problem in words, or null.
 */
import { isIP } from 'node:net';
import path from 'node:path';
import { imageRefProblem, quoteValue } from '../../domain/image-ref.js';
import { BerthError } from '../../errors.js';
import { networkProblem, volumeProblem, type WorkloadSpec } from '../runtime.js';

/** Container names and refs (ids or names): what both engines accept as a name, so never `-…`. */
export const CONTAINER_REF_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,252}$/;
/** Environment variable names: a C identifier (no `=`, which would split the pair, no `-`). */
export const ENV_KEY_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Label keys: reverse-DNS style (`berth.kind`, `io.example/x`), starting with a letter or digit. */
export const LABEL_KEY_RE = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$/;
/** What a value in argv may never hold: NUL cannot be passed at all; the rest breaks `k=v` lines. */
const CONTROL_RE = /[\x00-\x08\x0a-\x1f\x7f]/;

/** Why `ref` cannot name a container, or null. */
export function refProblem(ref: string): string | null {
  return CONTAINER_REF_RE.test(ref) ? null : `invalid container reference ${quoteValue(ref)}: letters, digits, "_", "." and "-", not starting with "-"`;
}

/** Why `env` cannot be passed (a bad name, a NUL in a value), or null. */
export function envProblem(env: Record<string, string>): string | null {
  for (const [k, v] of Object.entries(env)) {
    if (!ENV_KEY_RE.test(k)) return `invalid env name ${quoteValue(k)}: letters, digits and "_", not starting with a digit`;
    if (v.includes('\0')) return `env ${k} contains a NUL character`;
  }
  return null;
}

/** Why `labels` cannot be passed or filtered on, or null. */
export function labelsProblem(labels: Record<string, string>): string | null {
  for (const [k, v] of Object.entries(labels)) {
    if (!LABEL_KEY_RE.test(k)) return `invalid label key ${quoteValue(k)}: letters, digits, ".", "_", "/" and "-", not starting with "-"`;
    if (CONTROL_RE.test(v)) return `label ${k} contains a control character`;
  }
  return null;
}

/** Why an argv for the workload's own command (or exec) cannot be passed, or null: only NUL is impossible. */
export function commandProblem(argv: readonly string[]): string | null {
  const i = argv.findIndex((a) => a.includes('\0'));
  return i < 0 ? null : `command argument ${i} contains a NUL character`;
}

/** Why a host path Berth passes (build context, Containerfile, mounted file) is unusable: it must be absolute. */
export function hostPathProblem(what: string, p: string): string | null {
  if (!path.isAbsolute(p) || CONTROL_RE.test(p) || p.includes(':') || p.includes(',')) return `${what} ${quoteValue(p)} must be an absolute path without ":" or ","`;
  return null;
}

/** Every check of a create spec, in the order the argv uses the values. */
export function specProblem(spec: WorkloadSpec): string | null {
  if (!CONTAINER_REF_RE.test(spec.name)) return `invalid workload name ${quoteValue(spec.name)}: letters, digits, "_", "." and "-", not starting with "-"`;
  const checks: (() => string | null)[] = [
    () => labelsProblem(spec.labels),
    () => envProblem(spec.env),
    () => spec.ports.some((p) => !validPort(p.hostPort) || !validPort(p.containerPort)) ? 'ports must be integers from 1 to 65535' : null,
    () => {
      const bad = (spec.dnsServers ?? []).find((d) => isIP(d) === 0);
      return bad === undefined ? null : `invalid DNS server ${quoteValue(bad)}: an IP address`;
    },
    () => {
      const { cpus, memoryMb } = spec.resources ?? {};
      if (cpus !== undefined && !(Number.isFinite(cpus) && cpus > 0)) return 'cpus must be a positive number';
      if (memoryMb !== undefined && !(Number.isInteger(memoryMb) && memoryMb > 0)) return 'memoryMb must be a positive integer';
      return null;
    },
    () => {
      for (const f of spec.files ?? []) {
        const bad = hostPathProblem('mounted file', f.hostPath) ?? hostPathProblem('mount target', f.containerPath);
        if (bad) return bad;
      }
      return null;
    },
    () => volumeProblem(spec.volumes ?? []),
    () => (spec.network ? networkProblem(spec.network) : null),
    () => imageRefProblem(spec.image),
    () => commandProblem(spec.command ?? []),
  ];
  for (const check of checks) {
    const problem = check();
    if (problem) return problem;
  }
  return null;
}

function validPort(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && n <= 65535;
}

/** The error for a value that must not reach `<bin> <verb>`'s argv: refused before any process runs. */
export function argvRefusal(bin: string, verb: string, problem: string): BerthError {
  return new BerthError('E_BAD_REQUEST', `${bin} ${verb} refused: ${problem}`, {
    hint: 'engine arguments take names, references and paths of a fixed shape; a value that could read as an option is never passed',
  });
}
