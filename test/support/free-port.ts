import { createServer } from 'node:net';

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
    const base = 30000 + Math.floor(Math.random() * 100) * (size * count);
    const ranges = Array.from({ length: count }, (_, i) => ({ portRangeStart: base + i * size, portRangeEnd: base + (i + 1) * size - 1 }));
    let free = true;
    for (const r of ranges) for (let p = r.portRangeStart; free && p < r.portRangeStart + checked; p++) free = await loopbackPortFree(p);
    if (free) return ranges;
  }
  throw new Error('no free port ranges found');
}
