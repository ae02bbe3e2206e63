/**
 * Newline-delimited JSON, decoded as it arrives (no DOM, no imports: the node tests import this
 * file). A network chunk may end in the middle of a line or of a UTF-8 character; both are held
 * back until the rest arrives.
 */

export class NdjsonDecoder {
  private readonly text = new TextDecoder();
  private rest = '';
  private lineNo = 0;

  /** Feeds bytes (or already decoded text); returns the values of every line completed by them. */
  push(chunk: Uint8Array | string): unknown[] {
    this.rest += typeof chunk === 'string' ? chunk : this.text.decode(chunk, { stream: true });
    const lines = this.rest.split('\n');
    this.rest = lines.pop() ?? '';
    return lines.flatMap((l) => this.parse(l));
  }

  /** The stream ended: the value of a last line without a newline, if any. */
  end(): unknown[] {
    const last = this.rest + this.text.decode();
    this.rest = '';
    return this.parse(last);
  }

  private parse(line: string): unknown[] {
    this.lineNo++;
    const trimmed = line.trim();
    if (!trimmed) return [];
    try {
      return [JSON.parse(trimmed) as unknown];
    } catch {
      throw new Error(`line ${this.lineNo} of the answer is not JSON: ${trimmed.slice(0, 80)}`);
    }
  }
}

/** Reads a byte stream to its end, calling `onValue` for each JSON line as soon as it is complete. */
export async function readNdjson(stream: ReadableStream<Uint8Array>, onValue: (v: unknown) => void): Promise<void> {
  const dec = new NdjsonDecoder();
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    for (const v of dec.push(value)) onValue(v);
  }
  for (const v of dec.end()) onValue(v);
}
