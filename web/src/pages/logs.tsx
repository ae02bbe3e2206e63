/** Live logs of one workspace: `GET api/workspaces/:id/logs?follow=1` read as a fetch stream. */
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { request, type Workspace } from '../api.js';
import { appendOutput } from '../lib/term.js';
import { ErrorBox } from '../ui.js';

type StreamState = 'connecting' | 'streaming' | 'ended' | 'failed';

export function LogsPanel({ ws }: { ws: Workspace }) {
  const [text, setText] = useState('');
  const [state, setState] = useState<StreamState>('connecting');
  const [error, setError] = useState<unknown>(null);
  const [generation, setGeneration] = useState(0);
  const preRef = useRef<HTMLPreElement>(null);
  const stick = useRef(true);

  useEffect(() => {
    const ac = new AbortController();
    setText('');
    setError(null);
    setState('connecting');
    void (async () => {
      try {
        const res = await request('GET', `api/workspaces/${encodeURIComponent(ws.id)}/logs?follow=1&tail=1000`, undefined, { signal: ac.signal });
        setState('streaming');
        if (!res.body) {
          setText(appendOutput('', await res.text()));
          setState('ended');
          return;
        }
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          setText((t) => appendOutput(t, value));
        }
        setState('ended');
      } catch (err) {
        if (ac.signal.aborted) return;
        setError(err);
        setState('failed');
      }
    })();
    return () => ac.abort();
  }, [ws.id, generation]);

  // Keep the view at the bottom while the reader is there; leave it alone once they scroll up.
  useLayoutEffect(() => {
    const pre = preRef.current;
    if (pre && stick.current) pre.scrollTop = pre.scrollHeight;
  }, [text]);
  const onScroll = (): void => {
    const pre = preRef.current;
    if (pre) stick.current = pre.scrollHeight - pre.scrollTop - pre.clientHeight < 24;
  };

  const label = { connecting: 'connecting…', streaming: 'following', ended: 'stream ended', failed: 'failed' }[state];
  return (
    <div class="panel">
      <div class="panel-head">
        <h3>Logs</h3>
        <span class="muted small" role="status">
          {label}
        </span>
        {(state === 'ended' || state === 'failed') && (
          <button type="button" onClick={() => setGeneration((g) => g + 1)}>
            Reconnect
          </button>
        )}
      </div>
      <pre ref={preRef} class="term logs" tabIndex={0} role="log" aria-live="off" aria-label={`Logs of ${ws.name}`} onScroll={onScroll}>
        {text || (state === 'streaming' ? '(no output yet)' : '')}
      </pre>
      <ErrorBox error={error} />
    </div>
  );
}
