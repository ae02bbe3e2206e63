import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { syncBuiltinESMExports } from 'node:module';
import { signGithubPayload, verifyGithubSignature } from './verify.js';

// GitHub's documented example (docs: "Validating webhook deliveries").
const SECRET = "It's a Secret to Everybody";
const PAYLOAD = Buffer.from('Hello, World!');
const SIGNATURE = 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17';

test("GitHub's documented example verifies", () => {
  assert.equal(verifyGithubSignature(PAYLOAD, SIGNATURE, SECRET), true);
  assert.equal(signGithubPayload(PAYLOAD, SECRET), SIGNATURE);
});

test('a different body, secret or signature fails', () => {
  assert.equal(verifyGithubSignature(Buffer.from('Hello, World?'), SIGNATURE, SECRET), false);
  assert.equal(verifyGithubSignature(PAYLOAD, SIGNATURE, 'another secret'), false);
  const flipped = SIGNATURE.slice(0, -1) + (SIGNATURE.endsWith('7') ? '8' : '7');
  assert.equal(verifyGithubSignature(PAYLOAD, flipped, SECRET), false);
});

test('the raw bytes count: re-serialized JSON does not verify', () => {
  const raw = Buffer.from('{"zen": "Keep it logically awesome.",  "hook_id": 1}');
  const header = signGithubPayload(raw, SECRET);
  assert.equal(verifyGithubSignature(raw, header, SECRET), true);
  const reserialized = Buffer.from(JSON.stringify(JSON.parse(raw.toString())));
  assert.equal(verifyGithubSignature(reserialized, header, SECRET), false);
});

test('missing, malformed or wrongly sized headers are false, never a throw', () => {
  const hex = SIGNATURE.slice('sha256='.length);
  for (const header of [
    undefined,
    '',
    'sha256=',
    hex,
    `sha1=${hex}`,
    `sha256=${hex.slice(0, 62)}`,
    `sha256=${hex}00`,
    `sha256=${hex.slice(0, 63)}z`,
    `sha256=${hex} sha256=${hex}`,
  ]) {
    assert.equal(verifyGithubSignature(PAYLOAD, header, SECRET), false, String(header));
  }
});

test('an empty secret never verifies, even against a signature made with it', () => {
  assert.equal(verifyGithubSignature(PAYLOAD, signGithubPayload(PAYLOAD, ''), ''), false);
});

test('uppercase hex and surrounding whitespace are tolerated', () => {
  assert.equal(verifyGithubSignature(PAYLOAD, ` sha256=${SIGNATURE.slice(7).toUpperCase()} `, SECRET), true);
});

test('the comparison is constant-time: timingSafeEqual over the two 32-byte digests decides', () => {
  // node:crypto's ESM named exports follow the CommonJS object after syncBuiltinESMExports(),
  // so verify.ts's `timingSafeEqual` binding sees the spy. A `===` / Buffer.equals / hex-string
  // comparison would make no call here and fail; ignoring its verdict fails the second half.
  const original = crypto.timingSafeEqual;
  const calls: Array<[number, number]> = [];
  let verdict: boolean | null = null;
  crypto.timingSafeEqual = (a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView): boolean => {
    calls.push([a.byteLength, b.byteLength]);
    return verdict ?? original(a, b);
  };
  syncBuiltinESMExports();
  try {
    assert.equal(verifyGithubSignature(PAYLOAD, SIGNATURE, SECRET), true);
    const flipped = SIGNATURE.slice(0, -1) + (SIGNATURE.endsWith('7') ? '8' : '7');
    assert.equal(verifyGithubSignature(PAYLOAD, flipped, SECRET), false);
    assert.deepEqual(calls, [[32, 32], [32, 32]], 'each verification compares the two digests with timingSafeEqual');
    verdict = false;
    assert.equal(verifyGithubSignature(PAYLOAD, SIGNATURE, SECRET), false, "timingSafeEqual's verdict is the answer");
    verdict = true;
    assert.equal(verifyGithubSignature(PAYLOAD, flipped, SECRET), true, "timingSafeEqual's verdict is the answer");
  } finally {
    crypto.timingSafeEqual = original;
    syncBuiltinESMExports();
  }
});
