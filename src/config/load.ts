import path from 'node:path';
import { BerthError } from '../errors.js';
import { configSchema, type BerthConfig } from './schema.js';

/** Maps `BERTH_PORT_RANGE_START` → `portRangeStart`. */
function envKeyToField(key: string): string {
  return key
    .slice('BERTH_'.length)
    .toLowerCase()
    .replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

/**
 * Parses BERTH_* variables (plus explicit overrides, used by tests) once, resolves the data
 * directory to an absolute path, and freezes the result. Invalid values fail with every problem
 * listed, named by their env var.
 */
export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  overrides: Partial<Record<keyof BerthConfig, unknown>> = {},
): BerthConfig {
  const raw: Record<string, unknown> = {};
  const fields = new Set(Object.keys(configSchema.shape));
  for (const [key, value] of Object.entries(env)) {
    if (!key.startsWith('BERTH_') || value === undefined || value === '') continue;
    const field = envKeyToField(key);
    if (fields.has(field)) raw[field] = value;
  }
  Object.assign(raw, overrides);
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => {
      const field = String(i.path[0] ?? '');
      const envName = 'BERTH_' + field.replace(/[A-Z]/g, (c) => '_' + c).toUpperCase();
      return `${envName}: ${i.message}`;
    });
    throw new BerthError('E_CONFIG', `invalid configuration: ${problems.join('; ')}`, {
      hint: 'fix the listed BERTH_* environment variables and start again',
    });
  }
  const cfg = parsed.data;
  if (cfg.portRangeEnd < cfg.portRangeStart + cfg.portsPerWorkspace - 1) {
    throw new BerthError('E_CONFIG', 'BERTH_PORT_RANGE_END must leave room for at least one workspace', {
      hint: `set BERTH_PORT_RANGE_END ≥ ${cfg.portRangeStart + cfg.portsPerWorkspace - 1}`,
    });
  }
  const appsPort = cfg.appsPort ?? (cfg.port === 0 ? 0 : cfg.port + 1);
  if (appsPort !== 0 && appsPort === cfg.port) {
    throw new BerthError('E_CONFIG', 'BERTH_APPS_PORT must differ from BERTH_PORT', {
      hint: 'the apps origin needs a listener of its own (another port is another origin); leave BERTH_APPS_PORT unset for BERTH_PORT + 1',
    });
  }
  if (cfg.appsUrl && cfg.publicUrl && new URL(cfg.appsUrl).origin === new URL(cfg.publicUrl).origin) {
    throw new BerthError('E_CONFIG', 'BERTH_APPS_URL must be another origin than BERTH_PUBLIC_URL', {
      hint: 'use another host name (apps.example.com) or another port: hosted apps must never share the dashboard origin',
    });
  }
  return Object.freeze({ ...cfg, appsPort, dataDir: path.resolve(cfg.dataDir) });
}
