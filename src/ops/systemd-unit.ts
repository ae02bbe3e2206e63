/**
 * The systemd unit `berth service install` writes. Pure: settings in, unit text out.
 *
 * Why it looks the way it does:
 * - `KillMode=process`: stopping or restarting the service signals Berth alone. Podman without a
 *   system service runs each container's monitor (conmon) as Berth's child, inside the service's
 *   cgroup; systemd's default (the whole cgroup) would kill every workspace and app on each
 *   restart, which Berth promises not to do (workloads keep running; the reconciler re-adopts them).
 * - Sandboxing options (ProtectSystem, NoNewPrivileges, seccomp filters, private /tmp) are inherited
 *   by every process Berth starts: with podman or docker that is the engine and the containers
 *   (no sudo in a workspace, a private mount namespace the engine's other clients cannot see).
 *   They are applied only for the process runtime, whose workloads are Berth's own children anyway.
 * - The settings live in an EnvironmentFile (0600: it may hold BERTH_ADMIN_PASSWORD or API keys),
 *   not in the unit, which is world-readable.
 */

export interface UnitSettings {
  /** Absolute path of the node binary. */
  node: string;
  /** Absolute path of the Berth checkout (holds dist/cli/index.js). */
  root: string;
  envFile: string;
  /** Run as this user; null: root. */
  user: string | null;
  /** BERTH_RUNTIME of the installation ('auto' counts as a container runtime). */
  runtime: 'auto' | 'podman' | 'docker' | 'process';
  /** BERTH_DATA_DIR, absolute. */
  dataDir: string;
  drainSeconds: number;
}

/** A value systemd reads literally in ExecStart/paths: absolute, no whitespace, quotes, `%` or `$`. */
export function unitPathProblem(p: string): string | null {
  if (!p.startsWith('/')) return `${JSON.stringify(p)} is not an absolute path`;
  if (/[\s"'\\%$;]/.test(p)) return `${JSON.stringify(p)} contains whitespace, quotes, "%", "$" or ";", which systemd would interpret`;
  return null;
}

export function renderUnit(s: UnitSettings): string {
  const sandbox =
    s.runtime === 'process'
      ? [
          '# The process runtime: workloads are Berth\'s children and share this sandbox.',
          'NoNewPrivileges=yes',
          'ProtectSystem=full',
          'ProtectHome=read-only',
          'PrivateTmp=yes',
          'ProtectKernelTunables=yes',
          'ProtectKernelModules=yes',
          'ProtectControlGroups=yes',
          `ReadWritePaths=${s.dataDir}`,
        ]
      : ['# No sandboxing options: podman/docker and the containers would inherit them (README, "Running as a service").'];
  return [
    '# Written by `berth service install`; remove with `berth service uninstall`.',
    '[Unit]',
    'Description=Berth: workspaces, apps and previews behind one access point',
    `Documentation=file://${s.root}/README.md`,
    'Wants=network-online.target',
    'After=network-online.target docker.service podman.socket',
    '',
    '[Service]',
    'Type=exec',
    ...(s.user ? [`User=${s.user}`] : []),
    `EnvironmentFile=${s.envFile}`,
    `WorkingDirectory=${s.root}`,
    `ExecStart=${s.node} ${s.root}/dist/cli/index.js up`,
    'Restart=on-failure',
    'RestartSec=2s',
    '# Workloads outlive the daemon: only Berth itself is signalled on stop and restart.',
    'KillMode=process',
    `TimeoutStopSec=${Math.ceil(s.drainSeconds) + 15}s`,
    'LimitNOFILE=1048576',
    'UMask=0077',
    ...sandbox,
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}

/** The EnvironmentFile: every BERTH_* variable of `env`, one per line, quoted for systemd. */
export function renderEnvFile(env: NodeJS.ProcessEnv): string {
  const lines = Object.entries(env)
    .filter(([k, v]) => k.startsWith('BERTH_') && /^[A-Z0-9_]+$/.test(k) && v !== undefined)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}="${v!.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`);
  return ['# Berth settings for the systemd unit (mode 0600: it may hold secrets).', ...lines, ''].join('\n');
}
