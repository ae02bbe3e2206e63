import { z } from 'zod';

/**
 * The parts of GitHub webhook payloads Berth reads, and the pure decision of what a delivery
 * means. Schemas are deliberately loose about everything Berth ignores (objects keep only the
 * listed keys) and strict about what it acts on (names, numbers, SHAs).
 */

/** `owner/name` as GitHub spells it; no slashes or dots-only segments beyond that. */
export const REPO_FULL_NAME_RE = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/;
/** SHA-1 or SHA-256 object names, lowercase hex as GitHub sends them. */
export const GIT_SHA_RE = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

const fullName = z.string().regex(REPO_FULL_NAME_RE, 'must be owner/name');

export const repositorySchema = z.object({
  full_name: fullName,
  clone_url: z.string().min(1),
  private: z.boolean(),
});

export const pullRequestEventSchema = z.object({
  action: z.string(),
  number: z.number().int().positive(),
  pull_request: z.object({
    number: z.number().int().positive(),
    merged: z.boolean().nullish(),
    head: z.object({
      sha: z.string().regex(GIT_SHA_RE, 'must be a commit SHA'),
      ref: z.string().min(1),
      // null when the fork the PR came from has been deleted.
      repo: z.object({ full_name: fullName, clone_url: z.string().min(1) }).nullable(),
    }),
    base: z.object({ repo: z.object({ full_name: fullName }) }),
    user: z.object({ login: z.string().min(1) }),
    author_association: z.string().min(1),
  }),
  repository: repositorySchema,
});

/** Sent when a hook is created; `repository` is absent for organization hooks. */
export const pingEventSchema = z.object({
  zen: z.string().optional(),
  hook_id: z.number().int().optional(),
  repository: repositorySchema.optional(),
});

export type PullRequestEvent = z.infer<typeof pullRequestEventSchema>;
export type PingEvent = z.infer<typeof pingEventSchema>;

/** Pull-request actions that change a preview; every other action is ignored. */
export const PREVIEW_ACTIONS = ['opened', 'reopened', 'synchronize', 'closed'] as const;
export type PreviewAction = (typeof PREVIEW_ACTIONS)[number];

/** Who may get a preview by default: people with write access to the base repository. */
export const DEFAULT_ALLOWED_ASSOCIATIONS: readonly string[] = ['OWNER', 'MEMBER', 'COLLABORATOR'];

export interface PreviewPolicy {
  /** Allowed base repositories as `owner/name` (case-insensitive); `'*'` allows any. Empty allows none. */
  repos: readonly string[];
  /** `pull_request.author_association` values that get a preview. */
  allowedAssociations?: readonly string[];
  /** Whether PRs whose head lives in another repository get a preview (they run foreign code). */
  allowForks?: boolean;
}

/** Everything a preview job needs, taken from a verified `pull_request` delivery. */
export interface PreviewTarget {
  /** Base repository `owner/name`, as GitHub spells it. */
  repo: string;
  pr: number;
  action: PreviewAction;
  /** Head commit to build. */
  sha: string;
  /** Head branch name (display only: the SHA is what gets built). */
  ref: string;
  /**
   * The base repository's clone URL. The head SHA is fetchable from it for forks too, through
   * `refs/pull/{pr}/head`, so one URL (and one token) serves both.
   */
  cloneUrl: string;
  private: boolean;
  author: string;
  fork: boolean;
  merged: boolean;
}

export type IgnoreReason = 'event-unsupported' | 'action-unsupported' | 'author-not-allowed' | 'fork-not-allowed';

export type DeliveryDecision =
  | { kind: 'ping'; reason: string }
  | { kind: 'preview-up' | 'preview-down'; reason: PreviewAction; target: PreviewTarget }
  | { kind: 'ignore'; reason: IgnoreReason; detail: string }
  /** The repository is not in the policy: answer 403 so the hook shows as failing in GitHub. */
  | { kind: 'forbidden'; reason: 'repo-not-allowed'; detail: string }
  /** Signed, but not the shape GitHub documents for the event. */
  | { kind: 'invalid'; reason: 'invalid-payload'; detail: string };

/** Serialization and coalescing key of a pull request's jobs: `owner/name#12` (lowercase repo). */
export function previewKey(repo: string, pr: number): string {
  return `${repo.toLowerCase()}#${pr}`;
}

/** Whether `repo` is allowed by a policy list (`'*'` = any). */
export function repoAllowed(repos: readonly string[], repo: string): boolean {
  const wanted = repo.toLowerCase();
  return repos.some((r) => r === '*' || r.toLowerCase() === wanted);
}

/**
 * Decides what a verified delivery means, without I/O. `event` is the `X-GitHub-Event` header,
 * `payload` the parsed JSON body. Order: the repository is checked first (a disallowed one is
 * `forbidden` whatever the event), then the event type, then the action, then author and fork.
 *
 * `closed` is a `preview-down` whoever the author is: tearing down is always safe, and a policy
 * that changed since the preview was created must not leave it running.
 */
export function decideDelivery(event: string, payload: unknown, policy: PreviewPolicy): DeliveryDecision {
  const repo = repositoryName(payload);
  if (repo !== null && !repoAllowed(policy.repos, repo)) {
    return { kind: 'forbidden', reason: 'repo-not-allowed', detail: `repository ${repo} is not in BERTH_PREVIEW_REPOS` };
  }
  if (event === 'ping') {
    const parsed = pingEventSchema.safeParse(payload);
    if (!parsed.success) return invalid(parsed.error);
    return { kind: 'ping', reason: parsed.data.zen ?? 'pong' };
  }
  if (event !== 'pull_request') {
    return { kind: 'ignore', reason: 'event-unsupported', detail: `event ${event || '(none)'} is not handled` };
  }
  const parsed = pullRequestEventSchema.safeParse(payload);
  if (!parsed.success) return invalid(parsed.error);
  // The repository was checked above: a valid payload always carries a well-formed full_name.
  const body = parsed.data;
  if (!isPreviewAction(body.action)) {
    return { kind: 'ignore', reason: 'action-unsupported', detail: `pull_request action ${body.action} is not handled` };
  }
  const target = toTarget(body, body.action);
  if (body.action === 'closed') return { kind: 'preview-down', reason: 'closed', target };

  const associations = policy.allowedAssociations ?? DEFAULT_ALLOWED_ASSOCIATIONS;
  const association = body.pull_request.author_association.toUpperCase();
  if (!associations.some((a) => a.toUpperCase() === association)) {
    return {
      kind: 'ignore',
      reason: 'author-not-allowed',
      detail: `author ${target.author} is ${association}; allowed: ${associations.join(', ')}`,
    };
  }
  if (target.fork && !(policy.allowForks ?? false)) {
    const from = body.pull_request.head.repo?.full_name ?? 'a deleted fork';
    return { kind: 'ignore', reason: 'fork-not-allowed', detail: `head is in ${from}; previews of forks are off` };
  }
  return { kind: 'preview-up', reason: body.action, target };
}

/** The HTTP status the webhook endpoint answers a decision with. */
export function deliveryStatus(decision: DeliveryDecision): 200 | 202 | 204 | 400 | 403 {
  switch (decision.kind) {
    case 'ping':
      return 200;
    case 'preview-up':
    case 'preview-down':
      return 202;
    case 'ignore':
      return 204;
    case 'forbidden':
      return 403;
    case 'invalid':
      return 400;
  }
}

/**
 * The `outcome` recorded for a delivery (see the deliveries log): `accepted`, `ignored:<reason>`
 * or `rejected:<reason>`. A ping counts as accepted. Duplicates are decided by the queue, not here.
 */
export function deliveryOutcome(decision: DeliveryDecision): 'accepted' | `ignored:${IgnoreReason}` | 'rejected:repo-not-allowed' | 'rejected:invalid-payload' {
  switch (decision.kind) {
    case 'ping':
    case 'preview-up':
    case 'preview-down':
      return 'accepted';
    case 'ignore':
      return `ignored:${decision.reason}`;
    case 'forbidden':
    case 'invalid':
      return `rejected:${decision.reason}`;
  }
}

function isPreviewAction(action: string): action is PreviewAction {
  return (PREVIEW_ACTIONS as readonly string[]).includes(action);
}

function toTarget(body: PullRequestEvent, action: PreviewAction): PreviewTarget {
  const pr = body.pull_request;
  const base = pr.base.repo.full_name.toLowerCase();
  return {
    repo: body.repository.full_name,
    pr: body.number,
    action,
    sha: pr.head.sha,
    ref: pr.head.ref,
    cloneUrl: body.repository.clone_url,
    private: body.repository.private,
    author: pr.user.login,
    // A deleted head repository can only have been a fork.
    fork: pr.head.repo === null || pr.head.repo.full_name.toLowerCase() !== base,
    merged: pr.merged ?? false,
  };
}

/** `repository.full_name` of any payload shape, or null when absent or unusable. */
function repositoryName(payload: unknown): string | null {
  if (typeof payload !== 'object' || payload === null) return null;
  const repository = (payload as { repository?: unknown }).repository;
  if (typeof repository !== 'object' || repository === null) return null;
  const name = (repository as { full_name?: unknown }).full_name;
  return typeof name === 'string' && REPO_FULL_NAME_RE.test(name) ? name : null;
}

function invalid(error: z.ZodError): DeliveryDecision {
  const detail = error.issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? i.path.join('.') : 'payload'}: ${i.message}`)
    .join('; ');
  return { kind: 'invalid', reason: 'invalid-payload', detail };
}
