/**
 * Volumes on the process runtime, which cannot mount: a volume is a host directory, and the paths a
 * workload is given (env values, command arguments) are rewritten from the volume's target to it.
 */
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { diskUsage } from '../disk-usage.js';
import { VOLUME_NAME_RE, type VolumeSummary } from '../runtime.js';

/**
 * `value` with a leading volume target (`/data` or `/data/…`) replaced by the volume's host
 * directory; anything else unchanged. The longest matching target wins (`/data/cache` before `/data`).
 */
export function substituteVolumes(value: string, volumes: readonly { name: string; target: string }[], dirOf: (name: string) => string): string {
  let best: { name: string; target: string } | undefined;
  for (const v of volumes) {
    if ((value === v.target || value.startsWith(`${v.target}/`)) && v.target.length > (best?.target.length ?? 0)) best = v;
  }
  return best ? dirOf(best.name) + value.slice(best.target.length) : value;
}

/**
 * The process driver's volume store under `dataDir`: `volumes/<name>/` holds the data and
 * `volume-labels/<name>.json` the labels of the workload that made it (what an engine keeps with a
 * volume), so `list` can say whose a kept volume was. Names are checked by the driver (VOLUME_NAME_RE).
 */
export function processVolumes(dataDir: string) {
  const root = path.join(path.resolve(dataDir), 'volumes');
  const labelsRoot = path.join(path.resolve(dataDir), 'volume-labels');
  const dir = (name: string): string => path.join(root, name);
  const labelsFile = (name: string): string => path.join(labelsRoot, `${name}.json`);
  return {
    dir,
    /** Makes the volume's directory; a new volume gets `labels`, an existing one keeps its own. */
    async ensure(name: string, labels: Record<string, string>): Promise<void> {
      await mkdir(dir(name), { recursive: true, mode: 0o700 });
      await mkdir(labelsRoot, { recursive: true, mode: 0o700 });
      await writeFile(labelsFile(name), JSON.stringify(labels), { flag: 'wx', mode: 0o600 }).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST') throw err;
      });
    },
    /** Deletes the data and the labels; nothing there is fine. */
    async remove(name: string): Promise<void> {
      await rm(dir(name), { recursive: true, force: true });
      await rm(labelsFile(name), { force: true });
    },
    /** Every volume whose labels include all of `filter`, with its size (`du`). */
    async list(filter: Record<string, string>): Promise<VolumeSummary[]> {
      const names = await readdir(root).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return [] as string[];
        throw err;
      });
      const out: VolumeSummary[] = [];
      for (const name of names.filter((n) => VOLUME_NAME_RE.test(n)).sort()) {
        const labels = await readFile(labelsFile(name), 'utf8').then((s) => JSON.parse(s) as Record<string, string>, () => ({}) as Record<string, string>);
        if (!Object.entries(filter).every(([k, v]) => labels[k] === v)) continue;
        out.push({ name, labels, sizeBytes: await diskUsage(dir(name)) });
      }
      return out;
    },
  };
}
