import type { Db } from './db.js';

/** One workspace's LLM credential as stored: its hash only. */
export interface LlmTokenRow {
  workspaceId: string;
  tokenHash: string;
}

/**
 * `workspace_llm_tokens`: at most one credential hash per workspace. Rows go with their
 * workspace (ON DELETE CASCADE), so every path that deletes a workspace row revokes it.
 */
export class LlmTokensRepo {
  constructor(private readonly db: Db) {}

  /** Replaces the workspace's credential (a rotation revokes the old one in the same statement). */
  set(workspaceId: string, tokenHash: string): void {
    this.db
      .prepare(
        `INSERT INTO workspace_llm_tokens (workspace_id, token_hash, created_at) VALUES (?, ?, ?)
         ON CONFLICT (workspace_id) DO UPDATE SET token_hash = excluded.token_hash, created_at = excluded.created_at`,
      )
      .run(workspaceId, tokenHash, new Date().toISOString());
  }

  delete(workspaceId: string): void {
    this.db.prepare('DELETE FROM workspace_llm_tokens WHERE workspace_id = ?').run(workspaceId);
  }

  all(): LlmTokenRow[] {
    return this.db
      .prepare<[], { workspace_id: string; token_hash: string }>('SELECT workspace_id, token_hash FROM workspace_llm_tokens')
      .all()
      .map((r) => ({ workspaceId: r.workspace_id, tokenHash: r.token_hash }));
  }
}
