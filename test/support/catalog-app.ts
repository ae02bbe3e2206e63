/**
 * A tiny catalog app for process-runtime tests: a node HTTP server on $PORT that answers its name,
 * pid, start time and DATABASE_URL / REDIS_URL as JSON, and keeps a note in its volume (`PUT /note` writes
 * `$BERTH_VOLUME_NOTES/note.txt`, `GET /note` reads it). `writeCatalogApp` writes its manifest.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

export const CATALOG_APP_JS = `
const http = require('node:http');
const fs = require('node:fs');
const path = require('node:path');
const started = Date.now();
http.createServer((req, res) => {
  const note = process.env.BERTH_VOLUME_NOTES ? path.join(process.env.BERTH_VOLUME_NOTES, 'note.txt') : null;
  if (req.url === '/note' && req.method === 'PUT') {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => { fs.writeFileSync(note, body); res.end('saved'); });
    return;
  }
  if (req.url === '/note') {
    try { return res.end(fs.readFileSync(note, 'utf8')); } catch { res.writeHead(404); return res.end('no note'); }
  }
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({
    app: process.env.BERTH_APP_NAME, pid: process.pid, started, volume: process.env.BERTH_VOLUME_NOTES || null,
    databaseUrl: process.env.DATABASE_URL || null, redisUrl: process.env.REDIS_URL || null,
  }));
}).listen(Number(process.env.PORT), '127.0.0.1');
`;

/** Writes `<dir>/app.cjs` (once) and `<dir>/<name>/app.yaml` for an app running it. */
export async function writeCatalogApp(dir: string, name: string, extra: Record<string, unknown> = {}): Promise<void> {
  await writeFile(path.join(dir, 'app.cjs'), CATALOG_APP_JS);
  const manifest = {
    name,
    title: `Test ${name}`,
    description: `test app ${name}`,
    image: 'localhost/berth-test:latest',
    command: [process.execPath, path.join(dir, 'app.cjs')],
    ports: { http: 8080 },
    healthcheck: { http: '/', interval: '100ms', timeout: '1s', retries: 100 },
    ...extra,
  };
  await mkdir(path.join(dir, name), { recursive: true });
  await writeFile(path.join(dir, name, 'app.yaml'), JSON.stringify(manifest, null, 2));
}

/** POST /api/apps as `token`; resolves to the last NDJSON line (the app, or `{error}`). */
export async function installApp(url: string, token: string, name: string): Promise<any> {
  const res = await fetch(`${url}/api/apps`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name }),
  });
  const lines = (await res.text()).split('\n').filter(Boolean).map((l) => JSON.parse(l));
  return lines[lines.length - 1];
}
