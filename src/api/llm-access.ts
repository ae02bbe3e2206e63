import type { IncomingMessage } from 'node:http';
import type { HostingInfo } from '../domain/workspace.js';
import type { LlmVerdict } from '../edge/edge-contract.js';
import { bearerToken } from '../auth/tokens.js';
import { RequestRateLimiter } from '../auth/request-rate.js';
import type { AuthService, Principal } from '../services/auth.js';
import { LLM_TOKEN_PREFIX, type LlmTokens } from '../services/llm-tokens.js';
import { SESSION_COOKIE } from './authn.js';
import { cookieValue } from './upgrade-auth.js';

export interface LlmAccessDeps {
  auth: AuthService;
  llmTokens: LlmTokens;
  hostingFor: (req: IncomingMessage) => HostingInfo;
  /** Requests per minute per workspace (and per user); 0 = no limit. */
  ratePerMinute: number;
}

const refused = (message: string): LlmVerdict => ({ ok: false, workspaceId: null, error: { status: 401, code: 'E_UNAUTHORIZED', message } });
const NO_CREDENTIAL = refused('The LLM proxy needs a credential: send Authorization: Bearer $BERTH_LLM_TOKEN (or a Berth API token), or log in.');
const BAD_CREDENTIAL = refused('Unknown or revoked credential for the LLM proxy: use the workspace\'s current BERTH_LLM_TOKEN (rotate it with `berth ws llm-token`).');
const CROSS_SITE = refused('A Berth session counts for the LLM proxy only on requests from Berth\'s own origin.');
const READ_ONLY: LlmVerdict = {
  ok: false,
  workspaceId: null,
  error: { status: 403, code: 'E_FORBIDDEN', message: 'This API token may only read; spending the LLM key needs a token with the write scope.' },
};

/**
 * The edge's `/llm/` gate. Who may spend the operator's key: a workspace presenting its own
 * credential (`Authorization: Bearer berth_llm_…`, checked with a hash and a Map lookup), a user's
 * API token with the `write` scope (or the local CLI token), or a logged-in user's session cookie
 * on a same-origin request (Sec-Fetch-Site / Origin, so another site cannot spend it through the
 * user's browser). Anyone else gets 401; past the rate limit, 429 with Retry-After. None of these
 * credentials reaches the provider: the edge drops the client's Authorization and cookies.
 */
export function createLlmAccess(deps: LlmAccessDeps): (req: IncomingMessage) => LlmVerdict {
  const limiter = new RequestRateLimiter(deps.ratePerMinute);
  const limited = (key: string, workspaceId: string | null): LlmVerdict | null => {
    const waitMs = limiter.take(key);
    if (waitMs === 0) return null;
    const seconds = Math.max(1, Math.ceil(waitMs / 1000));
    return {
      ok: false,
      workspaceId,
      retryAfterSeconds: seconds,
      error: { status: 429, code: 'E_RATE_LIMITED', message: `LLM rate limit (${deps.ratePerMinute} requests per minute) reached; retry in ${seconds} s.` },
    };
  };
  const asUser = (p: Principal): LlmVerdict => limited(`user:${p.userId}`, null) ?? { ok: true, workspaceId: null };

  const sameOrigin = (req: IncomingMessage): boolean => {
    const site = req.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin' && site !== 'none') return false;
    const origin = req.headers.origin;
    if (origin === undefined) return true;
    const h = deps.hostingFor(req);
    return origin === `${h.proto}://${h.host}`;
  };

  return (req) => {
    const authorization = req.headers.authorization;
    if (authorization !== undefined) {
      const token = bearerToken(authorization);
      const workspaceId = deps.llmTokens.workspaceOf(token);
      if (workspaceId !== null) return limited(workspaceId, workspaceId) ?? { ok: true, workspaceId };
      // A missed or revoked workspace credential is no API token either: skip the store lookup.
      if (token?.startsWith(LLM_TOKEN_PREFIX)) return BAD_CREDENTIAL;
      const p = deps.auth.tokenPrincipal(token);
      if (!p) return BAD_CREDENTIAL;
      if (!p.scopes.has('write') && !p.scopes.has('admin')) return READ_ONLY;
      return asUser(p);
    }
    let session: string | undefined;
    try {
      session = cookieValue(req.headers.cookie, SESSION_COOKIE);
    } catch {
      // A malformed cookie is no session.
    }
    if (session === undefined) return NO_CREDENTIAL;
    if (!sameOrigin(req)) return CROSS_SITE;
    const p = deps.auth.sessionPrincipal(session);
    return p ? asUser(p) : NO_CREDENTIAL;
  };
}
