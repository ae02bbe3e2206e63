/**
 * `docker logs` writes the container's stdout lines to its own stdout and the stderr lines to its
 * stderr: read from two pipes, their order is lost (a suite run saw `last\nfirst\n` for
 * `echo first; echo last >&2`). With `--timestamps` every line carries the time the engine logged
 * it, so the two sequences — each already in order — can be merged back into one.
 */

/** `2026-11-29T09:34:01.928531423Z text` (docker trims trailing zeros of the fraction; podman may print an offset). */
const STAMPED = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d) (.*)$/s;

interface StampedLine {
  /** Nanoseconds since the epoch (BigInt: a double cannot hold them exactly). */
  at: bigint;
  text: string;
}

/** Splits `--timestamps` output into lines with their times; a line without a stamp takes its predecessor's. */
export function parseStampedLines(output: string): StampedLine[] {
  const lines: StampedLine[] = [];
  let last = 0n;
  for (const raw of output.split('\n')) {
    if (raw === '') continue;
    const m = STAMPED.exec(raw);
    if (!m) {
      lines.push({ at: last, text: raw });
      continue;
    }
    const ms = Date.parse(`${m[1]}${m[3]}`);
    last = Number.isNaN(ms) ? last : BigInt(ms) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
    lines.push({ at: last, text: m[4]! });
  }
  return lines;
}

/**
 * One text, in time order, without the stamps: the merge of two ordered sequences (on equal times
 * stdout's line comes first). Every line ends with `\n`.
 */
export function mergeStampedLogs(stdout: string, stderr: string): string {
  const a = parseStampedLines(stdout);
  const b = parseStampedLines(stderr);
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const takeA = j >= b.length || (i < a.length && a[i]!.at <= b[j]!.at);
    out.push(takeA ? a[i++]!.text : b[j++]!.text);
  }
  return out.map((l) => `${l}\n`).join('');
}
