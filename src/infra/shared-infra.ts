/**
 * The shared services as the rest of Berth sees them (the app service, the API): what is
 * configured, where apps reach it, and the status `berth infra status` shows. InfraService
 * (managed.ts) implements them.
 */
import type { InfraKind } from '../domain/app.js';
import type { PostgresInfra } from './postgres.js';

/** Where apps' shared Redis is: the admin URL and, when it differs, the address workloads use. */
export interface RedisEndpoint {
  url: string;
  appHost?: string | undefined;
  appPort?: number | undefined;
}

/** The shared services as the app service sees them right now (undefined: not configured). */
export interface SharedInfra {
  postgres(): PostgresInfra | undefined;
  redis(): RedisEndpoint | undefined;
  /**
   * Berth's own containers among `kinds` that apps reach over their networks (runtime/networks.ts),
   * with the alias they answer to there; [] for external servers and on runtimes without networks.
   */
  managedServices?(kinds: readonly InfraKind[]): Promise<ManagedServiceRef[]>;
}

/** A container of Berth's own shared services and the name apps reach it by on their networks. */
export interface ManagedServiceRef {
  kind: InfraKind;
  ref: string;
  alias: string;
}

/** One service in `berth infra status`. */
export interface InfraServiceStatus {
  kind: InfraKind;
  /** `env`: BERTH_*_URL; `managed`: started by `berth infra up`; `none`: neither. */
  source: 'env' | 'managed' | 'none';
  /** `running`/`stopped` (managed, workload state), `down` (managed, data kept), `external` (env), `none`. */
  state: 'running' | 'stopped' | 'down' | 'external' | 'none';
  /** host:port the daemon connects to. */
  address: string | null;
  /** host:port apps are given. */
  appAddress: string | null;
  /** Data directory or volume (managed). */
  data: string | null;
  /** Server version when it answered. */
  version: string | null;
  /** Why it did not answer, when it should have. */
  problem: string | null;
}

export interface InfraStatus {
  runtime: string;
  services: InfraServiceStatus[];
}

