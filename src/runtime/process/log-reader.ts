/** Reading a process workload's log file: from the last N lines, optionally following it like `tail -f`. */
import { open } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Streams `file` from `tail` lines before its end (or the start); with `isRunning`, keeps polling
 * for new bytes like `tail -f` and ends once the workload has stopped and everything is read.
 * Destroying the stream returns the generator, which closes the file.
 */
export async function* readLog(file: string, tail: number | undefined, isRunning: (() => Promise<boolean>) | null): AsyncGenerator<Buffer> {
  const fh = await open(file, 'r');
  try {
    let pos = tail === undefined ? 0 : await tailOffset(fh, (await fh.stat()).size, tail);
    const buf = Buffer.alloc(64 * 1024);
    let finalPass = false;
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
      if (bytesRead > 0) {
        pos += bytesRead;
        yield Buffer.from(buf.subarray(0, bytesRead));
        continue;
      }
      if (!isRunning || finalPass) return;
      // Once stopped, the command's last writes are already in the file: one more drain, then end.
      if (!(await isRunning())) finalPass = true;
      else await sleep(100);
    }
  } finally {
    await fh.close();
  }
}

/** Byte offset where the last `lines` lines of the file begin (a trailing newline ends a line, not starts one). */
async function tailOffset(fh: Awaited<ReturnType<typeof open>>, size: number, lines: number): Promise<number> {
  if (lines <= 0) return size;
  const chunk = Buffer.alloc(64 * 1024);
  let seen = 0;
  let end = size;
  while (end > 0) {
    const start = Math.max(0, end - chunk.length);
    const { bytesRead } = await fh.read(chunk, 0, end - start, start);
    for (let i = bytesRead - 1; i >= 0; i--) {
      const at = start + i;
      if (chunk[i] === 0x0a && at !== size - 1 && ++seen === lines) return at + 1;
    }
    end = start;
  }
  return 0;
}
