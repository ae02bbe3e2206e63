/**
 * Where a workspace's data volume is mounted inside its workload (`--data-path`, default
 * `/workspace`). The path becomes part of an engine's `-v name:path` argument and, on the process
 * runtime, a prefix rewritten in env and command (runtime/process/volumes.ts), so it is checked
 * strictly here, before anything is stored. Pure: no I/O.
 */

/** The default data path when neither the request nor BERTH_WORKSPACE_DATA_PATH names one. */
export const DEFAULT_DATA_PATH = '/workspace';

/** Letters, digits and `._@+~-` per segment: nothing an engine's `-v a:b:opts` syntax or a shell would split on. */
const SEGMENT_RE = /^[A-Za-z0-9._@+~-]{1,128}$/;

/**
 * Directories a volume must not hide: mounting over them breaks the workload (an empty volume
 * over `/usr`), hands it a writable view of what the engine mounts there (`/proc`, `/sys`, `/dev`),
 * or covers the `berth-url` helper Berth mounts into every workspace.
 */
const REFUSED_EXACT = new Set([
  '/bin', '/boot', '/etc', '/lib', '/lib32', '/lib64', '/libx32', '/sbin', '/usr', '/usr/bin', '/usr/sbin',
  '/usr/lib', '/usr/local', '/usr/local/bin', '/usr/local/bin/berth-url', '/var', '/run', '/tmp',
]);
/** …and neither anything beneath these. */
const REFUSED_TREES = ['/proc', '/sys', '/dev'];

/** What to write instead, for every refusal. */
export const DATA_PATH_HINT = 'give an absolute directory like /workspace or /home/dev/project (letters, digits, "._@+~-" per segment, no "..")';

/** Why `p` cannot be a data path, or null when it can. */
export function dataPathProblem(p: unknown): string | null {
  if (typeof p !== 'string' || p.length === 0) return 'the data path must be a non-empty string';
  if (p.length > 255) return 'the data path must be at most 255 characters';
  if (!p.startsWith('/')) return `data path ${JSON.stringify(p)} is not absolute`;
  if (p === '/') return 'the data path must not be "/" (the volume would hide the whole image)';
  const segments = p.slice(1).split('/');
  for (const s of segments) {
    if (s === '') return `data path ${JSON.stringify(p)} has an empty segment ("//" or a trailing "/")`;
    if (s === '.' || s === '..') return `data path ${JSON.stringify(p)} contains "${s}"`;
    if (!SEGMENT_RE.test(s)) return `data path ${JSON.stringify(p)} contains characters other than letters, digits and "._@+~-"`;
  }
  if (REFUSED_EXACT.has(p)) return `data path ${p} is a system directory the volume would hide`;
  const tree = REFUSED_TREES.find((t) => p === t || p.startsWith(`${t}/`));
  if (tree) return `data path ${p} is under ${tree}, which the engine provides`;
  return null;
}
