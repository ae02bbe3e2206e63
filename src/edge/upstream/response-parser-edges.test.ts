// ResponseParser edges that response-parser.test.ts leaves open: the exact size limits, anchors of
// the status line, header names that share a length with the framing headers, empty list members,
// slices handed on without a new Buffer, and a sink that ends the exchange from onHead.
// Written from the survivors of `node bench/mutation.mjs response-parser` (issue 19): each case
// fails on at least one of them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_HEAD_BYTES, ResponseParser, UpstreamProtocolError, type ResponseSink } from './response-parser.js';

interface Seen {
  status: number | null;
  body: Buffer[];
  ends: number;
  error: string | null;
}

/** A parser whose sink records what it hears; `feed` records an UpstreamProtocolError instead of throwing. */
function parser(headRequest = false): { p: ResponseParser; seen: Seen; feed(s: string | Buffer): void } {
  const seen: Seen = { status: null, body: [], ends: 0, error: null };
  const sink: ResponseSink = {
    onHead: (status) => void (seen.status = status),
    onBody: (chunk) => void seen.body.push(chunk),
    onEnd: () => void seen.ends++,
  };
  const p = new ResponseParser(sink, headRequest);
  const feed = (s: string | Buffer): void => {
    if (seen.error !== null) return;
    try {
      p.feed(Buffer.isBuffer(s) ? s : Buffer.from(s, 'latin1'));
    } catch (err) {
      assert.ok(err instanceof UpstreamProtocolError, String(err));
      seen.error = err.message;
    }
  };
  return { p, seen, feed };
}
const text = (seen: Seen): string => Buffer.concat(seen.body).toString('latin1');

describe('ResponseParser edges: exact limits', () => {
  /** A head of exactly `size` bytes before its CRLF CRLF. */
  const headOf = (size: number): string => {
    const start = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Pad: ';
    return start + 'p'.repeat(size - start.length);
  };

  it('a head of exactly 64 KiB is accepted, whole or with its terminator in a later read', () => {
    const head = headOf(MAX_HEAD_BYTES);
    assert.equal(head.length, MAX_HEAD_BYTES);
    const whole = parser();
    whole.feed(`${head}\r\n\r\nok`);
    assert.deepEqual([whole.seen.error, whole.seen.status, text(whole.seen), whole.seen.ends], [null, 200, 'ok', 1]);
    const split = parser();
    split.feed(head); // 64 KiB buffered, no terminator yet: not over the limit
    assert.equal(split.seen.error, null);
    split.feed('\r\n\r\nok');
    assert.deepEqual([split.seen.error, split.seen.status, text(split.seen), split.seen.ends], [null, 200, 'ok', 1]);
  });

  it('one byte more is refused either way', () => {
    const head = headOf(MAX_HEAD_BYTES + 1);
    const whole = parser();
    whole.feed(`${head}\r\n\r\nok`);
    assert.match(whole.seen.error ?? '', /larger than 64 KiB/);
    const split = parser();
    split.feed(head);
    assert.match(split.seen.error ?? '', /larger than 64 KiB/);
    assert.equal(split.seen.status, null);
  });

  it('a chunk line of exactly 4096 bytes (CR included) is read; 4097 is too long', () => {
    const line = (n: number): string => `2;x=${'e'.repeat(n - 5)}`; // + CR = n bytes
    const ok = parser();
    ok.feed(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${line(4096)}\r\nok\r\n0\r\n\r\n`);
    assert.deepEqual([ok.seen.error, text(ok.seen), ok.seen.ends], [null, 'ok', 1]);
    const long = parser();
    long.feed(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${line(4097)}\r\nok\r\n0\r\n\r\n`);
    assert.match(long.seen.error ?? '', /too long/);
  });

  it('a chunk size of 12 hex digits is read (13 are refused in response-parser.test.ts)', () => {
    const r = parser();
    r.feed('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n00000000000a\r\n0123456789\r\n0\r\n\r\n');
    assert.deepEqual([r.seen.error, text(r.seen), r.seen.ends], [null, '0123456789', 1]);
  });
});

describe('ResponseParser edges: what counts as a status line or a header', () => {
  for (const line of ['XHTTP/1.1 200 OK', ' HTTP/1.1 200 OK', 'ICY HTTP/1.1 200 OK']) {
    it(`${JSON.stringify(line)} is not a status line`, () => {
      const r = parser();
      r.feed(`${line}\r\nContent-Length: 0\r\n\r\n`);
      assert.match(r.seen.error ?? '', /not an HTTP\/1\.x status line/);
      assert.equal(r.seen.status, null);
    });
  }

  for (const [name, lead] of [['space', ' '], ['tab', '\t']]) {
    it(`a header line led by a ${name} is refused even when it has a colon (obs-fold)`, () => {
      const r = parser();
      r.feed(`HTTP/1.1 200 OK\r\nX-A: one\r\n${lead}X-B: two\r\nContent-Length: 0\r\n\r\n`);
      assert.match(r.seen.error ?? '', /malformed response header line/);
      assert.equal(r.p.keepAlive, false);
    });
  }

  it('headers as long as Connection, Content-Length or Transfer-Encoding do not frame the body', () => {
    // Set-Cookie (10), Content-Digest (14) and X-Accel-Buffering (17) share the lengths the parser switches on.
    const r = parser();
    r.feed('HTTP/1.1 200 OK\r\nSet-Cookie: mode=close\r\nContent-Digest: sha-256=:AAAA=:\r\nX-Accel-Buffering: no\r\nContent-Length: 5\r\n\r\nhello');
    assert.deepEqual([r.seen.error, r.seen.status, text(r.seen), r.seen.ends], [null, 200, 'hello', 1]);
    assert.equal(r.p.keepAlive, true, 'a cookie value "close" is not Connection: close');
  });

  it('an empty member of the Transfer-Encoding list is allowed (RFC 9110 §5.6.1)', () => {
    const r = parser();
    r.feed('HTTP/1.1 200 OK\r\nTransfer-Encoding: , chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n');
    assert.deepEqual([r.seen.error, text(r.seen), r.seen.ends], [null, 'hello', 1]);
    assert.equal(r.p.keepAlive, true);
  });
});

describe('ResponseParser edges: body slices', () => {
  it('a later read holding the body and bytes past it hands on only the body', () => {
    const r = parser();
    r.feed('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n');
    r.feed('helloEXTRA');
    assert.deepEqual([r.seen.error, text(r.seen), r.seen.ends], [null, 'hello', 1]);
    assert.equal(r.p.extra, true);
    assert.equal(r.p.keepAlive, false);
  });

  it('a close-delimited read that is all body is handed on as the same Buffer (no new view per read)', () => {
    const r = parser();
    r.feed('HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n');
    const chunk = Buffer.from('streamed bytes');
    r.feed(chunk);
    assert.equal(r.seen.body.length, 1);
    assert.equal(r.seen.body[0], chunk);
    r.p.finish();
    assert.equal(r.seen.ends, 1);
  });
});

describe('ResponseParser edges: a sink that ends the exchange from onHead', () => {
  it('gets no body and no end when it calls finish() inside onHead', () => {
    const seen: Seen = { status: null, body: [], ends: 0, error: null };
    const p: ResponseParser = new ResponseParser(
      {
        onHead(status) {
          seen.status = status;
          // The client went away while the head was relayed: the owner closes the exchange here.
          assert.throws(() => p.finish(), UpstreamProtocolError);
        },
        onBody: (chunk) => void seen.body.push(chunk),
        onEnd: () => void seen.ends++,
      },
      false,
    );
    p.feed(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello'));
    assert.deepEqual([seen.status, text(seen), seen.ends, p.done], [200, '', 0, false]);
  });
});

describe('ResponseParser edges: errors quote a bounded piece of what the upstream sent', () => {
  // The message lands in logs and in the 502 page's detail: a hostile upstream must not fill them.
  const CHUNKED = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n';
  const cases: [string, string, string][] = [
    ['status line (40)', `${'S'.repeat(100)}\r\n\r\n`, `not an HTTP/1.x status line: "${'S'.repeat(40)}"`],
    ['header line (40)', `HTTP/1.1 200 OK\r\n${'h'.repeat(100)}\r\n\r\n`, `malformed response header line: "${'h'.repeat(40)}"`],
    ['Content-Length (40)', `HTTP/1.1 200 OK\r\nContent-Length: ${'9'.repeat(100)}\r\n\r\n`, `invalid Content-Length: "${'9'.repeat(40)}"`],
    [
      'Transfer-Encoding (60)',
      `HTTP/1.1 200 OK\r\nTransfer-Encoding: ${'gzip, '.repeat(20)}chunked\r\n\r\n`,
      `unsupported Transfer-Encoding: "${'gzip, '.repeat(10)}" (only chunked can be relayed)`,
    ],
    ['chunk size (20)', `${CHUNKED}${'z'.repeat(100)}\r\n`, `invalid chunk size: "${'z'.repeat(20)}"`],
  ];
  for (const [name, input, message] of cases) {
    it(name, () => {
      const r = parser();
      r.feed(input);
      assert.equal(r.seen.error, message);
    });
  }
});

describe('ResponseParser edges: onEnd at most once', () => {
  it('bytes fed after finish() ended a close-delimited body do not end it again', () => {
    const r = parser();
    r.feed('HTTP/1.1 200 OK\r\n\r\nbody');
    r.p.finish();
    assert.equal(r.seen.ends, 1);
    r.feed('late');
    assert.deepEqual([r.seen.ends, text(r.seen), r.p.extra, r.p.keepAlive], [1, 'body', true, false]);
  });
});
