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
