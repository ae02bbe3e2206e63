/**
 * Browser side of the e2e tests: Debian's Chromium driven by playwright-core, a fresh profile per
 * launch, screenshots under test-results/screenshots/, and a check that web/dist is current.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const ROOT = path.resolve(import.meta.dirname, '../../..');
export const DIST = path.join(ROOT, 'web', 'dist');
export const SCREENSHOTS = path.join(ROOT, 'test-results', 'screenshots');
export const CHROMIUM = '/usr/bin/chromium';

function newestMtime(p: string): number {
  const st = statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(st.mtimeMs, ...readdirSync(p).map((n) => newestMtime(path.join(p, n))));
}

/** Builds web/dist unless it is newer than every dashboard source (scripts/test builds it too). */
export async function ensureWebBuilt(): Promise<void> {
  const index = path.join(DIST, 'index.html');
  let built = 0;
  try {
    built = statSync(index).mtimeMs;
  } catch {
    // not built yet
  }
  const sources = ['src', 'public', 'index.html', 'vite.config.ts'].map((p) => path.join(ROOT, 'web', p));
  if (built && built >= Math.max(...sources.map(newestMtime))) return;
  await promisify(execFile)(process.execPath, [path.join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', 'web', '--logLevel', 'warn'], { cwd: ROOT });
}

export interface TestBrowser {
  context: BrowserContext;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<TestBrowser> {
  const profile = mkdtempSync(path.join(tmpdir(), 'berth-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 860 },
  });
  context.setDefaultTimeout(15_000);
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Saves a screenshot as test-results/screenshots/<name>.png and returns its path. */
export async function shot(page: Page, name: string, fullPage = false): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const file = path.join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage });
  return file;
}

/** Collects what must never happen on a page: script errors and CSP or console errors. */
export function watchProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    // Expected API answers (a 401 before login, 404 feature probes) are logged by Chromium as
    // failed resources; anything else at error level is a problem.
    if (msg.type() === 'error' && !/Failed to load resource: the server responded with a status of (401|404)/.test(msg.text())) {
      problems.push(`console: ${msg.text()}`);
    }
  });
  return problems;
}

/** Cumulative layout shift of the page so far (Chromium's layout-shift entries). */
export function layoutShift(page: Page): Promise<number> {
  return page.evaluate(
    () =>
      new Promise<number>((resolve) => {
        let total = 0;
        new PerformanceObserver((list) => {
          for (const e of list.getEntries() as (PerformanceEntry & { value: number; hadRecentInput: boolean })[]) {
            if (!e.hadRecentInput) total += e.value;
          }
        }).observe({ type: 'layout-shift', buffered: true });
        setTimeout(() => resolve(total), 300);
      }),
  );
}
