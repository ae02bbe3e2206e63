// A real Vite dev server behind the edge: page, client script and HMR WebSocket all go through
// the edge, and editing a module pushes an update over the tunnelled HMR socket.
//
// Path mode uses a `keepPrefix` port: Vite with `base` expects its base in every request (it
// 404s/redirects anything else), so stripping `/hosted/{id}/{port}` would break it.
// Subdomain mode needs no base at all and only Vite's `allowedHosts` for the app host.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { createServer, type ViteDevServer } from 'vite';
import { buildRouteTable } from '../../src/edge/route-table.js';
import { freePort, get, startEdge, type EdgeHarness } from '../support/edge-harness.js';

const MAIN = (n: number) => `document.body.dataset.n = '${n}';\nif (import.meta.hot) import.meta.hot.accept();\n`;

function makeProject(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-vite-'));
  writeFileSync(path.join(dir, 'index.html'), '<!doctype html><html><body><h1>vite through berth</h1><script type="module" src="./main.js"></script></body></html>\n');
  writeFileSync(path.join(dir, 'main.js'), MAIN(1));
  return dir;
}

async function startVite(root: string, port: number, base: string, edgePort: number, allowedHosts?: string[]): Promise<ViteDevServer> {
  const server = await createServer({
    configFile: false,
    root,
    base,
    logLevel: 'silent',
    clearScreen: false,
    optimizeDeps: { noDiscovery: true, include: [] },
    server: {
      host: '127.0.0.1',
      port,
      strictPort: true,
      // The browser reaches the dev server only through the edge, so HMR must dial the edge's port.
      hmr: { clientPort: edgePort },
      ...(allowedHosts ? { allowedHosts } : {}),
    },
  });
  await server.listen();
  return server;
}

/** Opens the HMR socket as Vite's client does and waits for the `connected` hello. */
async function openHmr(url: string, headers: Record<string, string> = {}): Promise<{ ws: WebSocket; next: (type: string) => Promise<any> }> {
  const ws = new WebSocket(url, 'vite-hmr', { headers });
  const messages: any[] = [];
  const waiters: { type: string; resolve: (m: any) => void }[] = [];
  ws.on('message', (data) => {
    const msg = JSON.parse(data.toString());
    const w = waiters.findIndex((x) => x.type === msg.type);
    if (w !== -1) waiters.splice(w, 1)[0]!.resolve(msg);
    else messages.push(msg);
  });
  const next = (type: string): Promise<any> => {
    const i = messages.findIndex((m) => m.type === type);
    if (i !== -1) return Promise.resolve(messages.splice(i, 1)[0]);
    return new Promise((resolve, reject) => {
      waiters.push({ type, resolve });
      setTimeout(() => reject(new Error(`no ${type} message within 10 s`)), 10_000).unref();
    });
  };
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_q, res) => reject(new Error(`HMR upgrade refused: HTTP ${res.statusCode}`)));
    ws.once('error', reject);
  });
  assert.equal(ws.protocol, 'vite-hmr');
  await next('connected');
  return { ws, next };
}

describe('edge + Vite dev server (HMR)', { timeout: 60_000 }, () => {
  let h: EdgeHarness;
  const dirs: string[] = [];
  const servers: ViteDevServer[] = [];

  before(async () => {
    h = await startEdge({ appsDomain: 'apps.test' });
  });

  after(async () => {
    for (const s of servers) await s.close();
    await h.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('path route: page, client and HMR update through /hosted/{id}/{port}/', async () => {
    const root = makeProject();
    dirs.push(root);
    const port = await freePort();
    const base = `/hosted/vitepath/${port}/`;
    h.edge.setRoutes(
      buildRouteTable([{ kind: 'workspace', id: 'vitepath', name: 'vite-path', state: 'running', upstreamHost: '127.0.0.1', ports: [{ containerPort: 8000, hostPort: port, keepPrefix: true }] }], {
        appsDomain: 'apps.test',
      }),
    );
    const vite = await startVite(root, port, base, h.port);
    servers.push(vite);

    const page = await get(h.port, base, { Accept: 'text/html' });
    assert.equal(page.status, 200);
    assert.match(page.body, /vite through berth/);
    assert.ok(page.body.includes(`${base}@vite/client`), 'client script is under the hosted base');

    const client = await get(h.port, `${base}@vite/client`);
    assert.equal(client.status, 200);
    assert.ok(client.body.includes(`const hmrPort = ${h.port};`), 'HMR dials the edge port');
    assert.ok(client.body.includes(`\${${JSON.stringify(base)}}`), 'HMR socket path is the hosted base');

    // The browser loads main.js (putting it in Vite's module graph) and then opens the socket.
    const main = await get(h.port, `${base}main.js`);
    assert.equal(main.status, 200);
    const { ws, next } = await openHmr(`ws://127.0.0.1:${h.port}${base}?token=${encodeURIComponent(vite.config.webSocketToken)}`);
    try {
      writeFileSync(path.join(root, 'main.js'), MAIN(2));
      const update = await next('update');
      assert.ok(update.updates.some((u: { path: string }) => u.path.endsWith('main.js')), JSON.stringify(update));
    } finally {
      ws.close();
    }
  });

  it('subdomain route: page and HMR update through {port}--{id}.{appsDomain}', async () => {
    const root = makeProject();
    dirs.push(root);
    const port = await freePort();
    const host = `${port}--vitehost.apps.test:${h.port}`;
    h.edge.setRoutes(
      buildRouteTable([{ kind: 'workspace', id: 'vitehost', name: 'vite-host', state: 'running', upstreamHost: '127.0.0.1', ports: [{ containerPort: 8000, hostPort: port }] }], {
        appsDomain: 'apps.test',
      }),
    );
    const vite = await startVite(root, port, '/', h.port, ['.apps.test']);
    servers.push(vite);

    const page = await get(h.port, '/', { Host: host, Accept: 'text/html' });
    assert.equal(page.status, 200);
    assert.ok(page.body.includes('/@vite/client'));
    assert.equal((await get(h.port, '/main.js', { Host: host })).status, 200);

    const { ws, next } = await openHmr(`ws://127.0.0.1:${h.port}/?token=${encodeURIComponent(vite.config.webSocketToken)}`, { Host: host });
    try {
      writeFileSync(path.join(root, 'main.js'), MAIN(3));
      const update = await next('update');
      assert.ok(update.updates.some((u: { path: string }) => u.path.endsWith('main.js')), JSON.stringify(update));
    } finally {
      ws.close();
    }
  });
});
