import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** Lowest port Berth's test port ranges start from. */
const RANGES_FROM = 20000;

/**
 * First port of the kernel's ephemeral range (outgoing connections and `listen(0)` take ports from
 * it). Test port ranges stay below it: a workload publishing a port an ephemeral socket holds fails
 * with EADDRINUSE (seen: "listen tcp4 127.0.0.1:34202: bind: address already in use").
 */
export function ephemeralStart(): number {
  try {
    const first = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(first) && first > RANGES_FROM ? first : 32768;
  } catch {
    return 32768;
  }
}

/** A random multiple of `step` from RANGES_FROM such that `span` ports fit below the ephemeral range. */
export function rangeStartBelowEphemeral(span: number, step: number): number {
  const slots = Math.max(1, Math.floor((ephemeralStart() - RANGES_FROM - span) / step));
  return RANGES_FROM + Math.floor(Math.random() * slots) * step;
}

/** A loopback TCP port nothing listens on right now (the caller binds it next; a race is possible but rare). */
export async function freeLoopbackPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => resolve());
  });
  const address = s.address();
  await new Promise<void>((resolve) => s.close(() => resolve()));
  if (!address || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** Whether `port` can be bound on 127.0.0.1 right now. */
export function loopbackPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/**
 * `count` disjoint port ranges of `size` whose first `checked` ports are free right now, so daemons
 * started side by side do not fail on a port another test (or agent) holds.
 */
export async function freeRanges(count: number, size = 100, checked = 20): Promise<{ portRangeStart: number; portRangeEnd: number }[]> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = rangeStartBelowEphemeral(size * count, size * count);
    const ranges = Array.from({ length: count }, (_, i) => ({ portRangeStart: base + i * size, portRangeEnd: base + (i + 1) * size - 1 }));
    let free = true;
    for (const r of ranges) for (let p = r.portRangeStart; free && p < r.portRangeStart + checked; p++) free = await loopbackPortFree(p);
    if (free) return ranges;
  }
  throw new Error('no free port ranges found');
}
