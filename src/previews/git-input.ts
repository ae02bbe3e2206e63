/**
 * What a preview may hand to `git`: clone URLs and branch/tag names, checked before they reach
 * git's argv (where they also come after `--`). Pure: no git, no network.
 */
import { BerthError } from '../errors.js';
import { quoteValue } from '../domain/image-ref.js';

/** Longest clone URL accepted (GitHub's are well under 200 characters). */
const CLONE_URL_MAX = 2048;

/**
 * Refuses clone URLs Berth must not fetch: only https (http on loopback), and file:// when allowed
 * (BERTH_ALLOW_FILE_REPOS, tests only); never whitespace or control characters, which the URL
 * parser would silently drop or keep. Callers pass the returned URL's `href` to git, not the input.
 */
export function checkCloneUrl(cloneUrl: string, allowFile: boolean): URL {
  const hint = "use the repository's https clone URL, like https://github.com/owner/name.git";
  if (cloneUrl.length > CLONE_URL_MAX || /[\s\x00-\x1f\x7f]/.test(cloneUrl)) {
    throw new BerthError('E_BAD_REQUEST', `clone URL ${quoteValue(cloneUrl)} is longer than ${CLONE_URL_MAX} characters or contains whitespace or control characters`, { hint });
  }
  let url: URL;
  try {
    url = new URL(cloneUrl);
  } catch {
    throw new BerthError('E_BAD_REQUEST', `not a clone URL: ${quoteValue(cloneUrl)}`, { hint });
  }
  if (url.protocol === 'https:') return url;
  if (url.protocol === 'http:' && (url.hostname === '127.0.0.1' || url.hostname === 'localhost' || url.hostname === '[::1]')) return url;
  if (url.protocol === 'file:' && allowFile) return url;
  throw new BerthError('E_BAD_REQUEST', `clone URL ${url.protocol}//… is not allowed`, {
    hint: url.protocol === 'file:' ? 'file:// repositories need BERTH_ALLOW_FILE_REPOS=1 (tests only)' : hint,
  });
}

/**
 * Why `ref` is not a branch or tag name Berth passes to git, or null. git's own rules
 * (check-ref-format) plus: never starting with `-` (an option), only `[A-Za-z0-9._/-]`.
 */
export function gitRefProblem(ref: string): string | null {
  const shown = quoteValue(ref);
  if (ref === '' || ref.length > 255) return `branch or tag ${shown} must be 1 to 255 characters`;
  if (ref.startsWith('-')) return `branch or tag ${shown} must not start with "-" (it would read as a git option)`;
  if (!/^[A-Za-z0-9._/-]+$/.test(ref)) return `branch or tag ${shown} may contain only letters, digits, ".", "_", "/" and "-"`;
  if (ref.includes('..') || ref.includes('//') || ref.startsWith('/') || ref.endsWith('/') || ref.endsWith('.') || ref.endsWith('.lock') || ref.split('/').some((c) => c.startsWith('.'))) {
    return `branch or tag ${shown} is not a valid git ref name`;
  }
  return null;
}
