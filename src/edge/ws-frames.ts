/**
 * WebSocket frame boundaries (RFC 6455 §5.2) on one direction of a tunnel, so the edge can end a
 * tunnel with a proper close frame instead of cutting the TCP connection: it must never write its
 * own frame into the middle of one it is relaying. Bytes are only counted, never copied or
 * unmasked, so following boundaries costs a few comparisons per read.
 */
import { randomBytes } from 'node:crypto';

/** 1001: the endpoint is going away (server shutdown, route gone). */
export const CLOSE_GOING_AWAY = 1001;

const enum State {
  /** Still inside the HTTP/1.1 101 head (upstream → client only); frames start after CRLFCRLF. */
  HttpHead,
  /** Between frames or inside a frame header. */
  Header,
  Payload,
}

/** Follows frame boundaries through the bytes of one direction. */
export class FrameCursor {
  private state: State;
  /** Header bytes collected so far (a header may straddle reads; it is at most 14 bytes). */
  private header: number[] = [];
  private payloadLeft = 0;
  /** How many bytes of "\r\n\r\n" were matched at the end of the last read (HttpHead). */
  private crlfMatched = 0;

  constructor(opts: { afterHttpHead?: boolean } = {}) {
    this.state = opts.afterHttpHead ? State.HttpHead : State.Header;
  }

  /** True between two frames: a frame of the edge's own may be written now. */
  get atBoundary(): boolean {
    return this.state === State.Header && this.header.length === 0;
  }

  /**
   * Follows `chunk`. With `stopAtBoundary`, stops at the first frame boundary reached and returns
   * the offset of it (bytes before it belong to frames already relayed); otherwise consumes the
   * whole chunk and returns its length.
   */
  advance(chunk: Buffer, stopAtBoundary = false): number {
    let at = 0;
    if (stopAtBoundary && this.atBoundary) return 0;
    while (at < chunk.length) {
      if (this.state === State.HttpHead) {
        at = this.skipHttpHead(chunk, at);
      } else if (this.state === State.Payload) {
        const n = Math.min(this.payloadLeft, chunk.length - at);
        this.payloadLeft -= n;
        at += n;
        if (this.payloadLeft === 0) this.state = State.Header;
      } else {
        this.header.push(chunk[at++]!);
        const len = headerLength(this.header);
        if (this.header.length < len) continue;
        this.payloadLeft = payloadLength(this.header);
        this.header = [];
        this.state = this.payloadLeft > 0 ? State.Payload : State.Header;
      }
      if (stopAtBoundary && this.atBoundary) return at;
    }
    return at;
  }

  private skipHttpHead(chunk: Buffer, at: number): number {
    const CRLF = [13, 10, 13, 10];
    while (at < chunk.length) {
      const b = chunk[at++]!;
      if (b === CRLF[this.crlfMatched]) this.crlfMatched++;
      else this.crlfMatched = b === 13 ? 1 : 0;
      if (this.crlfMatched === 4) {
        this.state = State.Header;
        return at;
      }
    }
    return at;
  }
}

/** Header length once its first bytes are known (2 until the length byte says otherwise). */
function headerLength(h: number[]): number {
  if (h.length < 2) return 2;
  const len7 = h[1]! & 0x7f;
  const masked = (h[1]! & 0x80) !== 0;
  return 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (masked ? 4 : 0);
}

function payloadLength(h: number[]): number {
  const len7 = h[1]! & 0x7f;
  if (len7 < 126) return len7;
  if (len7 === 126) return (h[2]! << 8) | h[3]!;
  // 64-bit length; anything past 2^53 is not a real frame, and Number keeps the count exact below it.
  let n = 0;
  for (let i = 2; i < 10; i++) n = n * 256 + h[i]!;
  return n;
}

/** A close frame with `code` and a short reason; `masked` for frames a client sends (to the upstream). */
export function closeFrame(code: number, reason: string, masked: boolean): Buffer {
  const text = Buffer.from(reason.slice(0, 100));
  const payload = Buffer.alloc(2 + text.length);
  payload.writeUInt16BE(code, 0);
  text.copy(payload, 2);
  if (!masked) return Buffer.concat([Buffer.from([0x88, payload.length]), payload]);
  const mask = randomBytes(4);
  for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i & 3]!;
  return Buffer.concat([Buffer.from([0x88, 0x80 | payload.length]), mask, payload]);
}
