import { z } from 'zod';

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
const domain = z
  .string()
  .regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+(:\d+)?$/i, 'must be a DNS name like apps.example.com')
  .transform((s) => s.toLowerCase())
  .optional();

/**
 * Every BERTH_* setting, validated once at start (see load.ts). Names are the env var names
 * without the prefix, camel-cased.
 */
export const configSchema = z.object({
  /** Listener of the daemon: the one access point (0 = any free port, for tests). */
  port: z.coerce.number().int().min(0).max(65535).default(8995),
  /** Address the access point binds; loopback by default so nothing is exposed by accident. */
  host: z.string().default('127.0.0.1'),
  dataDir: z.string().default('./.berth'),
  runtime: z.enum(['auto', 'podman', 'docker', 'process']).default('auto'),
  portsPerWorkspace: z.coerce.number().int().min(1).max(50).default(5),
  portRangeStart: port.default(9000),
  portRangeEnd: port.default(9999),
  /** First container port; a workspace's ports are containerPortBase … +portsPerWorkspace-1. */
  containerPortBase: port.default(8000),
  /** Image used when a workspace names none. */
  defaultImage: z.string().default('docker.io/library/debian:bookworm-slim'),
  /** Enables subdomain routing `{port}--{id}.{appsDomain}`. */
  appsDomain: domain,
  previewDomain: domain,
  /** Public URL of this Berth when it cannot be derived from requests (outer proxy). */
  publicUrl: optionalUrl,
  /** CIDRs whose X-Forwarded-* headers are honoured. */
  trustedProxies: csv.default([]),
  llmBaseUrl: optionalUrl,
  llmApiKey: z.string().optional(),
  dnsServers: csv.default([]),
  reconcileInterval: z.coerce.number().int().min(1).default(30),
  drainSeconds: z.coerce.number().min(0).default(10),
  /** Password of the `admin` account created on first start; without it a one-time setup URL is printed. */
  adminPassword: z.string().min(10, 'must be at least 10 characters').optional(),
  /** A browser session ends after this long without a request… */
  sessionIdleMinutes: z.coerce.number().int().min(1).default(720),
  /** …and after this long in any case. */
  sessionMaxHours: z.coerce.number().int().min(1).default(168),
  /** podman/docker binaries (absolute or on PATH). */
  podmanBin: z.string().default('podman'),
  dockerBin: z.string().default('docker'),
});

export type BerthConfig = Readonly<z.infer<typeof configSchema>>;
