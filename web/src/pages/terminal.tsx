/**
 * A simple shell pane over `api/workspaces/:id/exec?tty=1&cmd=/bin/sh` (WebSocket): binary
 * frames are stdin/stdout, text frames JSON control (`resize` from us, `exit` from the server).
 * Line-based: the input line is sent on Enter; it works with and without a remote pty (without
 * one, the pane echoes the command itself; with one, the first remote echo switches that off).
 */
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { wsUrl, type Workspace } from '../api.js';
import { appendOutput, stripEscapes } from '../lib/term.js';

type ShellState = 'connecting' | 'open' | 'closed';

function measure(pre: HTMLElement): { cols: number; rows: number } {
  const style = getComputedStyle(pre);
  const font = parseFloat(style.fontSize) || 14;
  const line = parseFloat(style.lineHeight) || font * 1.3;
  return { cols: Math.max(20, Math.floor(pre.clientWidth / (font * 0.6))), rows: Math.max(5, Math.floor(pre.clientHeight / line)) };
}

export function ShellPanel({ ws, onClose }: { ws: Workspace; onClose: () => void }) {
  const [screen, setScreen] = useState('');
  const [state, setState] = useState<ShellState>('connecting');
  const [line, setLine] = useState('');
  const [generation, setGeneration] = useState(0);
  const sock = useRef<WebSocket | null>(null);
  const preRef = useRef<HTMLPreElement>(null);
  const inputRef = useRef<HTMLInputElement>(null);
  const echo = useRef<{ remote: boolean; pending: string | null }>({ remote: false, pending: null });
  const history = useRef<{ lines: string[]; at: number }>({ lines: [], at: 0 });

  useEffect(() => {
    setScreen('');
    setState('connecting');
    echo.current = { remote: false, pending: null };
    const s = new WebSocket(wsUrl(`api/workspaces/${encodeURIComponent(ws.id)}/exec?tty=1&cmd=/bin/sh`));
    s.binaryType = 'arraybuffer';
    sock.current = s;
    const decoder = new TextDecoder();
    const resize = (): void => {
      if (s.readyState === WebSocket.OPEN && preRef.current) s.send(JSON.stringify({ type: 'resize', ...measure(preRef.current) }));
    };
    s.onopen = () => {
      setState('open');
      resize();
      inputRef.current?.focus();
    };
    s.onmessage = (ev: MessageEvent<ArrayBuffer | string>) => {
      if (typeof ev.data === 'string') {
        try {
          const msg = JSON.parse(ev.data) as { type?: string; code?: number };
          if (msg.type === 'exit') setScreen((t) => appendOutput(t, `\n[exited with code ${msg.code ?? '?'}]\n`));
        } catch {
          // not a control message we know
        }
        return;
      }
      let text = decoder.decode(ev.data, { stream: true });
      const e = echo.current;
      if (e.pending !== null) {
        const clean = stripEscapes(text).replace(/\r\n/g, '\n');
        if (clean.startsWith(e.pending + '\n')) {
          // The remote side echoes (a pty): drop this echo, ours already shows the line.
          e.remote = true;
          text = clean.slice(e.pending.length + 1);
        }
        e.pending = null;
      }
      setScreen((t) => appendOutput(t, text));
    };
    s.onclose = (ev) => {
      setState('closed');
      if (ev.code !== 1000 && ev.code !== 1005) setScreen((t) => appendOutput(t, `\n[connection closed${ev.reason ? `: ${ev.reason}` : ` (${ev.code})`}]\n`));
    };
    let timer: ReturnType<typeof setTimeout> | undefined;
    const onResize = (): void => {
      clearTimeout(timer);
      timer = setTimeout(resize, 150);
    };
    addEventListener('resize', onResize);
    return () => {
      removeEventListener('resize', onResize);
      clearTimeout(timer);
      s.close(1000);
    };
  }, [ws.id, generation]);

  useLayoutEffect(() => {
    if (preRef.current) preRef.current.scrollTop = preRef.current.scrollHeight;
  }, [screen]);

  const sendBytes = (data: string): void => {
    const s = sock.current;
    if (s && s.readyState === WebSocket.OPEN) s.send(new TextEncoder().encode(data));
  };
  const submit = (e: Event): void => {
    e.preventDefault();
    if (state !== 'open') return;
    const e2 = echo.current;
    if (!e2.remote) {
      // Echo locally after the prompt (if the remote printed one), or with our own.
      setScreen((t) => appendOutput(t, (t === '' || t.endsWith('\n') ? '$ ' : '') + line + '\n'));
      e2.pending = line;
    }
    if (line.trim()) history.current = { lines: [...history.current.lines, line].slice(-100), at: history.current.lines.length + 1 };
    sendBytes(line + '\n');
    setLine('');
  };
  const onKeyDown = (e: KeyboardEvent): void => {
    const h = history.current;
    if (e.ctrlKey && e.key === 'c' && !window.getSelection()?.toString()) {
      e.preventDefault();
      sendBytes('\x03');
    } else if (e.ctrlKey && e.key === 'd' && line === '') {
      e.preventDefault();
      sendBytes('\x04');
    } else if (e.key === 'ArrowUp' && h.at > 0) {
      e.preventDefault();
      h.at--;
      setLine(h.lines[h.at] ?? '');
    } else if (e.key === 'ArrowDown' && h.at < h.lines.length) {
      e.preventDefault();
      h.at++;
      setLine(h.lines[h.at] ?? '');
    }
  };

  const inputId = `shell-input-${ws.id}`;
  return (
    <div class="panel">
      <div class="panel-head">
        <h3>Shell</h3>
        <span class="muted small" role="status">
          {state === 'connecting' ? 'connecting…' : state === 'open' ? '/bin/sh' : 'closed'}
        </span>
        {state === 'closed' ? (
          <button type="button" onClick={() => setGeneration((g) => g + 1)}>
            Reconnect
          </button>
        ) : (
          <button type="button" onClick={() => sendBytes('\x03')} disabled={state !== 'open'} aria-label="Send Ctrl-C">
            Ctrl-C
          </button>
        )}
        <button type="button" onClick={onClose}>
          Close
        </button>
      </div>
      <pre ref={preRef} class="term" tabIndex={0} role="log" aria-label={`Shell output of ${ws.name}`} onClick={() => inputRef.current?.focus()}>
        {screen}
      </pre>
      <form class="term-input" onSubmit={submit}>
        <label for={inputId} class="prompt">
          $<span class="visually-hidden"> command for {ws.name}</span>
        </label>
        <input
          id={inputId}
          ref={inputRef}
          autoComplete="off"
          autoCapitalize="off"
          spellcheck={false}
          value={line}
          disabled={state !== 'open'}
          onInput={(e) => setLine(e.currentTarget.value)}
          onKeyDown={onKeyDown}
        />
        <button type="submit" disabled={state !== 'open'}>
          Run
        </button>
      </form>
    </div>
  );
}
