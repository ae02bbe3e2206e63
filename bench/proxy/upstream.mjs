// Benchmark upstream: a plain Node HTTP server answering ~100 bytes, plus a WebSocket echo on the
// same port. Runs in its own process (plain JS, no loader) and prints {"port":N} once listening.
import http from 'node:http';
import { WebSocketServer } from 'ws';

const body = Buffer.from(`{"ok":true,"service":"bench-upstream","padding":"${'x'.repeat(52)}"}\n`);
const server = http.createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
  res.end(body);
});
server.keepAliveTimeout = 65_000;
const wss = new WebSocketServer({ server, perMessageDeflate: false });
wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port, bytes: body.length })}\n`);
});
process.on('SIGTERM', () => process.exit(0));
