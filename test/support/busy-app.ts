/**
 * Catalog apps from the local test image (busybox httpd) for container-runtime tests, installed
 * through the API, and a poll for a page to answer.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { TEST_IMAGE } from './test-image.js';

/** A catalog app serving the test image's page with busybox httpd. */
export async function writeBusyApp(dir: string, name: string, extra: Record<string, unknown> = {}): Promise<void> {
  const manifest = {
    name,
    title: `Busy ${name}`,
    description: 'busybox httpd from the local test image',
    image: TEST_IMAGE,
    command: ['httpd', '-f', '-p', '8080', '-h', '/www'],
    ports: { http: 8080 },
    healthcheck: { http: '/', interval: '200ms', timeout: '2s', retries: 50 },
    ...extra,
  };
  await mkdir(path.join(dir, name), { recursive: true });
  await writeFile(path.join(dir, name, 'app.yaml'), JSON.stringify(manifest, null, 2));
}

/** GETs `url` until it answers `want` (a workload may take a moment to listen). */
export async function answers(url: string, want: string, token?: string, tries = 50): Promise<string> {
  let body = '';
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  for (let i = 0; i < tries && body !== want; i++) {
    body = await fetch(url, { headers }).then((r) => r.text(), () => '');
    if (body !== want) await new Promise((r) => setTimeout(r, 100));
  }
  return body;
}

