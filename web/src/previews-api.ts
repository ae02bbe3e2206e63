/** Pull-request previews as the API presents them (src/api/routes/previews.ts). */
import type { LiveList } from './live.js';

export type PreviewState = 'building' | 'running' | 'failed' | 'destroying';

/** One entry of `GET api/previews`. */
export interface Preview {
  id: string;
  repo: string;
  pr: number;
  sha: string;
  ref: string | null;
  state: PreviewState;
  /** Why it failed, or what an update is doing while the old commit still serves. */
  reason: string | null;
  url: string | null;
  /** Generation that serves (0: none yet). */
  generation: number;
  services: { name: string; hostPort: number | null; upstream: string | null }[];
  routes: { path: string; service: string }[];
  database: string | null;
  ttlSeconds: number | null;
  createdAt: string;
  updatedAt: string;
}

/** Previews as the event stream carries them (`preview` / `preview-removed` with the id). */
export const PREVIEWS: LiveList<Preview> = { path: 'api/previews', field: 'previews', kind: 'preview', key: 'id' };

/** `GET api/previews/:id`: the preview and the log of its last build. */
export interface PreviewDetail extends Preview {
  buildLog: string;
}

/** Previews grouped by repository (sorted by name), each group by PR number, newest first. */
export function byRepository(list: Preview[]): [string, Preview[]][] {
  const groups = new Map<string, Preview[]>();
  for (const p of list) groups.set(p.repo, [...(groups.get(p.repo) ?? []), p]);
  return [...groups.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([repo, ps]) => [repo, ps.sort((x, y) => y.pr - x.pr)]);
}

/** `abc1234` for a commit SHA. */
export const shortSha = (sha: string): string => sha.slice(0, 7);
