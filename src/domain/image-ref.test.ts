import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { IMAGE_REF_MAX, imageRefProblem, parseImageRef } from './image-ref.js';

const HEX64 = 'a'.repeat(40) + '0123456789abcdef01234567';

describe('image references', () => {
  const valid: [string, { domain: string | null; path: string; tag: string | null; digest: string | null }][] = [
    ['busybox', { domain: null, path: 'busybox', tag: null, digest: null }],
    ['localhost/img:latest', { domain: 'localhost', path: 'img', tag: 'latest', digest: null }],
    ['docker.io/library/debian:12-slim', { domain: 'docker.io', path: 'library/debian', tag: '12-slim', digest: null }],
    [`ghcr.io/a/b@sha256:${HEX64}`, { domain: 'ghcr.io', path: 'a/b', tag: null, digest: `sha256:${HEX64}` }],
    ['localhost:5000/x/y:1', { domain: 'localhost:5000', path: 'x/y', tag: '1', digest: null }],
    [`quay.io/a_b/c__d/e-f--g.h:v1.2_3@sha256:${HEX64}`, { domain: 'quay.io', path: 'a_b/c__d/e-f--g.h', tag: 'v1.2_3', digest: `sha256:${HEX64}` }],
    ['library/nginx', { domain: null, path: 'library/nginx', tag: null, digest: null }],
    ['[::1]:5000/img', { domain: '[::1]:5000', path: 'img', tag: null, digest: null }],
    ['Registry.Example.com/img:TAG', { domain: 'Registry.Example.com', path: 'img', tag: 'TAG', digest: null }],
  ];
  for (const [ref, parts] of valid) {
    it(`accepts ${ref.slice(0, 60)}`, () => {
      assert.equal(imageRefProblem(ref), null);
      assert.deepEqual(parseImageRef(ref), parts);
    });
  }

  const invalid: [string, string, RegExp][] = [
    ['option', '--privileged', /must not start with "-"/],
    ['short option', '-v', /must not start with "-"/],
    ['option with value', '--volume=/:/host', /must not start with "-"/],
    ['leading space', ' img', /whitespace/],
    ['inner space', 'img name', /whitespace/],
    ['upper case', 'IMG', /invalid path component "IMG"/],
    ['empty component', 'a//b', /empty path component/],
    ['trailing slash', 'a/', /empty path component/],
    ['two tags', 'img:tag:tag', /invalid path component "img:tag"/],
    ['empty', '', /required/],
    ['too long', 'a'.repeat(300), /longer than 255/],
    ['way too long', 'a'.repeat(IMAGE_REF_MAX + 1), /longer than 512/],
    ['NUL', 'img\0', /control characters/],
    ['newline', 'img\n--privileged', /whitespace/],
    ['tab', 'img\t', /whitespace/],
    ['DEL', 'img\x7f', /control characters/],
    ['tag starting with -', 'img:-x', /invalid tag/],
    ['empty tag', 'img:', /invalid tag/],
    ['tag too long', `img:${'t'.repeat(129)}`, /invalid tag/],
    ['short sha256', 'img@sha256:abc', /invalid digest/],
    ['sha256 of 63 digits', `img@sha256:${HEX64.slice(1)}0`.slice(0, -1), /invalid sha256 digest/],
    ['digest without algorithm', `img@${HEX64}`, /invalid digest/],
    ['bad registry', 'bad_host.io/img', /invalid registry/],
    ['bad port', 'localhost:x/img', /invalid registry/],
    ['separator at the end', 'img-', /invalid path component/],
    ['triple underscore', 'a___b', /invalid path component/],
    ['only a tag', ':latest', /no image name/],
  ];
  for (const [what, ref, message] of invalid) {
    it(`refuses ${what}`, () => {
      const problem = imageRefProblem(ref);
      assert.ok(problem, `${JSON.stringify(ref)} must be refused`);
      assert.match(problem, message);
      assert.ok('problem' in parseImageRef(ref));
    });
  }

  it('refuses what is not a string, and keeps messages short', () => {
    assert.match(imageRefProblem(undefined) ?? '', /required/);
    assert.match(imageRefProblem(42) ?? '', /required/);
    assert.ok((imageRefProblem('a'.repeat(600)) ?? '').length < 200);
  });
});
