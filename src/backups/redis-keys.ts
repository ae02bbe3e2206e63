/**
 * One Redis database index (an app's) as a byte stream and back: every key with its remaining
 * time to live and its DUMP payload (Redis's own serialisation, restorable on the same or a newer
 * Redis), so values of every type and binary keys survive exactly. Restore flushes the index first
 * (the app's index is its own), then RESTOREs each key.
 *
 * Stream format, repeated per key: u32 key length, key bytes, i64 ms to live (0: none), u32
 * payload length, payload bytes. Big-endian; preceded by the 8-byte magic `BERTHRK1`.
 */
import { Readable } from 'node:stream';
import { BerthError } from '../errors.js';
import { connectResp, type RespConnection } from '../infra/resp.js';

const MAGIC = Buffer.from('BERTHRK1');

/** `redis://…` with the database index replaced by `db`. */
function urlForDb(url: string, db: number): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

/** A readable stream of every key of database `db` (SCAN, so the server is never blocked on KEYS). */
export async function dumpRedisDb(url: string, db: number): Promise<{ stream: Readable; keys: () => number }> {
  const conn = await connectResp(urlForDb(url, db), { binary: true, timeoutMs: 30_000 });
  let count = 0;
  async function* records(): AsyncGenerator<Buffer> {
    try {
      yield MAGIC;
      let cursor = '0';
      do {
        const [next, keys] = (await conn.command(['SCAN', cursor, 'COUNT', 500])) as [Buffer, Buffer[]];
        cursor = next.toString();
        for (const key of keys) {
          const payload = (await conn.command(['DUMP', key])) as Buffer | null;
          if (payload === null) continue; // expired or deleted since SCAN saw it
          const pttl = Number(await conn.command(['PTTL', key]));
          if (pttl === -2) continue;
          count++;
          yield record(key, pttl > 0 ? pttl : 0, payload);
        }
      } while (cursor !== '0');
    } catch (err) {
      throw new BerthError('E_BACKUP', `reading Redis database ${db} failed: ${(err as Error).message}`, { cause: err });
    } finally {
      await conn.close().catch(() => {});
    }
  }
  return { stream: Readable.from(records(), { objectMode: false }), keys: () => count };
}

function record(key: Buffer, pttl: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt32BE(key.length);
  const mid = Buffer.alloc(12);
  mid.writeBigInt64BE(BigInt(pttl), 0);
  mid.writeUInt32BE(payload.length, 8);
  return Buffer.concat([head, key, mid, payload]);
}

/** Replaces every key of database `db` with the keys in `input` (a stream from dumpRedisDb); resolves to the number restored. */
export async function restoreRedisDb(url: string, db: number, input: AsyncIterable<Buffer>): Promise<number> {
  let conn: RespConnection | null = null;
  let buf: Buffer = Buffer.alloc(0);
  let magicSeen = false;
  let restored = 0;
  try {
    conn = await connectResp(urlForDb(url, db), { binary: true, timeoutMs: 30_000 });
    await conn.command(['FLUSHDB']);
    for await (const chunk of input) {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      if (!magicSeen) {
        if (buf.length < MAGIC.length) continue;
        if (!buf.subarray(0, MAGIC.length).equals(MAGIC)) throw new BerthError('E_BACKUP', 'not a Berth Redis key dump (bad header)');
        magicSeen = true;
        buf = buf.subarray(MAGIC.length);
      }
      for (;;) {
        if (buf.length < 4) break;
        const keyLen = buf.readUInt32BE(0);
        if (buf.length < 4 + keyLen + 12) break;
        const payloadLen = buf.readUInt32BE(4 + keyLen + 8);
        const end = 4 + keyLen + 12 + payloadLen;
        if (buf.length < end) break;
        const key = buf.subarray(4, 4 + keyLen);
        const pttl = Number(buf.readBigInt64BE(4 + keyLen));
        const payload = buf.subarray(4 + keyLen + 12, end);
        await conn.command(['RESTORE', key, pttl, payload, 'REPLACE']);
        restored++;
        buf = buf.subarray(end);
      }
    }
    if (!magicSeen || buf.length !== 0) throw new BerthError('E_BACKUP', 'the Redis key dump is truncated', { hint: 'restore from another snapshot' });
    return restored;
  } finally {
    await conn?.close().catch(() => {});
  }
}
