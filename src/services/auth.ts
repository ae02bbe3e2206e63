import { createHash, randomBytes } from 'node:crypto';
import type { BerthConfig } from '../config/schema.js';
import { BerthError } from '../errors.js';
import { newId } from '../domain/ids.js';
import type { Logger } from '../log.js';
import { checkPasswordStrength, dummyPasswordHash, hashPassword, verifyPassword } from '../auth/passwords.js';
import { LoginLimiter } from '../auth/rate-limit.js';
import type { ApiToken, AuditEntry, AuthRepo, Role, User } from '../store/auth-repo.js';
import { TOKEN_PREFIX, tokenMatches } from '../auth/tokens.js';

/** Scopes an API token may carry: `read` (GET), `write` (change own workloads), `admin` (everything an admin may do). */
export const TOKEN_SCOPES = ['read', 'write', 'admin'] as const;
export type TokenScope = (typeof TOKEN_SCOPES)[number];

/** Who is making a request, once authenticated. */
export interface Principal {
  userId: string;
  username: string;
  role: Role;
  via: 'local-token' | 'api-token' | 'session';
  scopes: ReadonlySet<TokenScope>;
  /** Session principals only: the token state-changing requests must echo (CSRF). */
  csrfToken?: string;
  sessionHash?: string;
}

const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');
const USERNAME_RE = /^[a-z][a-z0-9_.-]{1,31}$/;
const ALL_SCOPES: ReadonlySet<TokenScope> = new Set(TOKEN_SCOPES);
/** Longest wait the per-account cap imposes: it slows guessing, it never locks the account out. */
const ACCOUNT_MAX_DELAY_MS = 3_000;

/**
 * Whether `p` acts with an admin's full rights: an admin, and through an API token only one that
 * carries the `admin` scope. What admins alone may do or read (secrets included) checks this.
 */
export const isAdmin = (p: Pick<Principal, 'role' | 'scopes'>): boolean => p.role === 'admin' && p.scopes.has('admin');

/** Public view of a user (never the hash). */
export const presentUser = (u: User) => ({ id: u.id, username: u.username, role: u.role, createdAt: u.createdAt });

/**
 * Accounts, sessions, API tokens and the audit log. No request is trusted for its source address:
 * the local CLI token file, an API token or a session cookie is the only way in.
 */
export class AuthService {
  /**
   * Per (account, address): few free attempts, then waits growing to 15 minutes. Keyed by both so
   * that someone guessing from one address locks out that address only, never the account's owner
   * at another one (a per-account lock was a remote lockout of the admin).
   */
  private readonly pairLimiter = new LoginLimiter(5);
  /** Per address, across accounts: more, since many people may share one address (NAT, a proxy). */
  private readonly addressLimiter = new LoginLimiter(20);
  /**
   * Per account, across addresses: caps guessing from many addresses at one attempt every few
   * seconds (the wait never exceeds ACCOUNT_MAX_DELAY_MS). It applies only to addresses that have
   * failed on this account themselves: one that has not (the owner at home) is never held back by
   * others' failures, and a botnet's fresh addresses each get one attempt before the cap holds.
   */
  private readonly accountLimiter = new LoginLimiter(10, 15 * 60_000, ACCOUNT_MAX_DELAY_MS);

  constructor(
    private readonly deps: { repo: AuthRepo; config: BerthConfig; log: Logger; localToken: string },
  ) {}

  /**
   * First start: creates `admin` with BERTH_ADMIN_PASSWORD, or without a password and returns a
   * one-time setup token (the caller prints the setup URL). Later starts return a fresh setup
   * token only while the admin still has no password.
   */
  async bootstrap(): Promise<{ setupToken: string | null }> {
    const { repo, config } = this.deps;
    let admin = repo.userByName('admin');
    if (!admin) {
      repo.insertUser({ id: newId(), username: 'admin', role: 'admin', passwordHash: null });
      admin = repo.userByName('admin')!;
    }
    if (admin.passwordHash) return { setupToken: null };
    if (config.adminPassword) {
      repo.setPassword(admin.id, await hashPassword(config.adminPassword));
      return { setupToken: null };
    }
    const setupToken = randomBytes(24).toString('base64url');
    repo.setMeta('setup_token_hash', sha256(setupToken));
    return { setupToken };
  }

  /** Sets the admin password with the one-time setup token. */
  async setup(token: string, password: string, ip: string | null): Promise<void> {
    const { repo } = this.deps;
    const expected = repo.getMeta('setup_token_hash');
    const admin = repo.userByName('admin');
    if (!expected || !admin || admin.passwordHash || !tokenMatches(sha256(token), expected)) {
      throw new BerthError('E_UNAUTHORIZED', 'invalid or used setup token', { hint: 'restart `berth up` for a new setup URL' });
    }
    const weak = checkPasswordStrength(password);
    if (weak) throw new BerthError('E_BAD_REQUEST', weak);
    repo.setPassword(admin.id, await hashPassword(password));
    repo.setMeta('setup_token_hash', null);
    repo.audit({ actor: 'admin', action: 'auth.setup', target: 'admin', ip, detail: null });
  }

  /**
   * Checks credentials and opens a session. Rate-limited per (account, address), per address, and
   * — for addresses that failed on this account before — by a short per-account cap (see the
   * limiters above). `ip` is the client address as trusted proxies vouch for it.
   */
  async login(username: string, password: string, ip: string): Promise<{ sessionId: string; csrfToken: string; user: User }> {
    const { repo } = this.deps;
    const pair = `${username}\n${ip}`;
    const wait = Math.max(
      this.pairLimiter.retryAfterMs(pair),
      this.addressLimiter.retryAfterMs(ip),
      this.pairLimiter.hasFailed(pair) ? this.accountLimiter.retryAfterMs(username) : 0,
    );
    if (wait > 0) {
      throw new BerthError('E_RATE_LIMITED', `too many failed logins; try again in ${Math.ceil(wait / 1000)} s`, {
        hint: 'wait, then try again',
      });
    }
    const user = repo.userByName(username);
    // Same work and the same answer for an unknown user and a wrong password.
    const ok = await verifyPassword(password, user?.passwordHash ?? (await dummyPasswordHash()));
    if (!user || !user.passwordHash || !ok) {
      this.pairLimiter.fail(pair);
      this.addressLimiter.fail(ip);
      this.accountLimiter.fail(username);
      repo.audit({ actor: username.slice(0, 64), action: 'auth.login_failed', target: null, ip, detail: null });
      throw new BerthError('E_UNAUTHORIZED', 'wrong username or password');
    }
    // Only this (account, address) resets: a guesser must not clear its address by logging in to
    // an account of its own, nor the owner's login the cap others' failures put on the account.
    this.pairLimiter.succeed(pair);
    const sessionId = randomBytes(32).toString('base64url');
    const csrfToken = randomBytes(24).toString('base64url');
    const now = Date.now();
    repo.insertSession({ idHash: sha256(sessionId), userId: user.id, csrfToken, createdAt: now, lastSeenAt: now, ip });
    repo.audit({ actor: user.username, action: 'auth.login', target: null, ip, detail: null });
    return { sessionId, csrfToken, user };
  }

  logout(p: Principal, ip: string | null): void {
    if (p.sessionHash) this.deps.repo.deleteSession(p.sessionHash);
    this.deps.repo.audit({ actor: p.username, action: 'auth.logout', target: null, ip, detail: null });
  }

  /** The principal of a session cookie, or null when unknown, idle too long or too old. */
  sessionPrincipal(sessionId: string | undefined): Principal | null {
    if (!sessionId) return null;
    const { repo, config } = this.deps;
    const idHash = sha256(sessionId);
    const s = repo.session(idHash);
    if (!s) return null;
    const now = Date.now();
    if (now - s.lastSeenAt > config.sessionIdleMinutes * 60_000 || now - s.createdAt > config.sessionMaxHours * 3_600_000) {
      repo.deleteSession(idHash);
      return null;
    }
    const user = repo.userById(s.userId);
    if (!user) return null;
    // One write per minute per session is enough to track idleness.
    if (now - s.lastSeenAt > 60_000) repo.touchSession(idHash, now);
    return { userId: user.id, username: user.username, role: user.role, via: 'session', scopes: ALL_SCOPES, csrfToken: s.csrfToken, sessionHash: idHash };
  }

  /** A full-rights principal for a user id (app-origin sessions from the hand-off), or null. */
  principalForUser(userId: string): Principal | null {
    const user = this.deps.repo.userById(userId);
    return user ? { userId: user.id, username: user.username, role: user.role, via: 'session', scopes: ALL_SCOPES } : null;
  }

  /** The principal of a bearer token: the local CLI token (acts as admin) or an API token. */
  tokenPrincipal(token: string | undefined): Principal | null {
    if (!token || !token.startsWith(TOKEN_PREFIX)) return null;
    const { repo } = this.deps;
    if (tokenMatches(token, this.deps.localToken)) {
      const admin = repo.userByName('admin');
      if (!admin) return null;
      return { userId: admin.id, username: admin.username, role: 'admin', via: 'local-token', scopes: ALL_SCOPES };
    }
    const t = repo.tokenByHash(sha256(token));
    if (!t) return null;
    const user = repo.userById(t.userId);
    if (!user) return null;
    repo.touchToken(t.id);
    const scopes = new Set(t.scopes.filter((s): s is TokenScope => (TOKEN_SCOPES as readonly string[]).includes(s)));
    // A member's token never grants admin, whatever it says.
    if (user.role !== 'admin') scopes.delete('admin');
    return { userId: user.id, username: user.username, role: user.role, via: 'api-token', scopes };
  }

  // ── users ──
  listUsers(): User[] {
    return this.deps.repo.listUsers();
  }

  async addUser(actor: Principal, input: { username: string; password: string; role: Role }, ip: string | null): Promise<User> {
    const { repo } = this.deps;
    if (!USERNAME_RE.test(input.username)) {
      throw new BerthError('E_BAD_REQUEST', 'username must be 2–32 characters: lowercase letters, digits, _ . - (starting with a letter)');
    }
    const weak = checkPasswordStrength(input.password);
    if (weak) throw new BerthError('E_BAD_REQUEST', weak);
    if (repo.userByName(input.username)) throw new BerthError('E_NAME_TAKEN', `user "${input.username}" already exists`);
    const id = newId();
    repo.insertUser({ id, username: input.username, role: input.role, passwordHash: await hashPassword(input.password) });
    repo.audit({ actor: actor.username, action: 'user.add', target: input.username, ip, detail: { role: input.role } });
    return repo.userById(id)!;
  }

  /** A user by id, or undefined (for display: owners of workspaces). */
  findUserSafe(id: string): User | undefined {
    return this.deps.repo.userById(id);
  }

  findUser(idOrName: string): User {
    const u = this.deps.repo.userById(idOrName) ?? this.deps.repo.userByName(idOrName);
    if (!u) throw new BerthError('E_NOT_FOUND', `user "${idOrName}" not found`);
    return u;
  }

  removeUser(actor: Principal, idOrName: string, ip: string | null): void {
    const u = this.findUser(idOrName);
    if (u.username === 'admin') throw new BerthError('E_INVALID_STATE', 'the admin account cannot be removed');
    this.deps.repo.deleteUser(u.id);
    this.deps.repo.audit({ actor: actor.username, action: 'user.remove', target: u.username, ip, detail: null });
  }

  async setPassword(actor: Principal, idOrName: string, password: string, ip: string | null): Promise<void> {
    const u = this.findUser(idOrName);
    if (actor.role !== 'admin' && actor.userId !== u.id) throw new BerthError('E_NOT_FOUND', `user "${idOrName}" not found`);
    const weak = checkPasswordStrength(password);
    if (weak) throw new BerthError('E_BAD_REQUEST', weak);
    this.deps.repo.setPassword(u.id, await hashPassword(password));
    this.deps.repo.audit({ actor: actor.username, action: 'user.passwd', target: u.username, ip, detail: null });
  }

  // ── API tokens ──
  createToken(actor: Principal, name: string, scopes: TokenScope[], ip: string | null): { token: string; info: ApiToken } {
    if (scopes.includes('admin') && actor.role !== 'admin') throw new BerthError('E_FORBIDDEN', 'only admins can create admin tokens');
    const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
    const info: ApiToken = { id: newId(), userId: actor.userId, name, scopes, createdAt: new Date().toISOString(), lastUsedAt: null };
    this.deps.repo.insertToken({ ...info, tokenHash: sha256(token) });
    this.deps.repo.audit({ actor: actor.username, action: 'token.create', target: name, ip, detail: { id: info.id, scopes } });
    return { token, info };
  }

  listTokens(actor: Principal): ApiToken[] {
    return this.deps.repo.listTokens(actor.role === 'admin' ? null : actor.userId);
  }

  revokeToken(actor: Principal, id: string, ip: string | null): void {
    const t = this.deps.repo.tokenById(id);
    if (!t || (actor.role !== 'admin' && t.userId !== actor.userId)) throw new BerthError('E_NOT_FOUND', `token ${id} not found`);
    this.deps.repo.deleteToken(id);
    this.deps.repo.audit({ actor: actor.username, action: 'token.revoke', target: t.name, ip, detail: { id } });
  }

  // ── audit ──
  audit(actor: Principal | string, action: string, target: string | null, ip: string | null, detail: Record<string, unknown> | null = null): void {
    this.deps.repo.audit({ actor: typeof actor === 'string' ? actor : actor.username, action, target, ip, detail });
  }

  listAudit(limit: number): AuditEntry[] {
    return this.deps.repo.listAudit(limit);
  }
}
