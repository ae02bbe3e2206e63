import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { closeFrame, FrameCursor } from './ws-frames.js';

/** An unmasked (or masked) binary frame with `n` payload bytes. */
function frame(n: number, masked = false): Buffer {
  const len = n < 126 ? [n] : n < 65536 ? [126, n >> 8, n & 255] : [127, 0, 0, 0, 0, (n >>> 24) & 255, (n >> 16) & 255, (n >> 8) & 255, n & 255];
  len[0]! |= masked ? 0x80 : 0;
  return Buffer.concat([Buffer.from([0x82, ...len]), masked ? Buffer.from([1, 2, 3, 4]) : Buffer.alloc(0), Buffer.alloc(n, 9)]);
}

describe('FrameCursor', () => {
  it('follows frames of every length form, masked or not, split at every byte', () => {
    const frames = [frame(0), frame(5), frame(125, true), frame(126), frame(70_000, true), frame(3)];
    const stream = Buffer.concat(frames);
    const ends = new Set<number>();
    let pos = 0;
    for (const f of frames) ends.add((pos += f.length));
    for (const step of [1, 2, 3, 7, 1000, stream.length]) {
      const c = new FrameCursor();
      for (let at = 0; at < stream.length; at += step) {
        const piece = stream.subarray(at, at + step);
        assert.equal(c.advance(piece), piece.length);
        assert.equal(c.atBoundary, ends.has(at + piece.length), `step ${step} at ${at + piece.length}`);
      }
    }
  });

  it('stops at the first boundary when asked', () => {
    const c = new FrameCursor();
    const a = frame(10);
    const b = frame(20);
    const stream = Buffer.concat([a, b]);
    assert.equal(c.advance(stream.subarray(0, 5)), 5);
    assert.equal(c.advance(stream.subarray(5), true), a.length - 5, 'stops where frame a ends');
    assert.ok(c.atBoundary);
    assert.equal(c.advance(stream.subarray(a.length), true), 0, 'already at a boundary: nothing consumed');
  });

  it('skips the HTTP 101 head first, even with CRLFCRLF split across reads', () => {
    const head = Buffer.from('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n');
    const stream = Buffer.concat([head, frame(4)]);
    for (let split = 1; split < stream.length; split++) {
      const c = new FrameCursor({ afterHttpHead: true });
      c.advance(stream.subarray(0, split));
      c.advance(stream.subarray(split));
      assert.ok(c.atBoundary, `split at ${split}`);
    }
    const c = new FrameCursor({ afterHttpHead: true });
    c.advance(head);
    assert.ok(c.atBoundary, 'right after the head');
    assert.equal(new FrameCursor({ afterHttpHead: true }).atBoundary, false, 'not before it');
  });
});

describe('closeFrame', () => {
  it('unmasked for clients, masked for upstreams, code and reason inside', () => {
    const plain = closeFrame(1001, 'bye', false);
    assert.deepEqual([...plain], [0x88, 5, 0x03, 0xe9, ...Buffer.from('bye')]);
    const masked = closeFrame(1001, 'bye', true);
    assert.equal(masked[0], 0x88);
    assert.equal(masked[1], 0x80 | 5);
    const mask = masked.subarray(2, 6);
    const body = Buffer.from(masked.subarray(6).map((b, i) => b ^ mask[i & 3]!));
    assert.equal(body.readUInt16BE(0), 1001);
    assert.equal(body.subarray(2).toString(), 'bye');
    const c = new FrameCursor();
    c.advance(masked);
    assert.ok(c.atBoundary, 'a whole frame');
  });
});
