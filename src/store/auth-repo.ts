import type { Db } from './db.js';

export type Role = 'admin' | 'member';

export interface User {
  id: string;
  username: string;
  role: Role;
  passwordHash: string | null;
  createdAt: string;
}

export interface SessionRow {
  idHash: string;
  userId: string;
  csrfToken: string;
  createdAt: number;
  lastSeenAt: number;
}

export interface ApiToken {
  id: string;
  userId: string;
  name: string;
  scopes: string[];
  createdAt: string;
  lastUsedAt: string | null;
}

export interface AuditEntry {
  id: number;
  at: string;
  actor: string;
  action: string;
  target: string | null;
  ip: string | null;
  detail: Record<string, unknown> | null;
}

interface UserRow {
  id: string;
  username: string;
  role: Role;
  password_hash: string | null;
  created_at: string;
}

const toUser = (r: UserRow): User => ({ id: r.id, username: r.username, role: r.role, passwordHash: r.password_hash, createdAt: r.created_at });

/** Users, sessions, API tokens, audit log and small key/values. Synchronous (better-sqlite3). */
export class AuthRepo {
  constructor(private readonly db: Db) {}

  // ── users ──
  userByName(username: string): User | undefined {
    const r = this.db.prepare<[string], UserRow>('SELECT * FROM users WHERE username = ?').get(username);
    return r && toUser(r);
  }
  userById(id: string): User | undefined {
    const r = this.db.prepare<[string], UserRow>('SELECT * FROM users WHERE id = ?').get(id);
    return r && toUser(r);
  }
  listUsers(): User[] {
    return this.db.prepare<[], UserRow>('SELECT * FROM users ORDER BY created_at, username').all().map(toUser);
  }
  insertUser(u: { id: string; username: string; role: Role; passwordHash: string | null }): void {
    this.db
      .prepare('INSERT INTO users (id, username, role, password_hash, created_at) VALUES (?, ?, ?, ?, ?)')
      .run(u.id, u.username, u.role, u.passwordHash, new Date().toISOString());
  }
  setPassword(userId: string, hash: string): void {
    this.db.transaction(() => {
      this.db.prepare('UPDATE users SET password_hash = ? WHERE id = ?').run(hash, userId);
      // A new password ends every session of the account.
      this.db.prepare('DELETE FROM sessions WHERE user_id = ?').run(userId);
    })();
  }
  deleteUser(userId: string): void {
    this.db.prepare('DELETE FROM users WHERE id = ?').run(userId);
  }

  // ── sessions ──
  insertSession(s: SessionRow & { ip: string | null }): void {
    this.db
      .prepare('INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, last_seen_at, ip) VALUES (?, ?, ?, ?, ?, ?)')
      .run(s.idHash, s.userId, s.csrfToken, s.createdAt, s.lastSeenAt, s.ip);
  }
  session(idHash: string): SessionRow | undefined {
    const r = this.db
      .prepare<[string], { id_hash: string; user_id: string; csrf_token: string; created_at: number; last_seen_at: number }>(
        'SELECT * FROM sessions WHERE id_hash = ?',
      )
      .get(idHash);
    return r && { idHash: r.id_hash, userId: r.user_id, csrfToken: r.csrf_token, createdAt: r.created_at, lastSeenAt: r.last_seen_at };
  }
  touchSession(idHash: string, now: number): void {
    this.db.prepare('UPDATE sessions SET last_seen_at = ? WHERE id_hash = ?').run(now, idHash);
  }
  deleteSession(idHash: string): void {
    this.db.prepare('DELETE FROM sessions WHERE id_hash = ?').run(idHash);
  }
  deleteExpiredSessions(idleBefore: number, createdBefore: number): number {
    return this.db.prepare('DELETE FROM sessions WHERE last_seen_at < ? OR created_at < ?').run(idleBefore, createdBefore).changes;
  }

  // ── API tokens ──
  insertToken(t: ApiToken & { tokenHash: string }): void {
    this.db
      .prepare('INSERT INTO api_tokens (id, user_id, name, token_hash, scopes, created_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?, NULL)')
      .run(t.id, t.userId, t.name, t.tokenHash, JSON.stringify(t.scopes), t.createdAt);
  }
  tokenByHash(hash: string): ApiToken | undefined {
    const r = this.db
      .prepare<[string], { id: string; user_id: string; name: string; scopes: string; created_at: string; last_used_at: string | null }>(
        'SELECT * FROM api_tokens WHERE token_hash = ?',
      )
      .get(hash);
    return r && { id: r.id, userId: r.user_id, name: r.name, scopes: JSON.parse(r.scopes) as string[], createdAt: r.created_at, lastUsedAt: r.last_used_at };
  }
  listTokens(userId: string | null): ApiToken[] {
    const rows = (userId
      ? this.db.prepare('SELECT * FROM api_tokens WHERE user_id = ? ORDER BY created_at').all(userId)
      : this.db.prepare('SELECT * FROM api_tokens ORDER BY created_at').all()) as {
      id: string;
      user_id: string;
      name: string;
      scopes: string;
      created_at: string;
      last_used_at: string | null;
    }[];
    return rows.map((r) => ({ id: r.id, userId: r.user_id, name: r.name, scopes: JSON.parse(r.scopes) as string[], createdAt: r.created_at, lastUsedAt: r.last_used_at }));
  }
  touchToken(id: string): void {
    this.db.prepare('UPDATE api_tokens SET last_used_at = ? WHERE id = ?').run(new Date().toISOString(), id);
  }
  deleteToken(id: string): number {
    return this.db.prepare('DELETE FROM api_tokens WHERE id = ?').run(id).changes;
  }
  tokenById(id: string): ApiToken | undefined {
    return this.listTokens(null).find((t) => t.id === id);
  }

  // ── audit ──
  audit(e: Omit<AuditEntry, 'id' | 'at'>): void {
    this.db
      .prepare('INSERT INTO audit_log (at, actor, action, target, ip, detail) VALUES (?, ?, ?, ?, ?, ?)')
      .run(new Date().toISOString(), e.actor, e.action, e.target, e.ip, e.detail ? JSON.stringify(e.detail) : null);
  }
  listAudit(limit: number): AuditEntry[] {
    const rows = this.db
      .prepare<[number], { id: number; at: string; actor: string; action: string; target: string | null; ip: string | null; detail: string | null }>(
        'SELECT * FROM audit_log ORDER BY id DESC LIMIT ?',
      )
      .all(limit);
    return rows.map((r) => ({ ...r, detail: r.detail ? (JSON.parse(r.detail) as Record<string, unknown>) : null }));
  }

  // ── meta ──
  getMeta(key: string): string | undefined {
    return this.db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?').get(key)?.value;
  }
  setMeta(key: string, value: string | null): void {
    if (value === null) this.db.prepare('DELETE FROM meta WHERE key = ?').run(key);
    else this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(key, value);
  }
}
