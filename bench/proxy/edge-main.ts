/**
 * Benchmark edge process: a Berth edge routing `/hosted/bench/{port}/` to the bench upstream.
 * Usage: `node --import tsx bench/proxy/edge-main.ts <upstreamPort> [listenPort] [workers]`;
 * prints {"port":N} once listening. workers > 1 uses node:cluster (one shared listener).
 * BERTH_BENCH_TLS_CERT / BERTH_BENCH_TLS_KEY (PEM files) make it serve HTTPS (bench/tls).
 */
import cluster from 'node:cluster';
import { createServer } from 'node:net';
import { loadConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/log.js';
import { createEdge } from '../../src/edge/server.js';
import { buildRouteTable } from '../../src/edge/route-table.js';
import { readFileSync } from 'node:fs';
import { CertificateStore, loadCertificate } from '../../src/edge/tls/certificates.js';

function benchTls(): { sniCallback: CertificateStore['sniCallback']; hstsMaxAge: number } | undefined {
  const cert = process.env.BERTH_BENCH_TLS_CERT;
  const key = process.env.BERTH_BENCH_TLS_KEY;
  if (!cert || !key) return undefined;
  const store = new CertificateStore();
  store.put('files', loadCertificate(readFileSync(cert, 'utf8'), readFileSync(key, 'utf8')));
  return { sniCallback: store.sniCallback, hstsMaxAge: 0 };
}

const upstreamPort = Number(process.argv[2]);
const listenPort = Number(process.argv[3] ?? 0);
const workers = Number(process.argv[4] ?? 1);

async function serve(port: number): Promise<number> {
  const edge = createEdge({
    config: loadConfig({}, { port, host: '127.0.0.1' }),
    log: silentLogger(),
    fallback: (_req, res) => void res.writeHead(404).end(),
    ...(benchTls() ? { tls: benchTls()! } : {}),
  });
  edge.setRoutes(
    buildRouteTable([
      { kind: 'workspace', id: 'bench', name: 'bench', state: 'running', upstreamHost: '127.0.0.1', ports: [{ containerPort: 8000, hostPort: upstreamPort }] },
    ]),
  );
  process.on('SIGTERM', () => void edge.close().then(() => process.exit(0)));
  return (await edge.listen(port, '127.0.0.1')).port;
}

async function pickPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

if (cluster.isWorker) {
  await serve(listenPort);
  process.send?.('ready');
} else if (workers <= 1) {
  process.stdout.write(`${JSON.stringify({ port: await serve(listenPort) })}\n`);
} else {
  // Workers share one listener: with port 0 each would get its own, so choose it here.
  const port = listenPort || (await pickPort());
  cluster.setupPrimary({ args: [String(upstreamPort), String(port), '1'] });
  let ready = 0;
  for (let i = 0; i < workers; i++) {
    cluster.fork().once('message', () => {
      if (++ready === workers) process.stdout.write(`${JSON.stringify({ port })}\n`);
    });
  }
  process.on('SIGTERM', () => {
    for (const w of Object.values(cluster.workers ?? {})) w?.kill('SIGTERM');
    setTimeout(() => process.exit(0), 300);
  });
}
