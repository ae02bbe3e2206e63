import type { GithubClient } from '../previews/github/client.js';
import type { PreviewRecord } from '../store/previews-repo.js';

/** One step of a preview's life as GitHub is told about it. */
export type PreviewReport =
  | { kind: 'building'; sha: string }
  | { kind: 'live'; sha: string }
  | { kind: 'failed'; sha: string; reason: string; stillServing: string | null }
  | { kind: 'destroyed'; sha: string };

const short = (sha: string): string => sha.slice(0, 7);

/** The PR comment's text for a report (the client adds the hidden marker). */
export function commentBody(p: PreviewRecord, r: PreviewReport): string {
  switch (r.kind) {
    case 'building':
      return p.generation > 0
        ? `**Berth preview** — building \`${short(r.sha)}\`… The current version stays live at ${p.url} until the new one is healthy.`
        : `**Berth preview** — building \`${short(r.sha)}\`…`;
    case 'live':
      return `**Berth preview** is live at ${p.url} (commit \`${short(r.sha)}\`).`;
    case 'failed': {
      const block = '```\n' + r.reason.slice(0, 4000) + '\n```';
      return r.stillServing
        ? `**Berth preview** — the update to \`${short(r.sha)}\` failed; ${p.url} still serves \`${short(r.stillServing)}\`.\n\n${block}`
        : `**Berth preview** — building \`${short(r.sha)}\` failed.\n\n${block}`;
    }
    case 'destroyed':
      return `**Berth preview** was destroyed (the pull request was closed).`;
  }
}

/**
 * Tells GitHub: a commit status on the SHA (building → pending, live → success, failed → failure;
 * nothing for destroyed) and the one upserted PR comment. Best effort is the caller's business.
 */
export async function reportPreview(github: GithubClient, p: PreviewRecord, sha: string, r: PreviewReport): Promise<void> {
  if (r.kind !== 'destroyed') {
    const status =
      r.kind === 'building'
        ? { state: 'pending' as const, description: `Building preview of ${short(sha)}` }
        : r.kind === 'live'
          ? { state: 'success' as const, description: 'Preview is live', targetUrl: p.url ?? undefined }
          : { state: 'failure' as const, description: `Preview failed: ${r.reason.split('\n')[0]}` };
    await github.setCommitStatus(p.repo, sha, status);
  }
  await github.upsertPrComment(p.repo, p.pr, commentBody(p, r));
}
