/**
 * The exec protocol's terminal size against a real daemon and a real container (busybox), on
 * podman and on docker (each skips loudly when its engine does not answer):
 * the initial `cols`/`rows` of the URL, the `resize` message over a raw WebSocket (the program
 * sees the size and gets SIGWINCH), bounds on hostile sizes, hang-up when the client leaves, and
 * `berth ws shell` on a terminal that is resized (SIGWINCH → resize message → remote size).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import WebSocket from 'ws';
import { spawn as spawnPty } from '@lydell/node-pty';
import { startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { ensureTestImage } from '../support/test-image.js';
import { requireOrSkip } from '../support/require.js';
import { workloadName } from '../../src/services/workspaces.js';

const run = promisify(execFile);
const missing = {
  podman: await run('podman', ['--version']).then(() => false, () => true),
  docker: await run('docker', ['info', '--format', '{{.ServerVersion}}']).then(() => false, () => true),
};
const HINT = { podman: 'podman is not installed (scripts/install-deps --test installs it)', docker: 'no Docker engine answers `docker info` (scripts/start-docker starts one)' };
const root = path.resolve(import.meta.dirname, '../..');

/** An exec session over a raw WebSocket: all output as text, and a way to wait for a pattern. */
interface Raw {
  ws: WebSocket;
  output(): string;
  waitFor(pattern: RegExp, ms?: number): Promise<RegExpMatchArray>;
  type(text: string): void;
  control(msg: unknown): void;
  exit: Promise<number>;
}

async function openRaw(t: TestDaemon, query: string): Promise<Raw> {
  const ws = new WebSocket(`${t.daemon.url.replace('http', 'ws')}/api/workspaces/resizer/exec?${query}`, {
    headers: { authorization: `Bearer ${t.daemon.token}` },
  });
  let out = '';
  const waiters = new Set<() => void>();
  let resolveExit!: (code: number) => void;
  const exit = new Promise<number>((resolve) => (resolveExit = resolve));
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (!isBinary) {
      const msg = JSON.parse(data.toString()) as { type: string; code: number };
      if (msg.type === 'exit') resolveExit(msg.code);
      return;
    }
    out += data.toString('utf8');
    for (const w of waiters) w();
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return {
    ws,
    exit,
    output: () => out,
    type: (text) => ws.send(Buffer.from(text), { binary: true }),
    control: (msg) => ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg)),
    waitFor(pattern, ms = 15_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const m = pattern.exec(out);
          if (!m) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(m);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no ${pattern} in output: ${JSON.stringify(out)}`));
        }, ms);
        waiters.add(check);
        check();
      });
    },
  };
}

for (const engine of ['podman', 'docker'] as const) {
  describe(`exec terminal size on ${engine}`, { skip: requireOrSkip(engine, !missing[engine], HINT[engine]) }, () => {
    let t: TestDaemon;
    let env: NodeJS.ProcessEnv;
    let container: string;
    let n = 0;
    /** `echo <tag>=$(stty size)` with a fresh tag, and the rows/cols it printed. */
    async function sttySize(s: Raw): Promise<[number, number]> {
      const tag = `sz${++n}`;
      s.type(`echo ${tag}=$(stty size)\n`);
      // No digits when the terminal has no size yet (docker sizes it just after the exec starts).
      const m = await s.waitFor(new RegExp(`${tag}=(?:(\\d+) (\\d+))?\\r?\\n`));
      return [Number(m[1] ?? NaN), Number(m[2] ?? NaN)];
    }
    /**
     * The size once it has settled: the engine applies a size beside the input stream (podman:
     * conmon's control pipe; docker: an API call the CLI makes just after the exec starts), so
     * input typed right after the start or a burst of resizes may run before it.
     */
    async function settledSize(s: Raw, want: [number, number]): Promise<[number, number]> {
      let got = await sttySize(s);
      for (let i = 0; i < 20 && (got[0] !== want[0] || got[1] !== want[1]); i++) {
        await new Promise((r) => setTimeout(r, 100));
        got = await sttySize(s);
      }
      return got;
    }

    before(async () => {
      t = await startTestDaemon({ runtime: engine });
      env = engine === 'podman' ? { ...process.env, CONTAINERS_CONF: path.join(t.dataDir, 'containers.conf') } : process.env;
      const image = await ensureTestImage(engine, engine === 'podman' ? { CONTAINERS_CONF: env.CONTAINERS_CONF } : {});
      const res = await t.api('POST', '/api/workspaces', { name: 'resizer', image, command: ['sleep', '100000'] });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      container = workloadName(res.body.id, t.daemon.installation);
    });
    after(async () => {
      await t?.stop();
    });

    it('starts at cols/rows of the URL, follows resize messages, and the program gets SIGWINCH', async () => {
      const s = await openRaw(t, 'tty=1&cols=100&rows=30&cmd=/bin/sh');
      assert.deepEqual(await settledSize(s, [30, 100]), [30, 100]);
      s.type('echo term=$TERM\n');
      await s.waitFor(/term=xterm-256color/);
      s.control({ type: 'resize', cols: 132, rows: 43 });
      assert.deepEqual(await sttySize(s), [43, 132]);
      // The program in the foreground gets SIGWINCH: a shell that traps it (and runs the trap
      // between two short sleeps) prints the new size, then ends.
      s.type(`sh -c 'trap "echo winch=\\$(stty size); exit 0" WINCH; echo armed; while :; do sleep 0.1; done'\n`);
      await s.waitFor(/^armed\r?$/m);
      s.control({ type: 'resize', cols: 90, rows: 20 });
      assert.deepEqual((await s.waitFor(/winch=(\d+) (\d+)/)).slice(1), ['20', '90']);
      s.type('exit 4\n');
      assert.equal(await s.exit, 4);
    });

    it('defaults to 80×24, clamps hostile sizes and survives malformed control frames', async () => {
      const s = await openRaw(t, 'tty=1&cols=abc&rows=-3&cmd=/bin/sh');
      assert.deepEqual(await settledSize(s, [24, 80]), [24, 80]);
      s.control({ type: 'resize', cols: 1e9, rows: 1e9 });
      assert.deepEqual(await sttySize(s), [500, 1000]);
      for (const bad of ['{', 'null', '[]', '{"type":"resize","cols":"x","rows":{}}', '{"type":"resize","cols":-5,"rows":-5}', '{"type":"nope"}']) {
        s.control(bad);
      }
      s.control({ type: 'resize', cols: 70.9, rows: 21.2 });
      assert.deepEqual(await settledSize(s, [21, 70]), [21, 70]);
      s.control({ type: 'resize', cols: 'x', rows: 30 });
      s.control({ type: 'resize', cols: 100 });
      assert.deepEqual(await sttySize(s), [21, 70], 'a resize without two numbers changes nothing');
      s.type('exit\n');
      assert.equal(await s.exit, 0);
    });

    it('hangs up the shell when the client goes away', async () => {
      const psShells = async (): Promise<string[]> => {
        const { stdout } = await run(engine, ['exec', container, 'ps', '-o', 'pid,args'], { env });
        return stdout.split('\n').filter((l) => /\bhangup-probe\b/.test(l));
      };
      const s = await openRaw(t, 'tty=1&cmd=/bin/sh&cmd=-c&cmd=exec sh -s hangup-probe');
      s.type('echo ready\n');
      await s.waitFor(/^ready\r?$/m);
      assert.equal((await psShells()).length, 1, 'the shell runs while connected');
      s.ws.terminate();
      let left = await psShells();
      for (let i = 0; i < 50 && left.length; i++) {
        await new Promise((r) => setTimeout(r, 100));
        left = await psShells();
      }
      assert.deepEqual(left, [], 'no shell left behind');
    });

    it('berth ws shell on a terminal: SIGWINCH of its terminal resizes the remote one', async () => {
      const cliEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BERTH_'))) as Record<string, string>;
      const pty = spawnPty(process.execPath, ['--import', 'tsx', path.join(root, 'src/cli/index.ts'), 'ws', 'shell', 'resizer'], {
        name: 'xterm-256color',
        cols: 100,
        rows: 30,
        cwd: root,
        env: { ...cliEnv, BERTH_URL: t.daemon.url, BERTH_DATA_DIR: t.dataDir },
      });
      let out = '';
      pty.onData((d) => (out += d));
      const exited = new Promise<number>((resolve) => pty.onExit((e) => resolve(e.exitCode)));
      const waitFor = async (re: RegExp): Promise<RegExpMatchArray> => {
        for (let i = 0; i < 300; i++) {
          const m = re.exec(out);
          if (m) return m;
          await new Promise((r) => setTimeout(r, 50));
        }
        throw new Error(`no ${re} in ${JSON.stringify(out)}`);
      };
      try {
        // Type at the prompt, as a person does: typed earlier, docker's CLI may not have sent the
        // terminal's size yet (seen in a full run: `stty: standard input`, the command echoed before
        // the shell's banner).
        await waitFor(/\/ # /);
        pty.write('echo first=$(stty size)\r');
        assert.deepEqual((await waitFor(/first=(\d+) (\d+)/)).slice(1), ['30', '100']);
        pty.resize(120, 40);
        // The CLI hears SIGWINCH and sends the resize; give the round trip a moment before asking.
        await new Promise((r) => setTimeout(r, 300));
        pty.write('echo second=$(stty size)\r');
        assert.deepEqual((await waitFor(/second=(\d+) (\d+)/)).slice(1), ['40', '120']);
        pty.write('exit 5\r');
        assert.equal(await exited, 5);
      } finally {
        pty.kill();
      }
    });
  });
}
