/**
 * Volumes on the process runtime, which cannot mount: a volume is a host directory, and the paths a
 * workload is given (env values, command arguments) are rewritten from the volume's target to it.
 */

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
