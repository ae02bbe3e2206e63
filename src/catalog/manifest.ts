/**
 * The normalized app manifest the rest of Berth uses (services, API, template rendering). Types
 * only: `manifest.schema.ts` validates and builds it, `template.ts` renders its templates, and
 * neither has to import the other's types (which made an import circle between the two).
 */
import type { InfraKind } from '../domain/app.js';
import type { RestartPolicy } from '../domain/workspace.js';

/**
 * How an app is health-checked: an HTTP GET on its served port (healthy on a 2xx or 3xx answer
 * within the timeout; redirects are not followed), or a command run inside it (healthy on exit 0).
 */
export type AppHealthcheck = (
  | { kind: 'http'; /** Template; rendered with the install's context. */ path: string }
  | { kind: 'command'; /** Templates; argv run inside the workload, exit 0 = healthy. */ argv: string[] }
) & {
  intervalMs: number;
  timeoutMs: number;
  /** Failed checks (after the start period) before the app is declared failed. */
  retries: number;
  /** Grace time after start during which failures do not count. */
  startPeriodMs: number;
};

/** A validated, normalized manifest. */
export interface AppManifest {
  name: string;
  title: string;
  description: string;
  /** A file in the app's directory (e.g. `icon.svg`) or an https URL. */
  icon?: string | undefined;
  website?: string | undefined;
  /** Fully qualified image reference (`registry/name[:tag][@digest]`). */
  image: string;
  /** argv after the image (the image's entrypoint stays); templates allowed. */
  command?: string[] | undefined;
  /** Container ports by name; `http` is the one the proxy serves. */
  ports: { http: number; [name: string]: number };
  /** Environment; values are templates. */
  env: Record<string, string>;
  requires: InfraKind[];
  /** Other catalog apps that must be installed and healthy first. */
  dependsOn: string[];
  healthcheck: AppHealthcheck;
  /**
   * Persistent named volumes: name → absolute container path. Kept on uninstall unless purged.
   * The app gets each path in `BERTH_VOLUME_<NAME>` (see `volumeEnvName`).
   */
  volumes: Record<string, string>;
  /**
   * What the reconciler does when the app's workload exits on its own. Default `always`: an app is
   * a server that Berth never stops except to uninstall it, so any exit (even code 0) is an outage.
   */
  restart: RestartPolicy;
  resources?: { cpus?: number | undefined; memoryMb?: number | undefined } | undefined;
  embed: {
    /** The app works under a path prefix (`/embed/{app}/`); false = it needs a host of its own. */
    subpath: boolean;
    /**
     * The proxy removes the public prefix before forwarding (X-Forwarded-Prefix tells the app).
     * false: the app is configured with its base path (`${app.basePath}`) and receives it in every request.
     */
    stripPrefix: boolean;
  };
  /** Path of the app.yaml this came from. */
  source: string;
}
