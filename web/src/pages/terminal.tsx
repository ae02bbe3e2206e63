/**
 * The terminal panel of a workspace: xterm.js over `api/workspaces/:id/exec?tty=1` (see
 * xterm-session.ts). The emulator is loaded when the panel first opens.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import type { Workspace } from '../api.js';
import type { TermState, TerminalSession } from './xterm-session.js';

function describe(s: TermState | null): string {
  if (!s) return 'loading…';
  switch (s.kind) {
    case 'connecting':
      return 'connecting…';
    case 'open':
      return 'connected';
    case 'reconnecting':
      return `connection lost, reconnecting (try ${s.attempt})…`;
    case 'exited':
      return `exited with code ${s.code}`;
    case 'lost':
      return 'disconnected';
  }
}

export function ShellPanel({ ws, onClose }: { ws: Workspace; onClose: () => void }) {
  const hostRef = useRef<HTMLDivElement>(null);
  const session = useRef<TerminalSession | null>(null);
  const [state, setState] = useState<TermState | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);

  useEffect(() => {
    let cancelled = false;
    import('./xterm-session.js').then(
      ({ TerminalSession }) => {
        if (cancelled || !hostRef.current) return;
        session.current = new TerminalSession(hostRef.current, ws.id, setState);
        hostRef.current.scrollIntoView({ block: 'nearest' });
      },
      (err: unknown) => setLoadError(`the terminal could not be loaded (${err instanceof Error ? err.message : String(err)}); reload the page`),
    );
    return () => {
      cancelled = true;
      session.current?.dispose();
      session.current = null;
    };
  }, [ws.id]);

  const ended = state?.kind === 'exited' || state?.kind === 'lost';
  return (
    <div class="panel">
      <div class="panel-head">
        <h3>Terminal</h3>
        <span class="muted small" role="status">
          {loadError ?? describe(state)}
        </span>
        {ended ? (
          <button type="button" onClick={() => session.current?.restart()}>
            {state?.kind === 'lost' ? 'Reconnect' : 'New shell'}
          </button>
        ) : (
          <button type="button" onClick={() => session.current?.interrupt()} disabled={state?.kind !== 'open'} aria-label="Send Ctrl-C">
            Ctrl-C
          </button>
        )}
        <button type="button" onClick={onClose}>
          Close
        </button>
      </div>
      <div ref={hostRef} class="xterm-host" role="group" aria-label={`Terminal of ${ws.name}`} onClick={() => session.current?.focus()} />
      <p class="muted small term-help">Paste with Ctrl+V, copy by selecting and pressing Ctrl+C. A lost connection is retried with a new shell.</p>
    </div>
  );
}
