import { newToken, TOKEN_PREFIX, tokenHash } from '../auth/tokens.js';
import type { LlmTokensRepo } from '../store/llm-tokens-repo.js';

/** LLM credentials look like `berth_llm_…`: a Berth token, so the edge never forwards one to a workload. */
export const LLM_TOKEN_PREFIX = `${TOKEN_PREFIX}llm_`;

/**
 * Per-workspace credentials for `/llm/`: the edge swaps one for the operator's key, so no workload
 * ever holds that key. Only a SHA-256 hash is stored; the plain token exists once, when it is
 * issued (into the workload's environment, or the caller of a rotation).
 *
 * The edge checks a presented token with one hash and one Map lookup (`workspaceOf`): the Map is
 * loaded at start, updated by `issue`/`revoke`, and reloaded from the store by `reload()` after
 * changes made past this class (the reconciler deleting a workspace row cascades to its token).
 * A Map keyed by a SHA-256 of a 256-bit random token leaks nothing useful through lookup timing.
 */
export class LlmTokens {
  private byHash = new Map<string, string>();

  constructor(private readonly repo: LlmTokensRepo) {
    this.reload();
  }

  /** Mints a new credential for the workspace, revoking any previous one; returns it in clear (once). */
  issue(workspaceId: string): string {
    const token = newToken('llm');
    const hash = tokenHash(token);
    this.repo.set(workspaceId, hash);
    for (const [h, id] of this.byHash) if (id === workspaceId) this.byHash.delete(h);
    this.byHash.set(hash, workspaceId);
    return token;
  }

  revoke(workspaceId: string): void {
    this.repo.delete(workspaceId);
    for (const [h, id] of this.byHash) if (id === workspaceId) this.byHash.delete(h);
  }

  /** The workspace a presented credential belongs to, or null (unknown, revoked, not an LLM token). */
  workspaceOf(token: string | undefined): string | null {
    if (!token || !token.startsWith(LLM_TOKEN_PREFIX)) return null;
    return this.byHash.get(tokenHash(token)) ?? null;
  }

  /** Re-reads every hash from the store (one small query); swaps the Map in one assignment. */
  reload(): void {
    this.byHash = new Map(this.repo.all().map((r) => [r.tokenHash, r.workspaceId]));
  }
}
