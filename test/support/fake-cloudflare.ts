/**
 * A local HTTP server speaking Cloudflare's API v4 wire format for the calls a DNS-01 client makes
 * (`GET /client/v4/zones?name=`, `POST /client/v4/zones/{id}/dns_records`,
 * `DELETE /client/v4/zones/{id}/dns_records/{rid}`), with Bearer-token auth and Cloudflare's
 * envelope (`success`, `errors`, `result`). TXT records it accepts are served for real by
 * pebble-challtestsrv's DNS (its `/set-txt` and `/clear-txt`), so the CA resolves what Berth
 * published through "Cloudflare".
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeCloudflare {
  apiUrl: string;
  /** Every request: `METHOD path` and its Authorization header. */
  calls: { line: string; authorization: string | undefined; body: unknown }[];
  close(): Promise<void>;
}

export async function startFakeCloudflare(opts: { token: string; zones: { id: string; name: string }[]; dns: (pathname: string, body: Record<string, unknown>) => Promise<void> }): Promise<FakeCloudflare> {
  const calls: FakeCloudflare['calls'] = [];
  const records = new Map<string, { zone: string; name: string }>();
  let next = 1;
  const send = (res: http.ServerResponse, status: number, result: unknown, errors: { code: number; message: string }[] = []): void => {
    const body = JSON.stringify({ success: errors.length === 0, errors, messages: [], result: errors.length === 0 ? result : null });
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(body);
  };
  const server = http.createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (raw += c));
    req.on('end', () => {
      void (async () => {
        const url = new URL(req.url ?? '/', 'http://x');
        const body: unknown = raw ? JSON.parse(raw) : null;
        calls.push({ line: `${req.method} ${url.pathname}${url.search}`, authorization: req.headers.authorization, body });
        if (req.headers.authorization !== `Bearer ${opts.token}`) return send(res, 403, null, [{ code: 10000, message: 'Authentication error' }]);
        let m: RegExpExecArray | null;
        if (req.method === 'GET' && url.pathname === '/client/v4/zones') {
          const name = url.searchParams.get('name');
          return send(res, 200, opts.zones.filter((z) => z.name === name).map((z) => ({ ...z, status: 'active' })));
        }
        if (req.method === 'POST' && (m = /^\/client\/v4\/zones\/([^/]+)\/dns_records$/.exec(url.pathname))) {
          const zone = m[1]!;
          const rec = body as { type?: string; name?: string; content?: string; ttl?: number };
          if (!opts.zones.some((z) => z.id === zone)) return send(res, 404, null, [{ code: 7003, message: 'Could not route to /zones/..., perhaps your object identifier is invalid?' }]);
          if (rec.type !== 'TXT' || !rec.name || !rec.content) return send(res, 400, null, [{ code: 9005, message: 'Content for TXT record is invalid.' }]);
          await opts.dns('/set-txt', { host: `${rec.name}.`, value: rec.content });
          const id = `rec${next++}`;
          records.set(id, { zone, name: rec.name });
          return send(res, 200, { id, zone_id: zone, name: rec.name, type: 'TXT', content: rec.content, ttl: rec.ttl ?? 1 });
        }
        if (req.method === 'DELETE' && (m = /^\/client\/v4\/zones\/([^/]+)\/dns_records\/([^/]+)$/.exec(url.pathname))) {
          const rec = records.get(m[2]!);
          if (!rec || rec.zone !== m[1]) return send(res, 404, null, [{ code: 81044, message: 'Record does not exist.' }]);
          records.delete(m[2]!);
          await opts.dns('/clear-txt', { host: `${rec.name}.` });
          return send(res, 200, { id: m[2] });
        }
        send(res, 404, null, [{ code: 7000, message: 'No route for that URI' }]);
      })().catch((err: unknown) => send(res, 500, null, [{ code: 1, message: String(err) }]));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    apiUrl: `http://127.0.0.1:${port}/client/v4`,
    calls,
    // Clients keep their connections alive: end them, or close() waits forever (seen: the suite's
    // after() hook hung and the test file never exited in a full run).
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
