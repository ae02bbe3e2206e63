/**
 * `listVolumes` for the podman and docker CLIs: names from `volume ls` filtered by label, then
 * `volume inspect` for labels and mountpoint (both engines print the same JSON array there, unlike
 * their `volume ls` formats), then the size on disk with `du` on the mountpoint (runtime/disk-usage.ts).
 */
import type { BerthError } from '../../errors.js';
import { diskUsage } from '../disk-usage.js';
import { VOLUME_NAME_RE, type VolumeSummary } from '../runtime.js';

/** What the driver's `run` resolves to (a non-zero exit is not thrown). */
export interface VolumeRunResult {
  stdout: string;
  stderr: string;
  code: number | null;
}

/** argv for `<bin> volume ls` printing one name per line, filtered by every label. */
export function volumeLsArgs(labels: Record<string, string>): string[] {
  const args = ['volume', 'ls'];
  for (const [k, v] of Object.entries(labels)) args.push(`--filter=label=${k}=${v}`);
  args.push('--format={{.Name}}');
  return args;
}

interface RawVolume {
  Name?: unknown;
  Labels?: unknown;
  Mountpoint?: unknown;
}

/** `volume inspect` output (a JSON array on both engines) → name, labels, mountpoint. */
export function parseVolumeInspect(stdout: string): { name: string; labels: Record<string, string>; mountpoint: string | null }[] {
  let raw: unknown;
  try {
    raw = JSON.parse(stdout || '[]');
  } catch {
    return [];
  }
  if (!Array.isArray(raw)) return [];
  return (raw as RawVolume[]).flatMap((v) => {
    if (typeof v?.Name !== 'string') return [];
    const labels: Record<string, string> = {};
    if (v.Labels && typeof v.Labels === 'object') {
      for (const [k, val] of Object.entries(v.Labels as Record<string, unknown>)) if (typeof val === 'string') labels[k] = val;
    }
    return [{ name: v.Name, labels, mountpoint: typeof v.Mountpoint === 'string' && v.Mountpoint ? v.Mountpoint : null }];
  });
}

/**
 * The volumes carrying every label in `labels` (the driver checked them with its argv guard);
 * `fail` turns a failed call into the driver's error.
 */
export async function listEngineVolumes<R extends VolumeRunResult>(
  run: (argv: string[]) => Promise<R>,
  labels: Record<string, string>,
  fail: (verb: string, res: R) => BerthError,
): Promise<VolumeSummary[]> {
  const ls = await run(volumeLsArgs(labels));
  if (ls.code !== 0) throw fail('volume ls', ls);
  const names = ls.stdout.split('\n').map((s) => s.trim()).filter((s) => VOLUME_NAME_RE.test(s));
  if (names.length === 0) return [];
  let found = await run(['volume', 'inspect', '--', ...names]);
  let volumes = found.code === 0 ? parseVolumeInspect(found.stdout) : null;
  if (!volumes) {
    // One went away between ls and inspect (podman then prints nothing): ask one by one.
    volumes = [];
    for (const name of names) {
      found = await run(['volume', 'inspect', '--', name]);
      if (found.code === 0) volumes.push(...parseVolumeInspect(found.stdout));
    }
  }
  // The filter is the engine's; checked again so a label-less answer is never taken for a match.
  const matching = volumes.filter((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val));
  return Promise.all(matching.map(async (v) => ({ name: v.name, labels: v.labels, sizeBytes: v.mountpoint ? await diskUsage(v.mountpoint) : null })));
}
