/**
 * The health-check loop of an app install (the seeds' `waitFor`): an HTTP GET on the app's served
 * port (2xx/3xx within the timeout, redirects not followed) or a command run inside the workload
 * (exit 0). Resolves once healthy; rejects with E_APP_UNHEALTHY and the last check's output when
 * the checks keep failing past the start period, or at once when the workload exits.
 */
import type { AppHealthcheck } from '../catalog/manifest.js';
import { BerthError } from '../errors.js';
import { logTail } from '../runtime/log-tail.js';
import type { Runtime, WorkloadRef } from '../runtime/runtime.js';

export interface HealthLoopOptions {
  runtime: Runtime;
  ref: WorkloadRef;
  /** Upstream address of the workload's served port. */
  host: string;
  port: number;
  check: AppHealthcheck;
  /** Called with the output of each failed check. */
  onFailure?: (message: string) => void;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const clip = (s: string, n = 500): string => (s.length > n ? `…${s.slice(-n)}` : s).trim();

/** One check: `{ ok, output }`, never throws. */
export async function checkOnce(opts: Omit<HealthLoopOptions, 'onFailure'>): Promise<{ ok: boolean; output: string }> {
  const { check } = opts;
  if (check.kind === 'http') {
    const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
    const url = `http://${host}:${opts.port}${check.path}`;
    try {
      const res = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(check.timeoutMs) });
      const body = clip(await res.text().catch(() => ''), 200);
      const ok = res.status >= 200 && res.status < 400;
      return { ok, output: `GET ${check.path} → ${res.status}${body ? `: ${body}` : ''}` };
    } catch (err) {
      const e = err as Error & { cause?: { code?: string } };
      return { ok: false, output: `GET ${check.path} failed: ${e.cause?.code ?? e.name === 'TimeoutError' ? `no answer in ${check.timeoutMs} ms` : e.message}` };
    }
  }
  try {
    const result = await Promise.race([
      opts.runtime.exec(opts.ref, check.argv),
      sleep(check.timeoutMs).then(() => null),
    ]);
    if (result === null) return { ok: false, output: `\`${check.argv.join(' ')}\` did not finish in ${check.timeoutMs} ms` };
    if (result.kind !== 'result') return { ok: false, output: 'health command opened a session' };
    const output = clip(`${result.stdout}${result.stderr}`);
    return { ok: result.exitCode === 0, output: `\`${check.argv.join(' ')}\` exited ${result.exitCode}${output ? `: ${output}` : ''}` };
  } catch (err) {
    return { ok: false, output: `\`${check.argv.join(' ')}\` could not run: ${(err as Error).message}` };
  }
}

/** Runs checks every `intervalMs` until one passes; see the file comment for failure rules. */
export async function runHealthcheck(opts: HealthLoopOptions): Promise<void> {
  const { check, runtime, ref } = opts;
  const started = Date.now();
  let failures = 0;
  for (;;) {
    const status = await runtime.inspect(ref);
    if (status.state !== 'running') {
      const tail = clip(await logTail(runtime, ref, 20));
      throw new BerthError('E_APP_UNHEALTHY', `the app exited (code ${status.exitCode ?? '?'}) before it became healthy${tail ? `; last output: ${tail}` : ''}`);
    }
    const result = await checkOnce(opts);
    if (result.ok) return;
    if (Date.now() - started >= check.startPeriodMs) failures++;
    opts.onFailure?.(`check ${failures}/${check.retries} failed: ${result.output}`);
    if (failures >= check.retries) {
      throw new BerthError('E_APP_UNHEALTHY', `health check failed ${check.retries} times; last: ${result.output}`);
    }
    await sleep(check.intervalMs);
  }
}

