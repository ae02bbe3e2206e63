/**
 * A pull request's checkout is untrusted: a committed symlink such as `web/config → /etc/shadow`
 * or `Containerfile → /root/.ssh/id_ed25519` would make the build context, `berth.preview.yaml`
 * or the `.preview.env` Berth writes reach outside the repository. Before any of them is used,
 * every symlink of the checkout must resolve inside it — both as written (lexically, which also
 * covers dangling links) and as the filesystem resolves it now (realpath, for chains).
 */
import { lstat, readdir, readlink, realpath } from 'node:fs/promises';
import path from 'node:path';
import { BerthError } from '../errors.js';

/** A symlink that leaves the repository: its path relative to the root, and its target as written. */
export interface EscapingLink {
  path: string;
  target: string;
}

/** How many offending links are named in the error (all are found; the message stays readable). */
const SHOWN = 10;

/** Every symlink under `root` (`.git` excluded) that resolves outside it. */
export async function findEscapingLinks(root: string): Promise<EscapingLink[]> {
  const realRoot = await realpath(root);
  const inside = (p: string): boolean => p === realRoot || p.startsWith(realRoot + path.sep);
  const out: EscapingLink[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (dir === realRoot && entry.name === '.git') continue;
      if (entry.isSymbolicLink()) {
        const target = await readlink(full);
        const lexical = path.resolve(dir, target);
        const resolved = await realpath(full).catch(() => null);
        if (!inside(lexical) || (resolved !== null && !inside(resolved))) out.push({ path: path.relative(realRoot, full), target });
      } else if (entry.isDirectory()) {
        await walk(full);
      }
    }
  };
  await walk(realRoot);
  return out;
}

/** Throws E_PREVIEW_BUILD naming the symlinks of `root` that leave it; resolves when there are none. */
export async function refuseEscapingLinks(root: string): Promise<void> {
  if (!(await lstat(root)).isDirectory()) throw new BerthError('E_PREVIEW_BUILD', `checkout ${root} is not a directory`);
  const links = await findEscapingLinks(root);
  if (links.length === 0) return;
  const named = links.slice(0, SHOWN).map((l) => `${l.path} → ${l.target}`).join(', ');
  const more = links.length > SHOWN ? ` and ${links.length - SHOWN} more` : '';
  throw new BerthError('E_PREVIEW_BUILD', `the checkout has symlinks that leave the repository: ${named}${more}`, {
    hint: 'replace them with files, or with links to paths inside the repository, and push again',
  });
}
