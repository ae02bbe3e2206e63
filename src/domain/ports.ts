/**
 * Picks the `count` lowest ports in [start, end] not in `used`, or null when there are not
 * enough. Pure: the store calls it inside a transaction so two creates never share a port.
 */
export function pickFreePorts(used: ReadonlySet<number>, start: number, end: number, count: number): number[] | null {
  const picked: number[] = [];
  for (let p = start; p <= end && picked.length < count; p++) {
    if (!used.has(p)) picked.push(p);
  }
  return picked.length === count ? picked : null;
}
