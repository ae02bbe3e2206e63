import { z } from 'zod';
import { imageRefIssue } from '../domain/image-ref.js';
import { DATA_PATH_HINT, DEFAULT_DATA_PATH, dataPathProblem } from '../domain/data-path.js';
import { parseDuration } from '../domain/duration.js';

const port = z.coerce.number().int().min(1).max(65535);
/** A comma-separated env value (or, from code, an array). */
const csv = z.union([
  z.array(z.string()),
  z.string().transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean)),
]);
const optionalUrl = z
  .string()
  .url()
  .transform((s) => s.replace(/\/+$/, ''))
  .optional();
/** An OCI image reference (distribution grammar): it goes into the engine's argv. */
const imageRef = z.string().superRefine((s, ctx) => {
  const issue = imageRefIssue(s);
  if (issue) ctx.addIssue({ code: 'custom', message: `${issue}; give an image reference like docker.io/library/postgres:16` });
});
const domain = z
  .string()
  .regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+(:\d+)?$/i, 'must be a DNS name like apps.example.com')
  .transform((s) => s.toLowerCase())
  .optional();
/** A duration (`30s`, `2h`, `1h30m`, `500ms`) → ms; `off`/`0` → null where `off` is allowed. */
const durationMs = <Off extends boolean>(allowOff: Off) =>
  z.union([z.number(), z.string()]).transform((v, ctx): Off extends true ? number | null : number => {
    if (allowOff && (v === 'off' || v === '0' || v === 0)) return null as Off extends true ? null : never;
    const ms = typeof v === 'number' ? (Number.isSafeInteger(v) && v > 0 ? v : null) : parseDuration(v);
    if (ms === null) {
      ctx.addIssue({ code: 'custom', message: `must be a duration like 30s, 15m or 2h${allowOff ? ' (or off)' : ''}` });
      return z.NEVER;
    }
    return ms;
  });

/**
 * Every BERTH_* setting, validated once at start (see load.ts). Names are the env var names
 * without the prefix, camel-cased.
 */
export const configSchema = z.object({
  /** Listener of the daemon: the one access point (0 = any free port, for tests). */
  port: z.coerce.number().int().min(0).max(65535).default(8995),
  /**
   * Listener of the apps origin: path-mode workload routes (`/hosted/…`, `/embed/…`) are served
   * here and only here, so no workload content shares the dashboard's origin. Default: port + 1
   * (0 when port is 0). Same address as the main listener.
   */
  appsPort: z.coerce.number().int().min(0).max(65535).optional(),
  /** Public URL of the apps origin behind an outer proxy (e.g. https://apps.example.com); default: the dashboard's host name on appsPort. */
  appsUrl: optionalUrl,
  /**
   * TLS of the access point: `off` (plain HTTP, e.g. behind an outer proxy that terminates TLS) or
   * `files` (BERTH_TLS_CERT_FILE + BERTH_TLS_KEY_FILE, reloaded when they change) or `acme`
   * (certificates ordered from an ACME CA, see the acme* settings). With TLS on,
   * `port` and `appsPort` speak HTTPS and `httpPort` redirects plain HTTP to them.
   */
  tls: z.enum(['off', 'files', 'acme']).default('off'),
  /** PEM certificate (leaf first, then the chain; a wildcard is fine) for BERTH_TLS=files. */
  tlsCertFile: z.string().min(1).optional(),
  /** PEM private key of tlsCertFile (unencrypted, 0600 recommended). */
  tlsKeyFile: z.string().min(1).optional(),
  // ---- BERTH_TLS=acme (src/edge/tls/acme/) ----
  /** ACME directory of the CA (default: Let's Encrypt production). */
  acmeDirectoryUrl: z.string().url().default('https://acme-v02.api.letsencrypt.org/directory'),
  /** Contact address given to the CA (expiry notices); optional. */
  acmeEmail: z.string().email().optional(),
  /** PEM file of an extra root the ACME client trusts for the CA's own HTTPS (e.g. Pebble's); nothing else trusts it. */
  acmeCaFile: z.string().min(1).optional(),
  /** Renew when fewer than this many days remain (or at acmeRenewFraction of the lifetime, whichever comes first). */
  acmeRenewDays: z.coerce.number().min(0).default(30),
  /** Renew at this fraction of a certificate's lifetime at the latest (default 2/3; tests use a tiny one to force renewals). */
  acmeRenewFraction: z.coerce.number().gt(0).max(1).default(2 / 3),
  /** Seconds between renewal checks. */
  acmeCheckSeconds: z.coerce.number().min(1).default(3600),
  /** New on-demand orders (a routed host's first handshake) per hour; past it handshakes get the fallback certificate. */
  acmeOnDemandPerHour: z.coerce.number().int().min(0).default(20),
  /** DNS-01 provider for the wildcards `*.{appsDomain}` / `*.{previewDomain}`; unset: no wildcard, each host is ordered by HTTP-01. */
  acmeDnsProvider: z.enum(['cloudflare', 'rfc2136']).optional(),
  /** Seconds to wait after publishing a DNS-01 record before asking the CA to look (DNS propagation). */
  acmeDnsWaitSeconds: z.coerce.number().min(0).default(20),
  /** Cloudflare API token with Zone:Read and DNS:Edit on the zones. */
  acmeCloudflareToken: z.string().min(1).optional(),
  /** Cloudflare API base (tests point it at a local server speaking the same wire format). */
  acmeCloudflareApiUrl: z.string().url().transform((s) => s.replace(/\/+$/, '')).default('https://api.cloudflare.com/client/v4'),
  /** RFC 2136 server `host[:port]` nsupdate sends updates to. */
  acmeRfc2136Server: z.string().regex(/^[A-Za-z0-9.:-]+$|^\[[0-9a-fA-F:]+\](:\d+)?$/, 'must be host[:port]').optional(),
  /** TSIG key file for nsupdate (`nsupdate -k`), e.g. made by `tsig-keygen`. */
  acmeRfc2136KeyFile: z.string().min(1).optional(),
  /** nsupdate binary (absolute or on PATH). */
  acmeNsupdateBin: z.string().default('nsupdate'),
  /** Plain-HTTP listener that redirects to HTTPS when TLS is on (default 80; 0 = none). */
  httpPort: z.coerce.number().int().min(0).max(65535).optional(),
  /** Strict-Transport-Security max-age in seconds on HTTPS responses; 0 (default) sends none. Opt-in: browsers remember it. */
  hstsMaxAge: z.coerce.number().int().min(0).max(63_072_000).default(0),
  /** Address the access point binds; loopback by default so nothing is exposed by accident. */
  host: z.string().default('127.0.0.1'),
  dataDir: z.string().default('./.berth'),
  runtime: z.enum(['auto', 'podman', 'docker', 'process']).default('auto'),
  portsPerWorkspace: z.coerce.number().int().min(1).max(50).default(5),
  portRangeStart: port.default(9000),
  portRangeEnd: port.default(9999),
  /** First container port; a workspace's ports are containerPortBase … +portsPerWorkspace-1. */
  containerPortBase: port.default(8000),
  /**
   * Where a new workspace's data volume is mounted when the request names no `dataPath`
   * (BERTH_WORKSPACE_DATA_PATH); checked like a requested one (domain/data-path.ts).
   */
  workspaceDataPath: z
    .string()
    .superRefine((s, ctx) => {
      const problem = dataPathProblem(s);
      if (problem) ctx.addIssue({ code: 'custom', message: `${problem}; ${DATA_PATH_HINT}` });
    })
    .default(DEFAULT_DATA_PATH),
  /** Image used when a workspace names none. */
  defaultImage: imageRef.default('docker.io/library/debian:bookworm-slim'),
  /** Enables subdomain routing `{port}--{id}.{appsDomain}`. */
  appsDomain: domain,
  previewDomain: domain,
  /** Public URL of this Berth when it cannot be derived from requests (outer proxy). */
  publicUrl: optionalUrl,
  /** CIDRs whose X-Forwarded-* headers are honoured. */
  trustedProxies: csv.default([]),
  llmBaseUrl: optionalUrl,
  llmApiKey: z.string().optional(),
  /** `/llm/` requests per minute per workspace (and per user); 0 = no limit. Past it: 429 with Retry-After. */
  llmRateLimit: z.coerce.number().int().min(0).default(0),
  dnsServers: csv.default([]),
  reconcileInterval: z.coerce.number().int().min(1).default(30),
  drainSeconds: z.coerce.number().min(0).default(10),
  /** Password of the `admin` account created on first start; without it a one-time setup URL is printed. */
  adminPassword: z.string().min(10, 'must be at least 10 characters').optional(),
  /** A browser session ends after this long without a request… */
  sessionIdleMinutes: z.coerce.number().int().min(1).default(720),
  /** …and after this long in any case. */
  sessionMaxHours: z.coerce.number().int().min(1).default(168),
  /** Extra catalog directories (BERTH_CATALOG_DIRS, comma-separated), read after the built-in `<repo>/catalog`; later ones override apps of the same name. */
  catalogDirs: csv.default([]),
  /** Shared PostgreSQL for apps: an admin URL whose role may create databases and roles. */
  postgresUrl: z.string().regex(/^postgres(?:ql)?:\/\//, 'must be a postgres:// URL').optional(),
  /** Shared Redis for apps: `redis://[:password@]host:port`. */
  redisUrl: z.string().regex(/^rediss?:\/\//, 'must be a redis:// URL').optional(),
  /** Host workloads use to reach the shared Postgres/Redis (e.g. `host.containers.internal`); default: the host of each URL. */
  infraHost: z.string().min(1).optional(),
  /** Images of Berth's own PostgreSQL / Redis (`berth infra up`) on container runtimes; one that is neither local nor pullable is a clear error. */
  infraPostgresImage: imageRef.default('docker.io/library/postgres:16'),
  infraRedisImage: imageRef.default('docker.io/library/redis:7'),
  /** podman/docker binaries (absolute or on PATH). */
  podmanBin: z.string().default('podman'),
  dockerBin: z.string().default('docker'),
  /**
   * Whether members may run workloads on a runtime without isolation (`process`: workloads run as
   * Berth's own user, which can read the data directory and its token). `refuse` (default): only
   * admins; `allow`: the admin accepts that every member can act as Berth on this host.
   */
  processRuntimeMembers: z.enum(['refuse', 'allow']).default('refuse'),
  /**
   * Idle stop given to new workspaces that name none (`2h`; `off`, the default: never). A
   * workspace without activity (edge traffic, exec sessions, API use) for this long is stopped.
   */
  workspaceIdleStop: durationMs(true).default(null),
  /** How often idle workspaces are looked for (ms-scale values are for tests). */
  idleSweepInterval: durationMs(false).default(30_000),
  // ---- pull-request previews (issue 5) ----
  /** HMAC secret of GitHub deliveries; unset turns POST /webhooks/github off (never accept-all). */
  githubWebhookSecret: z.string().optional(),
  /** Repositories (`owner/name`, `*` = any) whose pull requests get previews. */
  previewRepos: csv.default([]),
  /** `author_association` values that get a preview. */
  previewAuthorAssociations: csv.default(['OWNER', 'MEMBER', 'COLLABORATOR']),
  /** Previews of pull requests from forks (they run foreign code). */
  previewAllowForks: z.union([z.boolean(), z.enum(['0', '1', 'true', 'false']).transform((v) => v === '1' || v === 'true')]).default(false),
  /** Token for cloning private repositories and reporting statuses/comments. */
  githubToken: z.string().optional(),
  githubApiUrl: z.string().url().transform((s) => s.replace(/\/+$/, '')).default('https://api.github.com'),
  /** Allows `file://` clone URLs (tests and local demos only). */
  allowFileRepos: z.union([z.boolean(), z.enum(['0', '1', 'true', 'false']).transform((v) => v === '1' || v === 'true')]).default(false),
  /** Seconds between preview reaper passes (closed PRs, ttl, orphans). */
  previewReapInterval: z.coerce.number().int().min(1).default(300),
  /** Image of the dedicated PostgreSQL of `database: container` previews on podman/docker (must be present locally when no registry is reachable). */
  previewPostgresImage: imageRef.default('docker.io/library/postgres:16'),
});

export type BerthConfig = Readonly<z.infer<typeof configSchema>>;
