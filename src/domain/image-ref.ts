/**
 * OCI image references, checked against the distribution reference grammar
 * (github.com/distribution/reference, `regexp.go`) before any of them reaches an engine's argv:
 *
 * ```
 * reference      := name [ ":" tag ] [ "@" digest ]
 * name           := [ domain "/" ] path-component { "/" path-component }
 * domain         := host [ ":" port ]        host := domain-name | IPv4 | "[" IPv6 "]"
 * path-component := [a-z0-9]+ { ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ }
 * tag            := [\w][\w.-]{0,127}
 * digest         := algorithm ":" hex        (sha256: 64 hex digits)
 * ```
 *
 * A reference can therefore never begin with `-`, contain whitespace, control characters or
 * upper-case path components — which is what keeps `--privileged` from being read as an engine
 * option. Pure: no I/O, no engine.
 */

/** Longest reference accepted (the grammar caps the name at 255; tag and digest come on top). */
export const IMAGE_REF_MAX = 512;
/** Longest name (domain and path) the distribution grammar allows. */
const NAME_MAX = 255;

const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN_RE = new RegExp(`^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[0-9a-fA-F:.]+\\])(?::[0-9]{1,5})?$`);
const PATH_COMPONENT_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG_RE = /^[\w][\w.-]{0,127}$/;
const DIGEST_RE = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[0-9a-fA-F]{32,}$/;

/** The parts of a valid reference. */
export interface ImageRef {
  /** Registry host (and port), or null when the reference names none (e.g. `busybox`). */
  domain: string | null;
  /** Repository path below the domain (`library/debian`). */
  path: string;
  tag: string | null;
  digest: string | null;
}

/** Parses `ref`; `{ problem }` says in words what is wrong with it. Never throws. */
export function parseImageRef(ref: unknown): ImageRef | { problem: string } {
  if (typeof ref !== 'string' || ref === '') return { problem: 'an image reference is required' };
  if (ref.length > IMAGE_REF_MAX) return { problem: `is longer than ${IMAGE_REF_MAX} characters` };
  // Checked first and said plainly: these are what an injection attempt looks like.
  if (ref.startsWith('-')) return { problem: 'must not start with "-" (it would read as an engine option)' };
  if (/[\s\x00-\x1f\x7f]/.test(ref)) return { problem: 'must not contain whitespace or control characters' };

  let rest = ref;
  let digest: string | null = null;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST_RE.test(digest)) return { problem: `has an invalid digest "${digest}" (expected algorithm:hex, e.g. sha256:<64 hex digits>)` };
    if (digest.startsWith('sha256:') && !/^sha256:[0-9a-f]{64}$/.test(digest)) return { problem: 'has an invalid sha256 digest (64 lower-case hex digits)' };
  }
  // A tag follows the last ":" after the last "/" (a ":" before it is the registry's port).
  let tag: string | null = null;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG_RE.test(tag)) return { problem: `has an invalid tag "${tag}" (letters, digits, "_", "." and "-", at most 128, not starting with "." or "-")` };
  }
  if (rest === '') return { problem: 'has no image name' };
  if (rest.length > NAME_MAX) return { problem: `has a name longer than ${NAME_MAX} characters` };

  const parts = rest.split('/');
  let domain: string | null = null;
  // Docker's rule: the first part is a registry when more parts follow and it looks like a host.
  const first = parts[0]!;
  if (parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost' || first.startsWith('['))) {
    if (!DOMAIN_RE.test(first)) return { problem: `has an invalid registry "${first}"` };
    domain = first;
    parts.shift();
  }
  for (const part of parts) {
    if (part === '') return { problem: 'has an empty path component ("//" or a leading or trailing "/")' };
    if (!PATH_COMPONENT_RE.test(part)) {
      return { problem: `has an invalid path component "${part}" (lower-case letters and digits, separated by ".", "_", "__" or "-")` };
    }
  }
  return { domain, path: parts.join('/'), tag, digest };
}

/**
 * What is wrong with `ref` in words that follow its field name (`"--privileged" must not start
 * with "-" …`), or null when it is valid. For messages that already say "image:" (zod paths).
 */
export function imageRefIssue(ref: unknown): string | null {
  const parsed = parseImageRef(ref);
  return 'problem' in parsed ? `${quoteValue(ref)} ${parsed.problem}` : null;
}

/** Why `ref` is not a valid image reference (`image "--privileged" must not …`), or null when it is. */
export function imageRefProblem(ref: unknown): string | null {
  const issue = imageRefIssue(ref);
  return issue === null ? null : `image ${issue}`;
}

/** A refused value as messages show it: JSON-quoted (control characters escaped), at most 80 characters. */
export function quoteValue(value: unknown): string {
  const text = JSON.stringify(typeof value === 'string' ? value : String(value));
  return text.length > 80 ? `${text.slice(0, 77)}…"` : text;
}

/** What a user can do about a refused image reference. */
export const IMAGE_REF_HINT = 'give an image reference like busybox, localhost/app:dev or docker.io/library/debian:12-slim';
