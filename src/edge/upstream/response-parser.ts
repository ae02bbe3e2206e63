/**
 * Incremental HTTP/1.1 response parser for the edge's upstream connections (RFC 9112 §4–§7).
 *
 * Why not undici or Node's http client: on the proxy hot path they cost about as much CPU as the
 * whole rest of the edge (bench/proxy, 2026-11-22: ~41–56 µs per proxied request with undici vs
 * ~30 µs for a raw-socket relay). The edge only needs one response at a time per connection, no
 * pipelining, and hands bodies straight on, so this parser does exactly that: it finds the head,
 * works out how the body is framed, and yields body bytes as slices of the input (no copies).
 *
 * Framing, in RFC order: a response to HEAD, 1xx, 204 and 304 has no body; `Transfer-Encoding`
 * ending in `chunked` → chunked (and the connection is not reused when Content-Length came too:
 * a smuggling sign); a transfer-coding other than chunked/identity (gzip …) → an error (the
 * client could not be told of it); `identity` alone → until close; `Content-Length` → that many
 * bytes (conflicting values are an error); nothing → until the upstream closes.
 */

/** What the parser reports; `this` is not used, so plain functions on one object work. */
export interface ResponseSink {
  /** Final (non-1xx) response head. `rawHeaders` is `[name, value, …]` as sent. */
  onHead(status: number, rawHeaders: string[]): void;
  /** Interim 1xx response (other than 101); not relayed by the edge but it resets nothing. */
  onInterim?(status: number): void;
  /** A slice of the body (a view into the chunk fed in; copy it to keep it past the call). */
  onBody(chunk: Buffer): void;
  /** The body is complete. */
  onEnd(): void;
}

/** Largest response head the edge accepts from an upstream (nginx's default is 4–8 KiB per line). */
export const MAX_HEAD_BYTES = 64 * 1024;
const MAX_CHUNK_LINE = 4096;

const enum State {
  Head,
  Length,
  ChunkSize,
  ChunkData,
  ChunkDataEnd,
  Trailers,
  UntilClose,
  Done,
  Failed,
}

/** A malformed or oversized response; the connection cannot be reused. */
export class UpstreamProtocolError extends Error {
  readonly code = 'E_UPSTREAM_PROTOCOL';
}

const CRLF_CRLF = Buffer.from('\r\n\r\n');
const STATUS_LINE = /^HTTP\/1\.([01]) ([1-9]\d\d)(?: |$)/;
const HEX = /^[0-9a-fA-F]+$/;

/**
 * One response on one connection. Create a new parser per request; `feed` every byte read,
 * `finish` when the connection closed. After `onEnd`, `keepAlive` says whether the connection
 * may carry another request and `extra` whether bytes arrived past the end (never reuse then).
 */
export class ResponseParser {
  private state = State.Head;
  private head: Buffer | null = null;
  private remaining = 0;
  private line = '';
  private endReported = false;
  /** True when the connection can carry the next request after this response. */
  keepAlive = true;
  /** Bytes arrived after the response ended (an upstream that answers twice). */
  extra = false;
  /** Bytes of the response seen so far (head + body), to know whether a retry is safe. */
  bytesSeen = 0;

  constructor(
    private readonly sink: ResponseSink,
    /** The request was HEAD: whatever the head says, no body follows. */
    private readonly headRequest: boolean,
  ) {}

  get done(): boolean {
    return this.state === State.Done;
  }

  /** Parses `chunk`; throws UpstreamProtocolError on a malformed response. */
  feed(chunk: Buffer): void {
    this.bytesSeen += chunk.length;
    let at = 0;
    while (at < chunk.length) {
      switch (this.state) {
        case State.Head:
          at = this.readHead(chunk, at);
          break;
        case State.Length: {
          const n = Math.min(this.remaining, chunk.length - at);
          this.remaining -= n;
          const slice = at === 0 && n === chunk.length ? chunk : chunk.subarray(at, at + n);
          at += n;
          this.sink.onBody(slice);
          if (this.remaining === 0) this.end();
          break;
        }
        case State.ChunkSize:
          at = this.readLine(chunk, at, () => this.chunkSize());
          break;
        case State.ChunkData: {
          const n = Math.min(this.remaining, chunk.length - at);
          this.remaining -= n;
          this.sink.onBody(chunk.subarray(at, at + n));
          at += n;
          if (this.remaining === 0) this.state = State.ChunkDataEnd;
          break;
        }
        case State.ChunkDataEnd:
          at = this.readLine(chunk, at, () => {
            if (this.line !== '') this.fail('chunk data not followed by CRLF');
            this.state = State.ChunkSize;
          });
          break;
        case State.Trailers:
          // Trailers are dropped (the edge sends none); an empty line ends the message.
          at = this.readLine(chunk, at, () => {
            if (this.line === '') this.end();
          });
          break;
        case State.UntilClose:
          this.sink.onBody(at === 0 ? chunk : chunk.subarray(at));
          at = chunk.length;
          break;
        case State.Done:
          this.extra = true;
          this.keepAlive = false;
          at = chunk.length;
          break;
        case State.Failed:
          return;
      }
    }
    // Reported after the whole chunk was looked at, so `extra` is known before the caller decides
    // whether the connection can be reused.
    if (this.state === State.Done && !this.endReported) {
      this.endReported = true;
      this.sink.onEnd();
    }
  }

  /**
   * The upstream closed the connection. Ends a close-delimited body; anywhere else the response
   * is truncated and this throws.
   */
  finish(): void {
    if (this.state === State.UntilClose) {
      this.state = State.Done;
      this.endReported = true;
      this.sink.onEnd();
      return;
    }
    if (this.state === State.Done || this.state === State.Failed) return;
    this.state = State.Failed;
    throw new UpstreamProtocolError(this.bytesSeen === 0 ? 'upstream closed the connection without answering' : 'upstream closed the connection mid-response');
  }

  private end(): void {
    this.state = State.Done;
  }

  /** Accumulates the head; on CRLFCRLF parses it and moves to the body state. */
  private readHead(chunk: Buffer, at: number): number {
    const buf = this.head === null ? (at === 0 ? chunk : chunk.subarray(at)) : Buffer.concat([this.head, chunk.subarray(at)]);
    // Search from a little before the new bytes: the terminator may straddle two reads.
    const from = this.head === null ? 0 : Math.max(0, this.head.length - 3);
    const end = buf.indexOf(CRLF_CRLF, from);
    if (end === -1) {
      if (buf.length > MAX_HEAD_BYTES) this.fail('response head larger than 64 KiB');
      this.head = buf;
      return chunk.length;
    }
    if (end > MAX_HEAD_BYTES) this.fail('response head larger than 64 KiB');
    const consumedBefore = this.head === null ? 0 : this.head.length;
    this.head = null;
    this.parseHead(buf.toString('latin1', 0, end));
    // Position in `chunk` just past the head's terminator.
    return at + (end + 4 - consumedBefore);
  }

  private parseHead(text: string): void {
    const lines = text.split('\r\n');
    const m = STATUS_LINE.exec(lines[0]!);
    if (m === null) this.fail(`not an HTTP/1.x status line: ${JSON.stringify(lines[0]!.slice(0, 40))}`);
    const http10 = m![1] === '0';
    const status = Number(m![2]);
    const raw: string[] = [];
    let length = -1;
    let chunked = false;
    let otherEncoding = false;
    let connection = '';
    for (let i = 1; i < lines.length; i++) {
      const l = lines[i]!;
      const colon = l.indexOf(':');
      // No obs-fold (RFC 9112 §5.2 lets a proxy reject it), no empty or space-padded names.
      if (colon <= 0 || l.charCodeAt(0) === 32 || l.charCodeAt(0) === 9 || l.charCodeAt(colon - 1) === 32) {
        this.fail(`malformed response header line: ${JSON.stringify(l.slice(0, 40))}`);
      }
      const name = l.slice(0, colon);
      const value = l.slice(colon + 1).trim();
      raw.push(name, value);
      switch (name.length) {
        case 10:
          if (name.toLowerCase() === 'connection') connection += `${value.toLowerCase()},`;
          break;
        case 14:
          if (name.toLowerCase() === 'content-length') {
            for (const part of value.split(',')) {
              const v = part.trim();
              if (!/^\d{1,15}$/.test(v)) this.fail(`invalid Content-Length: ${JSON.stringify(value.slice(0, 40))}`);
              const n = Number(v);
              if (length !== -1 && length !== n) this.fail('conflicting Content-Length values');
              length = n;
            }
          }
          break;
        case 17:
          if (name.toLowerCase() === 'transfer-encoding') {
            const codings = value.toLowerCase().split(',').map((c) => c.trim());
            const last = codings[codings.length - 1]!;
            if (last === 'chunked') chunked = true;
            else otherEncoding = true;
            // A transfer-coding (gzip, deflate, …) is hop-by-hop: the client hears about it only
            // through this header, which the edge does not forward (it re-frames the body itself).
            // Relaying such a body would hand the client compressed bytes with no label, so it is
            // refused as nginx does ("upstream sent unknown Transfer-Encoding").
            const unsupported = codings.find((c) => c !== 'chunked' && c !== 'identity' && c !== '');
            if (unsupported !== undefined) this.fail(`unsupported Transfer-Encoding: ${JSON.stringify(value.slice(0, 60))} (only chunked can be relayed)`);
          }
          break;
      }
    }

    if (status >= 100 && status < 200) {
      if (status === 101) this.fail('upstream switched protocols on a plain request');
      this.sink.onInterim?.(status);
      this.state = State.Head; // the final answer follows
      return;
    }
    if (connection.includes('close') || (http10 && !connection.includes('keep-alive'))) this.keepAlive = false;
    this.sink.onHead(status, raw);
    if (this.state === State.Failed) return;

    if (this.headRequest || status === 204 || status === 304) {
      this.end();
    } else if (chunked && !otherEncoding) {
      if (length !== -1) this.keepAlive = false;
      this.state = State.ChunkSize;
    } else if (chunked || otherEncoding) {
      this.keepAlive = false;
      this.state = State.UntilClose;
    } else if (length >= 0) {
      this.remaining = length;
      if (length === 0) this.end();
      else this.state = State.Length;
    } else {
      this.keepAlive = false;
      this.state = State.UntilClose;
    }
  }

  /** Collects one CRLF-terminated line into `this.line` (across reads) and calls `done`. */
  private readLine(chunk: Buffer, at: number, done: () => void): number {
    const nl = chunk.indexOf(10, at);
    const part = chunk.toString('latin1', at, nl === -1 ? chunk.length : nl);
    if (this.line.length + part.length > MAX_CHUNK_LINE) this.fail('chunk header or trailer line too long');
    this.line += part;
    if (nl === -1) return chunk.length;
    if (!this.line.endsWith('\r')) this.fail('bare LF in chunked framing');
    this.line = this.line.slice(0, -1);
    done();
    this.line = '';
    return nl + 1;
  }

  private chunkSize(): void {
    const semi = this.line.indexOf(';');
    const hex = (semi === -1 ? this.line : this.line.slice(0, semi)).trim();
    if (!HEX.test(hex) || hex.length > 12) this.fail(`invalid chunk size: ${JSON.stringify(hex.slice(0, 20))}`);
    const size = parseInt(hex, 16);
    if (size === 0) {
      this.state = State.Trailers;
    } else {
      this.remaining = size;
      this.state = State.ChunkData;
    }
  }

  private fail(message: string): never {
    this.state = State.Failed;
    this.keepAlive = false;
    throw new UpstreamProtocolError(message);
  }
}
