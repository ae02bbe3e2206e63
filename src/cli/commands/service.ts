/**
 * `berth service install | uninstall`: runs Berth under systemd with the BERTH_* settings of the
 * current environment (src/ops/systemd-unit.ts explains the unit). Install writes the settings
 * (0600) and the unit, checks the unit with `systemd-analyze verify`, then enables and starts it;
 * uninstall stops and disables it and removes the unit, keeping the settings and the data.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { CliError } from '../client.js';
import { explainStartError } from './up.js';

const UNIT = 'berth.service';

function run(bin: string, args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(bin, args, { timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 127) : 0;
      resolve({ code, out: `${stdout}${stderr}`.trim() });
    });
  });
}

/** Why systemctl cannot manage services here (no systemd as PID 1, e.g. a container), or null. */
function systemdAbsent(): string | null {
  if (existsSync('/run/systemd/system')) return null;
  let init = 'unknown';
  try {
    init = readFileSync('/proc/1/comm', 'utf8').trim();
  } catch {
    // unknown
  }
  return `systemd is not running on this host (PID 1 is ${init})`;
}

interface InstallOptions {
  user?: string;
  unitDir: string;
  settingsFile: string;
  start: boolean;
}

async function install(opts: InstallOptions): Promise<void> {
  const { loadConfig } = await import('../../config/load.js');
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (err) {
    throw explainStartError(err, undefined);
  }
  const { renderEnvFile, renderUnit, unitPathProblem } = await import('../../ops/systemd-unit.js');
  const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../..');
  const dataDir = path.resolve(config.dataDir);
  for (const p of [process.execPath, root, dataDir, opts.settingsFile, opts.unitDir]) {
    const problem = unitPathProblem(p);
    if (problem) throw new CliError(`cannot write a systemd unit: ${problem}`, { hint: 'move Berth (or BERTH_DATA_DIR) to a path without such characters', exitCode: 2 });
  }
  if (opts.user !== undefined && !/^[a-z_][a-z0-9_-]{0,31}$/.test(opts.user)) {
    throw new CliError(`not a user name: ${JSON.stringify(opts.user)}`, { hint: 'a system user name like berth', exitCode: 2 });
  }
  const env = { ...process.env, BERTH_DATA_DIR: dataDir };
  mkdirSync(path.dirname(opts.settingsFile), { recursive: true, mode: 0o700 });
  writeFileSync(opts.settingsFile, renderEnvFile(env), { mode: 0o600 });
  chmodSync(opts.settingsFile, 0o600);
  const unitFile = path.join(opts.unitDir, UNIT);
  mkdirSync(opts.unitDir, { recursive: true });
  writeFileSync(unitFile, renderUnit({ node: process.execPath, root, envFile: opts.settingsFile, user: opts.user ?? null, runtime: config.runtime, dataDir, drainSeconds: config.drainSeconds }), { mode: 0o644 });
  const verify = await run('systemd-analyze', ['verify', unitFile]);
  if (verify.code === 127) process.stderr.write('note: systemd-analyze is not installed; the unit was not verified\n');
  else if (verify.code !== 0) throw new CliError(`the unit ${unitFile} does not verify: ${verify.out}`, { hint: 'report this as a bug; remove the file with `berth service uninstall`' });
  process.stdout.write(`wrote ${unitFile} and ${opts.settingsFile} (mode 0600)\n`);
  if (!opts.start) return;
  const absent = systemdAbsent();
  if (absent) throw new CliError(`${absent}: the unit is written but cannot be enabled`, { hint: 'run Berth with `./berth up` under your own supervisor, or on a host booted with systemd' });
  for (const args of [['daemon-reload'], ['enable', '--now', UNIT]]) {
    const r = await run('systemctl', args);
    if (r.code !== 0) throw new CliError(`systemctl ${args.join(' ')} failed: ${r.out}`, { hint: `see \`journalctl -u ${UNIT}\`` });
  }
  process.stdout.write(`${UNIT} enabled and started: \`systemctl status ${UNIT}\`, logs with \`journalctl -u ${UNIT} -f\`\n`);
}

async function uninstall(opts: { unitDir: string; start: boolean }): Promise<void> {
  const unitFile = path.join(opts.unitDir, UNIT);
  if (opts.start && !systemdAbsent()) {
    // Stops Berth only (KillMode=process): workspaces and apps keep running.
    const r = await run('systemctl', ['disable', '--now', UNIT]);
    if (r.code !== 0 && existsSync(unitFile)) throw new CliError(`systemctl disable --now ${UNIT} failed: ${r.out}`, { hint: `see \`systemctl status ${UNIT}\`` });
  }
  rmSync(unitFile, { force: true });
  if (opts.start && !systemdAbsent()) await run('systemctl', ['daemon-reload']);
  process.stdout.write(`removed ${unitFile}; the settings file and the data directory are kept\n`);
}

/** Registers `service` on the program. */
export function registerService(program: Command): void {
  const service = program.command('service').description('run Berth as a systemd service');
  service
    .command('install')
    .description('write berth.service with the current BERTH_* settings, verify it, enable and start it (workloads survive restarts: KillMode=process)')
    .option('--user <name>', 'run as this existing user (default root; a dedicated user needs rootless podman or the docker group)')
    .option('--unit-dir <dir>', 'where the unit goes', '/etc/systemd/system')
    .option('--settings-file <file>', 'where the settings go (0600; not --env-file, which Node 20 itself would read)', '/etc/berth/berth.env')
    .option('--no-start', 'only write and verify the files')
    .action((opts: InstallOptions) => install(opts));
  service
    .command('uninstall')
    .description('stop and disable berth.service and remove the unit (workloads, settings and data are kept)')
    .option('--unit-dir <dir>', 'where the unit is', '/etc/systemd/system')
    .option('--no-start', 'only remove the file, without systemctl')
    .action((opts: { unitDir: string; start: boolean }) => uninstall(opts));
}
