// ResponseParser: every framing, every split of the input, and every error the edge relies on.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_HEAD_BYTES, ResponseParser, UpstreamProtocolError, type ResponseSink } from './response-parser.js';

/** Everything a parser reported, with body slices copied (they are views into the input). */
interface Outcome {
  status: number | null;
  headers: string[] | null;
  interim: number[];
  body: string;
  /** onEnd calls. */
  ends: number;
  done: boolean;
  keepAlive: boolean;
  extra: boolean;
  bytesSeen: number;
  /** Message of the UpstreamProtocolError thrown, if any (and where: 'feed' or 'finish'). */
  error: string | null;
  /** Event order, e.g. ['interim 100', 'head 200', 'body', 'end']. */
  order: string[];
}

interface Run {
  parser: ResponseParser;
  out: Outcome;
  feed(piece: Buffer | string): void;
  finish(): void;
}

function run(headRequest = false): Run {
  const bodies: Buffer[] = [];
  const out: Outcome = { status: null, headers: null, interim: [], body: '', ends: 0, done: false, keepAlive: true, extra: false, bytesSeen: 0, error: null, order: [] };
  const sink: ResponseSink = {
    onHead(status, raw) {
      assert.equal(out.status, null, 'onHead called once');
      out.status = status;
      out.headers = [...raw];
      out.order.push(`head ${status}`);
    },
    onInterim(status) {
      out.interim.push(status);
      out.order.push(`interim ${status}`);
    },
    onBody(chunk) {
      assert.ok(chunk.length > 0, 'no empty body slices');
      assert.equal(out.ends, 0, 'no body after the end');
      bodies.push(Buffer.from(chunk));
      if (out.order.at(-1) !== 'body') out.order.push('body');
    },
    onEnd() {
      out.ends++;
      out.order.push('end');
    },
  };
  const parser = new ResponseParser(sink, headRequest);
  const sync = (): void => {
    out.body = Buffer.concat(bodies).toString('latin1');
    out.done = parser.done;
    out.keepAlive = parser.keepAlive;
    out.extra = parser.extra;
    out.bytesSeen = parser.bytesSeen;
  };
  const guarded = (fn: () => void, where: string): void => {
    if (out.error !== null) return;
    try {
      fn();
    } catch (err) {
      assert.ok(err instanceof UpstreamProtocolError, `${where} threw ${String(err)}, not an UpstreamProtocolError`);
      assert.equal(err.code, 'E_UPSTREAM_PROTOCOL');
      out.error = `${where}: ${err.message}`;
    }
    sync();
  };
  return {
    parser,
    out,
    feed: (piece) => guarded(() => parser.feed(Buffer.isBuffer(piece) ? piece : Buffer.from(piece, 'latin1')), 'feed'),
    finish: () => guarded(() => parser.finish(), 'finish'),
  };
}

/** Parses `input` fed as `pieces` (sizes; the rest goes last), then `finish()` when asked. */
function parse(input: string | Buffer, opts: { head?: boolean; pieces?: number[]; finish?: boolean } = {}): Outcome {
  const buf = Buffer.isBuffer(input) ? input : Buffer.from(input, 'latin1');
  const r = run(opts.head ?? false);
  let at = 0;
  for (const n of opts.pieces ?? []) {
    r.feed(buf.subarray(at, at + n));
    at += n;
  }
  if (at < buf.length) r.feed(buf.subarray(at));
  if (opts.finish) r.finish();
  return r.out;
}

/** One byte per feed. */
function bytewise(input: string, opts: { head?: boolean; finish?: boolean } = {}): Outcome {
  return parse(input, { ...opts, pieces: Array.from({ length: input.length - 1 }, () => 1) });
}

/** The outcome is the same whether `input` comes whole, one byte at a time, or in any two pieces. */
function assertSplitInvariant(input: string, opts: { head?: boolean; finish?: boolean } = {}): Outcome {
  const whole = parse(input, opts);
  // bytesSeen equals the input either way; compare everything.
  assert.deepEqual(bytewise(input, opts), whole, 'one byte at a time');
  for (let i = 1; i < input.length; i++) assert.deepEqual(parse(input, { ...opts, pieces: [i] }), whole, `split at ${i}`);
  return whole;
}

const CL_RESPONSE = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 11\r\nX-Multi: a\r\nX-Multi: b\r\n\r\nhello world';
const CHUNKED_RESPONSE =
  'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A:  spaced value  \r\n\r\n' +
  '5;name=value;other="quoted ; semi"\r\nhello\r\n' +
  'A\r\n0123456789\r\n' +
  'a ; ext\r\nabcdefghij\r\n' +
  '1F\r\n' + 'x'.repeat(31) + '\r\n' +
  '0;last=1\r\nX-Trailer: t\r\nX-Other: u\r\n\r\n';

describe('ResponseParser: Content-Length', () => {
  it('reads exactly Content-Length bytes and keeps the connection', () => {
    const out = assertSplitInvariant(CL_RESPONSE);
    assert.equal(out.status, 200);
    assert.deepEqual(out.headers, ['Content-Type', 'text/plain', 'Content-Length', '11', 'X-Multi', 'a', 'X-Multi', 'b']);
    assert.equal(out.body, 'hello world');
    assert.deepEqual(out.order, ['head 200', 'body', 'end']);
    assert.equal(out.ends, 1);
    assert.equal(out.done, true);
    assert.equal(out.keepAlive, true);
    assert.equal(out.extra, false);
    assert.equal(out.error, null);
    assert.equal(out.bytesSeen, CL_RESPONSE.length);
  });

  it('Content-Length: 0 ends with the head', () => {
    const out = assertSplitInvariant('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
    assert.deepEqual(out.order, ['head 200', 'end']);
    assert.equal(out.body, '');
    assert.equal(out.keepAlive, true);
  });

  it('is not done until the last body byte arrives', () => {
    const r = run();
    r.feed('HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nab');
    assert.equal(r.out.done, false);
    assert.equal(r.out.ends, 0);
    assert.equal(r.out.body, 'ab');
    r.feed('c');
    assert.equal(r.out.done, true);
    assert.equal(r.out.ends, 1);
    assert.equal(r.out.body, 'abc');
  });

  it('body slices are views of the input, not copies (whole chunk when it is all body)', () => {
    const seen: Buffer[] = [];
    const p = new ResponseParser({ onHead() {}, onBody: (c) => seen.push(c), onEnd() {} }, false);
    p.feed(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nab'));
    const tail = Buffer.from('cdef');
    p.feed(tail);
    assert.equal(seen[1], tail, 'a chunk that is all body is handed on as is');
  });

  it('accepts a repeated identical Content-Length (list or separate lines) and leading zeros', () => {
    for (const cl of ['Content-Length: 3, 3', 'Content-Length: 3\r\ncontent-length: 3', 'CONTENT-LENGTH: 003']) {
      const out = parse(`HTTP/1.1 200 OK\r\n${cl}\r\n\r\nabc`);
      assert.equal(out.error, null, cl);
      assert.equal(out.body, 'abc', cl);
      assert.equal(out.ends, 1, cl);
    }
  });

  it('handles a large body in uneven pieces', () => {
    const body = Buffer.alloc(1_000_003);
    for (let i = 0; i < body.length; i++) body[i] = (i * 7) % 256;
    const input = Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`), body]);
    const got: Buffer[] = [];
    let ends = 0;
    const p = new ResponseParser({ onHead() {}, onBody: (c) => got.push(Buffer.from(c)), onEnd: () => ends++ }, false);
    for (let at = 0, n = 1; at < input.length; at += n, n = (n * 3 + 1) % 65_537) p.feed(input.subarray(at, at + n));
    assert.equal(ends, 1);
    assert.ok(Buffer.concat(got).equals(body));
  });
});

describe('ResponseParser: chunked', () => {
  it('decodes chunks with extensions, upper and lower case hex sizes and trailers', () => {
    const out = assertSplitInvariant(CHUNKED_RESPONSE);
    assert.equal(out.status, 200);
    assert.deepEqual(out.headers, ['Transfer-Encoding', 'chunked', 'X-A', 'spaced value']);
    assert.equal(out.body, `hello0123456789abcdefghij${'x'.repeat(31)}`);
    assert.equal(out.ends, 1);
    assert.equal(out.keepAlive, true);
    assert.equal(out.extra, false);
    assert.equal(out.error, null);
  });

  it('is not done before the empty line after the last chunk', () => {
    const r = run();
    r.feed('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n');
    assert.equal(r.out.body, 'abc');
    assert.equal(r.out.done, false);
    r.feed('X-T: 1\r\n');
    assert.equal(r.out.done, false);
    r.feed('\r\n');
    assert.equal(r.out.done, true);
    assert.equal(r.out.ends, 1);
  });

  it('an empty chunked body ends at 0 CRLF CRLF', () => {
    const out = assertSplitInvariant('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n');
    assert.deepEqual(out.order, ['head 200', 'end']);
  });

  it('recognizes chunked case-insensitively and as the last of several codings', () => {
    for (const te of ['Transfer-Encoding: Chunked', 'transfer-encoding: CHUNKED', 'Transfer-Encoding: identity, chunked', 'Transfer-Encoding: identity ,  chunked ']) {
      const out = parse(`HTTP/1.1 200 OK\r\n${te}\r\n\r\n2\r\nok\r\n0\r\n\r\n`);
      assert.equal(out.body, 'ok', te);
      assert.equal(out.done, true, te);
      assert.equal(out.keepAlive, true, te);
    }
  });

  it('a chunk line just under the limit is fine', () => {
    const out = parse(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2;x=${'e'.repeat(4000)}\r\nok\r\n0\r\n\r\n`);
    assert.equal(out.error, null);
    assert.equal(out.body, 'ok');
  });
});

describe('ResponseParser: close-delimited', () => {
  it('without Content-Length or Transfer-Encoding, the body runs until finish()', () => {
    const input = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of this\r\n\r\nis body';
    for (const out of [parse(input, { finish: true }), bytewise(input, { finish: true })]) {
      assert.equal(out.body, 'all of this\r\n\r\nis body');
      assert.equal(out.ends, 1);
      assert.equal(out.done, true);
      assert.equal(out.keepAlive, false);
      assert.equal(out.error, null);
    }
    const open = parse(input);
    assert.equal(open.done, false, 'not done before the close');
    assert.equal(open.ends, 0);
  });

  it('an empty close-delimited body ends at finish()', () => {
    const out = parse('HTTP/1.1 200 OK\r\n\r\n', { finish: true });
    assert.deepEqual(out.order, ['head 200', 'end']);
    assert.equal(out.keepAlive, false);
  });

  it('finish() after a complete response changes nothing', () => {
    const r = run();
    r.feed('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    r.finish();
    assert.equal(r.out.error, null);
    assert.equal(r.out.ends, 1);
    assert.equal(r.out.keepAlive, true);
  });
});

describe('ResponseParser: responses without a body', () => {
  it('a response to HEAD has no body whatever its Content-Length or Transfer-Encoding', () => {
    for (const framing of ['Content-Length: 1234', 'Transfer-Encoding: chunked', '']) {
      const input = `HTTP/1.1 200 OK\r\n${framing ? `${framing}\r\n` : ''}\r\n`;
      const out = assertSplitInvariant(input, { head: true });
      assert.deepEqual(out.order, ['head 200', 'end'], framing);
      assert.equal(out.keepAlive, true, framing);
      assert.equal(out.done, true, framing);
    }
  });

  it('204 and 304 have no body, even with Content-Length', () => {
    for (const input of ['HTTP/1.1 204 No Content\r\nX: y\r\n\r\n', 'HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\nETag: "x"\r\n\r\n', 'HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n']) {
      const out = assertSplitInvariant(input);
      assert.deepEqual(out.order, [`head ${out.status}`, 'end'], input);
      assert.equal(out.keepAlive, true, input);
    }
  });

  it('a body-less response followed by bytes is flagged extra', () => {
    const out = parse('HTTP/1.1 204 No Content\r\n\r\nsurprise');
    assert.equal(out.ends, 1);
    assert.equal(out.extra, true);
    assert.equal(out.keepAlive, false);
  });
});

describe('ResponseParser: interim responses', () => {
  it('1xx before the final answer go to onInterim, and the final head is the one reported', () => {
    const input = 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok';
    const out = assertSplitInvariant(input);
    assert.deepEqual(out.order, ['interim 100', 'interim 103', 'head 201', 'body', 'end']);
    assert.deepEqual(out.headers, ['Content-Length', '2']);
    assert.equal(out.body, 'ok');
    assert.equal(out.keepAlive, true);
  });

  it('a 1xx with Connection: close does not decide for the final answer', () => {
    const out = parse('HTTP/1.1 100 Continue\r\nConnection: close\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
    assert.equal(out.status, 200);
    assert.equal(out.keepAlive, true);
  });

  it('a sink without onInterim is fine', () => {
    let status = 0;
    const p = new ResponseParser({ onHead: (s) => (status = s), onBody() {}, onEnd() {} }, false);
    p.feed(Buffer.from('HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'));
    assert.equal(status, 200);
    assert.equal(p.done, true);
  });

  it('101 Switching Protocols on a plain request is refused', () => {
    const out = parse('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    assert.match(out.error ?? '', /switched protocols/);
    assert.equal(out.status, null);
    assert.equal(out.keepAlive, false);
  });

  it('finish() after only an interim response is a truncated response', () => {
    const out = parse('HTTP/1.1 100 Continue\r\n\r\n', { finish: true });
    assert.match(out.error ?? '', /^finish: .*mid-response/);
  });
});

describe('ResponseParser: connection reuse', () => {
  const cases: [string, string, boolean][] = [
    ['Connection: close', 'HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok', false],
    ['Connection: Close (case)', 'HTTP/1.1 200 OK\r\nConnection: Close\r\nContent-Length: 2\r\n\r\nok', false],
    ['close in a token list', 'HTTP/1.1 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 2\r\n\r\nok', false],
    ['close on a second Connection line', 'HTTP/1.1 200 OK\r\nConnection: x-foo\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok', false],
    ['HTTP/1.0 without keep-alive', 'HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok', false],
    ['HTTP/1.0 with keep-alive', 'HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nok', true],
    ['HTTP/1.1 default', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok', true],
    ['TE chunked + Content-Length (smuggling sign)', 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n', false],
  ];
  for (const [name, input, keepAlive] of cases) {
    it(`${name} → keepAlive ${keepAlive}`, () => {
      const out = parse(input);
      assert.equal(out.error, null);
      assert.equal(out.body, 'ok');
      assert.equal(out.ends, 1);
      assert.equal(out.keepAlive, keepAlive);
    });
  }

  it('Transfer-Encoding + Content-Length: chunked framing wins over the length', () => {
    const out = assertSplitInvariant('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n5\r\nhello\r\n0\r\n\r\n');
    assert.equal(out.body, 'hello');
    assert.equal(out.done, true);
    assert.equal(out.keepAlive, false);
  });

  it('Transfer-Encoding: identity (no chunked) is read until close (Content-Length ignored)', () => {
    const r = run();
    r.feed('HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\nContent-Length: 2\r\n\r\n5\r\nhello\r\n0\r\n\r\n');
    assert.equal(r.out.done, false);
    assert.equal(r.out.keepAlive, false);
    r.finish();
    assert.equal(r.out.error, null);
    assert.equal(r.out.body, '5\r\nhello\r\n0\r\n\r\n');
    assert.equal(r.out.ends, 1);
  });

  it('a transfer-coding the client could not be told of (gzip, deflate…) is an error, chunked or not', () => {
    for (const te of ['Transfer-Encoding: gzip', 'Transfer-Encoding: chunked, gzip', 'Transfer-Encoding: gzip, chunked', 'Transfer-Encoding: deflate ,  chunked ']) {
      const out = parse(`HTTP/1.1 200 OK\r\n${te}\r\n\r\n2\r\nok\r\n0\r\n\r\n`);
      assert.match(String(out.error), /unsupported Transfer-Encoding/, te);
      assert.equal(out.order.length, 0, `no head reported for ${te}`);
    }
  });
});

describe('ResponseParser: bytes past the end', () => {
  it('bytes after a Content-Length body in the same read: extra, no reuse, onEnd once', () => {
    const out = parse('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
    assert.equal(out.body, 'ok');
    assert.equal(out.ends, 1);
    assert.equal(out.extra, true);
    assert.equal(out.keepAlive, false);
  });

  it('extra is known when onEnd runs (the caller decides reuse there)', () => {
    let extraAtEnd: boolean | null = null;
    const p: ResponseParser = new ResponseParser({ onHead() {}, onBody() {}, onEnd: () => (extraAtEnd = p.extra) }, false);
    p.feed(Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\njunk'));
    assert.equal(extraAtEnd, true);
  });

  it('bytes in a later read after the end: extra, onEnd not repeated', () => {
    const r = run();
    r.feed('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n');
    assert.equal(r.out.ends, 1);
    assert.equal(r.out.extra, false);
    r.feed('x');
    r.feed('yz');
    assert.equal(r.out.ends, 1);
    assert.equal(r.out.extra, true);
    assert.equal(r.out.keepAlive, false);
    assert.equal(r.out.body, 'ok');
  });
});

describe('ResponseParser: the head at every byte boundary', () => {
  const heads = [
    CL_RESPONSE,
    CHUNKED_RESPONSE,
    'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n\r\n\r\n', // a body that looks like a terminator
    'HTTP/1.0 404 Not Found\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n',
    'HTTP/1.1 200\r\nContent-Length: 1\r\n\r\nx', // no reason phrase
    'HTTP/1.1 599 Custom Reason With Spaces\r\nx-empty:\r\nContent-Length: 0\r\n\r\n',
  ];
  for (const input of heads) {
    it(JSON.stringify(input.slice(0, 36)), () => {
      const out = assertSplitInvariant(input);
      assert.equal(out.error, null);
      assert.equal(out.ends, 1);
    });
  }

  it('reason phrase is optional, empty header values are kept', () => {
    assert.equal(parse('HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n').status, 200);
    assert.deepEqual(parse('HTTP/1.1 599 Custom Reason With Spaces\r\nx-empty:\r\nContent-Length: 0\r\n\r\n').headers, ['x-empty', '', 'Content-Length', '0']);
  });

  it('three-piece splits of a chunked body (every size line, data and CRLF boundary)', () => {
    const input = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;e=1\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nT: 1\r\n\r\n';
    const whole = parse(input);
    const headEnd = input.indexOf('\r\n\r\n') + 4;
    for (let i = headEnd; i < input.length; i++) {
      for (let j = i + 1; j < input.length; j++) assert.deepEqual(parse(input, { pieces: [i, j - i] }), whole, `splits at ${i}, ${j}`);
    }
  });
});

describe('ResponseParser: errors', () => {
  const CHUNKED = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n';
  const cases: [string, string, RegExp][] = [
    ['not HTTP', 'SSH-2.0-OpenSSH_9.6\r\n\r\n', /status line/],
    ['HTTP/2 status line', 'HTTP/2 200 OK\r\n\r\n', /status line/],
    ['HTTP/1.2', 'HTTP/1.2 200 OK\r\n\r\n', /status line/],
    ['lower-case protocol', 'http/1.1 200 OK\r\n\r\n', /status line/],
    ['two-digit status', 'HTTP/1.1 20 OK\r\n\r\n', /status line/],
    ['four-digit status', 'HTTP/1.1 2000 OK\r\n\r\n', /status line/],
    ['no space after status', 'HTTP/1.1 200OK\r\n\r\n', /status line/],
    ['status below 100', 'HTTP/1.1 099 Odd\r\nContent-Length: 0\r\n\r\n', /status line|status/],
    ['status 000', 'HTTP/1.1 000 Zero\r\nContent-Length: 0\r\n\r\n', /status line|status/],
    ['obs-fold (space)', 'HTTP/1.1 200 OK\r\nX-A: one\r\n two\r\nContent-Length: 0\r\n\r\n', /malformed response header/],
    ['obs-fold (tab)', 'HTTP/1.1 200 OK\r\nX-A: one\r\n\ttwo\r\nContent-Length: 0\r\n\r\n', /malformed response header/],
    ['space before colon', 'HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\nhello', /malformed response header/],
    ['line without colon', 'HTTP/1.1 200 OK\r\nno colon here\r\n\r\n', /malformed response header/],
    ['empty header name', 'HTTP/1.1 200 OK\r\n: value\r\n\r\n', /malformed response header/],
    ['Content-Length not a number', 'HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n', /invalid Content-Length/],
    ['negative Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n', /invalid Content-Length/],
    ['Content-Length with a sign', 'HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello', /invalid Content-Length/],
    ['Content-Length in hex', 'HTTP/1.1 200 OK\r\nContent-Length: 0x5\r\n\r\nhello', /invalid Content-Length/],
    ['empty Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n', /invalid Content-Length/],
    ['Content-Length with an empty list member', 'HTTP/1.1 200 OK\r\nContent-Length: 5,\r\n\r\nhello', /invalid Content-Length/],
    ['Content-Length too large', 'HTTP/1.1 200 OK\r\nContent-Length: 1234567890123456\r\n\r\n', /invalid Content-Length/],
    ['conflicting Content-Length list', 'HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nhello', /conflicting Content-Length/],
    ['conflicting Content-Length lines', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello', /conflicting Content-Length/],
    ['chunk size not hex', `${CHUNKED}zz\r\n`, /invalid chunk size/],
    ['chunk size empty', `${CHUNKED}\r\nabc\r\n`, /invalid chunk size/],
    ['chunk size negative', `${CHUNKED}-1\r\n`, /invalid chunk size/],
    ['chunk size with 0x', `${CHUNKED}0x5\r\nhello\r\n`, /invalid chunk size/],
    ['chunk size too many digits', `${CHUNKED}${'f'.repeat(13)}\r\n`, /invalid chunk size/],
    ['chunk data not followed by CRLF', `${CHUNKED}5\r\nhelloX\r\n0\r\n\r\n`, /not followed by CRLF/],
    ['chunk data longer than its size', `${CHUNKED}3\r\nhello\r\n0\r\n\r\n`, /not followed by CRLF/],
    ['bare LF after a chunk size', `${CHUNKED}5\nhello\r\n0\r\n\r\n`, /bare LF/],
    ['bare LF after chunk data', `${CHUNKED}5\r\nhello\n0\r\n\r\n`, /bare LF/],
    ['bare LF in trailers', `${CHUNKED}0\r\nX-T: 1\n\r\n`, /bare LF/],
    ['chunk line too long', `${CHUNKED}5;${'e'.repeat(5000)}\r\nhello\r\n`, /too long/],
    ['trailer line too long', `${CHUNKED}0\r\nX-T: ${'t'.repeat(5000)}\r\n\r\n`, /too long/],
  ];
  for (const [name, input, message] of cases) {
    it(`${name} → UpstreamProtocolError`, () => {
      const whole = parse(input);
      assert.match(whole.error ?? 'no error', message);
      assert.match(whole.error!, /^feed: /);
      assert.equal(whole.keepAlive, false, 'a failed connection is never reused');
      assert.equal(whole.ends, 0, 'no onEnd after an error');
      // The same error whatever the reads look like.
      assert.equal(bytewise(input).error, whole.error, 'one byte at a time');
    });
  }

  it('nothing is reported after an error, even if more bytes are fed', () => {
    const r = run();
    r.feed(`${CHUNKED}zz\r\n`);
    assert.ok(r.out.error);
    const p = r.parser;
    p.feed(Buffer.from('5\r\nhello\r\n0\r\n\r\n')); // feeding a failed parser is a no-op, not a throw
    p.finish();
    assert.equal(r.out.body, '');
    assert.equal(r.out.ends, 0);
  });

  it('a head larger than 64 KiB without its end is refused before it grows further', () => {
    const big = `HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(MAX_HEAD_BYTES)}`;
    const r = run();
    // In 4 KiB reads, as a socket would deliver them.
    for (let at = 0; at < big.length && r.out.error === null; at += 4096) r.feed(big.slice(at, at + 4096));
    assert.match(r.out.error ?? '', /larger than 64 KiB/);
    assert.equal(r.out.status, null);
    assert.equal(r.out.keepAlive, false);
  });

  it('a head larger than 64 KiB is refused even when its end arrives in the same read', () => {
    const out = parse(`HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(MAX_HEAD_BYTES)}\r\nContent-Length: 0\r\n\r\n`);
    assert.match(out.error ?? '', /larger than 64 KiB/);
    assert.equal(out.status, null);
  });

  it('a head just under 64 KiB is accepted', () => {
    const pad = MAX_HEAD_BYTES - 200;
    const out = parse(`HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(pad)}\r\nContent-Length: 0\r\n\r\n`, { pieces: [1000, 30_000] });
    assert.equal(out.error, null);
    assert.equal(out.headers?.[1]?.length, pad);
  });

  it('finish() before any byte: closed without answering', () => {
    const out = parse('', { finish: true });
    assert.equal(out.error, 'finish: upstream closed the connection without answering');
    assert.equal(out.ends, 0);
  });

  const truncated: [string, string][] = [
    ['mid-head', 'HTTP/1.1 200 OK\r\nContent-Len'],
    ['mid Content-Length body', 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello'],
    ['right after a Content-Length head', 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n'],
    ['mid chunk data', `${CHUNKED}a\r\nhello`],
    ['between chunks', `${CHUNKED}5\r\nhello\r\n`],
    ['before the trailers end', `${CHUNKED}0\r\n`],
  ];
  for (const [name, input] of truncated) {
    it(`finish() ${name}: closed mid-response`, () => {
      const out = parse(input, { finish: true });
      assert.equal(out.error, 'finish: upstream closed the connection mid-response');
      assert.equal(out.ends, 0);
      assert.equal(out.done, false);
    });
  }

  it('finish() twice after a truncation throws once', () => {
    const p = new ResponseParser({ onHead() {}, onBody() {}, onEnd() {} }, false);
    p.feed(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab'));
    assert.throws(() => p.finish(), UpstreamProtocolError);
    assert.doesNotThrow(() => p.finish());
  });
});
