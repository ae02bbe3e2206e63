/** A process workload that serves its request path, headers and the BERTH_* env as JSON on $PORT. */
export const ECHO_SERVER = [
  process.execPath,
  '-e',
  `require('http').createServer((q, s) => {
     const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('BERTH_') || k === 'PORT' || k === 'GREETING'));
     s.setHeader('content-type', 'application/json');
     s.end(JSON.stringify({ url: q.url, headers: q.headers, env }));
   }).listen(Number(process.env.PORT), '127.0.0.1', () => console.log('echo listening on ' + process.env.PORT));`,
];
