/**
 * restic, driven through its CLI with `--json` (never a re-implementation of its format). One
 * repository per installation; the password is a file (RESTIC_PASSWORD_FILE), never an argv word
 * or an env value other processes could read in /proc/<pid>/environ of a long-lived child.
 * Every call has a timeout and an abort signal; progress lines are handed to `onProgress`.
 */
import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { BerthError } from '../errors.js';

export interface ResticOptions {
  /** `/path`, `sftp:user@host:/path`, `s3:…` — anything restic accepts as a repository. */
  repository: string;
  passwordFile: string;
  /** restic binary (default `restic` on PATH). */
  bin?: string;
  /** Extra environment (e.g. AWS_* for s3:); never the password. */
  env?: Record<string, string>;
}

export interface ResticProgress {
  percentDone: number;
  bytesDone: number;
  totalBytes: number;
}

export interface ResticSummary {
  snapshotId: string;
  dataAdded: number;
  totalBytesProcessed: number;
  totalDurationSeconds: number;
}

export interface ResticSnapshot {
  id: string;
  shortId: string;
  time: string;
  tags: string[];
  paths: string[];
  hostname: string;
}

interface RunOptions {
  stdin?: Readable;
  /** Called for each stdout line (JSON progress). */
  onLine?: (line: string) => void;
  /** Where stdout goes instead of being collected (restic dump). */
  stdout?: NodeJS.WritableStream;
  timeoutMs?: number;
  signal?: AbortSignal | undefined;
}

/** The restic CLI bound to one repository. */
export class Restic {
  constructor(private readonly opts: ResticOptions) {}

  private run(args: string[], ro: RunOptions = {}): Promise<string> {
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      LC_ALL: 'C',
      RESTIC_REPOSITORY: this.opts.repository,
      RESTIC_PASSWORD_FILE: this.opts.passwordFile,
      RESTIC_CACHE_DIR: process.env.RESTIC_CACHE_DIR,
      ...this.opts.env,
    };
    return new Promise((resolve, reject) => {
      const child = spawn(this.opts.bin ?? 'restic', args, { env, stdio: [ro.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'], signal: ro.signal, timeout: ro.timeoutMs ?? 60 * 60_000 });
      let out = '';
      let err = '';
      let partial = '';
      if (ro.stdout) child.stdout!.pipe(ro.stdout);
      else {
        child.stdout!.setEncoding('utf8');
        child.stdout!.on('data', (chunk: string) => {
          out += chunk;
          if (!ro.onLine) return;
          const lines = (partial + chunk).split('\n');
          partial = lines.pop() ?? '';
          for (const l of lines) if (l) ro.onLine(l);
        });
      }
      child.stderr!.setEncoding('utf8');
      child.stderr!.on('data', (chunk: string) => (err = (err + chunk).slice(-8000)));
      let inputError: Error | null = null;
      if (ro.stdin) {
        child.stdin!.on('error', () => {}); // restic exiting early closes the pipe; its exit code says why
        // A source that fails (pg_dump exiting non-zero) must fail the backup, not end it as if complete.
        ro.stdin.once('error', (e: Error) => {
          inputError = e;
          child.kill('SIGTERM');
        });
        ro.stdin.pipe(child.stdin!);
      }
      child.on('error', (e: NodeJS.ErrnoException) => {
        reject(e.code === 'ENOENT'
          ? new BerthError('E_CONFIG', 'restic is not installed', { hint: 'install it with scripts/install-deps (Debian package restic)', cause: e })
          : new BerthError('E_INTERNAL', `restic ${args[0]} failed: ${e.message}`, { cause: e }));
      });
      child.on('close', (code) => {
        if (inputError) return reject(inputError);
        if (code === 0) return resolve(out);
        const why = err.trim().split('\n').filter(Boolean).slice(-3).join(' ') || `exit code ${code}`;
        reject(new BerthError('E_BACKUP', `restic ${args[0]} failed: ${why}`, { hint: hintFor(why) }));
      });
    });
  }

  /** Creates the repository unless it exists; true when this call created it. */
  async init(): Promise<boolean> {
    try {
      await this.run(['cat', 'config'], { timeoutMs: 60_000 });
      return false;
    } catch (err) {
      if (!(err instanceof BerthError) || !/does not exist|unable to open config file|Is there a repository/i.test(err.message)) throw err;
    }
    await this.run(['init'], { timeoutMs: 120_000 });
    return true;
  }

  /** Backs up `paths` (absolute) with `tags`. */
  backupPaths(paths: string[], tags: string[], onProgress?: (p: ResticProgress) => void, signal?: AbortSignal): Promise<ResticSummary> {
    return this.backup(['--', ...paths], tags, {}, onProgress, signal);
  }

  /** Backs up a stream as the single file `filename` of a snapshot (a database dump, the store). */
  backupStream(stream: Readable, filename: string, tags: string[], signal?: AbortSignal): Promise<ResticSummary> {
    if (!/^[A-Za-z0-9._-]{1,200}$/.test(filename)) throw new BerthError('E_BAD_REQUEST', `invalid snapshot file name ${JSON.stringify(filename)}`);
    return this.backup([], tags, { stdin: stream, extra: ['--stdin', `--stdin-filename=${filename}`] }, undefined, signal);
  }

  private async backup(rest: string[], tags: string[], o: { stdin?: Readable; extra?: string[] }, onProgress?: (p: ResticProgress) => void, signal?: AbortSignal): Promise<ResticSummary> {
    for (const t of tags) if (!/^[A-Za-z0-9:._=-]{1,200}$/.test(t)) throw new BerthError('E_BAD_REQUEST', `invalid backup tag ${JSON.stringify(t)}`);
    let summary: ResticSummary | null = null;
    await this.run(['backup', '--json', ...tags.map((t) => `--tag=${t}`), ...(o.extra ?? []), ...rest], {
      ...(o.stdin ? { stdin: o.stdin } : {}),
      signal,
      onLine: (line) => {
        let m: Record<string, unknown>;
        try {
          m = JSON.parse(line) as Record<string, unknown>;
        } catch {
          return;
        }
        if (m.message_type === 'status' && onProgress) {
          onProgress({ percentDone: Number(m.percent_done ?? 0), bytesDone: Number(m.bytes_done ?? 0), totalBytes: Number(m.total_bytes ?? 0) });
        } else if (m.message_type === 'summary') {
          summary = {
            snapshotId: String(m.snapshot_id),
            dataAdded: Number(m.data_added ?? 0),
            totalBytesProcessed: Number(m.total_bytes_processed ?? 0),
            totalDurationSeconds: Number(m.total_duration ?? 0),
          };
        }
      },
    });
    if (!summary) throw new BerthError('E_BACKUP', 'restic backup finished without a summary', { hint: 'check the restic version (0.14 or newer)' });
    return summary;
  }

  /** Snapshots carrying every tag in `tags`, oldest first. */
  async snapshots(tags: string[] = []): Promise<ResticSnapshot[]> {
    const out = await this.run(['snapshots', '--json', ...(tags.length ? [`--tag=${tags.join(',')}`] : [])], { timeoutMs: 120_000 });
    const list = JSON.parse(out || '[]') as { id: string; short_id: string; time: string; tags?: string[]; paths: string[]; hostname: string }[];
    return list.map((s) => ({ id: s.id, shortId: s.short_id, time: s.time, tags: s.tags ?? [], paths: s.paths, hostname: s.hostname }));
  }

  /** Writes one file of a snapshot to `out` (restic dump). */
  async dump(snapshotId: string, file: string, out: NodeJS.WritableStream): Promise<void> {
    checkSnapshotId(snapshotId);
    await this.run(['dump', '--', snapshotId, file], { stdout: out, timeoutMs: 60 * 60_000 });
  }

  /** Restores a snapshot (or the listed paths of it) under `target`. */
  async restore(snapshotId: string, target: string, include: string[] = []): Promise<void> {
    checkSnapshotId(snapshotId);
    await this.run(['restore', `--target=${target}`, ...include.map((p) => `--include=${p}`), '--', snapshotId], { timeoutMs: 60 * 60_000 });
  }

  /** Applies a retention policy to the snapshots with `tags`, pruning unreferenced data. */
  async forget(tags: string[], keep: { daily?: number; weekly?: number; monthly?: number; last?: number }): Promise<void> {
    const policy = Object.entries(keep).flatMap(([k, v]) => (v !== undefined ? [`--keep-${k}=${v}`] : []));
    if (policy.length === 0) throw new BerthError('E_BAD_REQUEST', 'a retention policy needs at least one keep-* value');
    await this.run(['forget', '--prune', `--tag=${tags.join(',')}`, ...policy], { timeoutMs: 60 * 60_000 });
  }

  /** Verifies the repository's structure (restic check). */
  async check(): Promise<void> {
    await this.run(['check'], { timeoutMs: 60 * 60_000 });
  }
}

function checkSnapshotId(id: string): void {
  if (!/^[0-9a-f]{8,64}$|^latest$/.test(id)) throw new BerthError('E_BAD_REQUEST', `not a snapshot id: ${JSON.stringify(id.slice(0, 80))}`, { hint: 'list snapshots with `berth backup ls`' });
}

function hintFor(why: string): string {
  if (/wrong password|no key found/i.test(why)) return "the repository's password file does not match this repository: restore the password file that was shown when backups were set up";
  if (/does not exist|Is there a repository/i.test(why)) return 'the repository is missing or not initialised: check BERTH_BACKUP_REPOSITORY';
  if (/no space left/i.test(why)) return 'the repository disk is full: free space or prune old snapshots';
  if (/locked/i.test(why)) return 'another restic process holds the repository lock; wait for it, or remove a stale lock with `restic unlock`';
  return 'see the message above; `restic` itself can be run with the same repository and password file to investigate';
}
