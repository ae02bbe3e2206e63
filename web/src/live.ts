/**
 * Live workspace states: server-sent events from `api/events`, or — when that endpoint does not
 * exist (or keeps failing) — a poll of `api/workspaces` every 3 s. Either way the caller gets
 * whole-list snapshots and single updates through the same two callbacks.
 */
import { api, apiUrl, type Workspace } from './api.js';

export interface LiveHandlers {
  /**
   * A whole-list snapshot. `keep`: ids that events touched while the snapshot was in flight —
   * their current entries (or absence) are newer than the snapshot's and must stay as they are.
   */
  list(workspaces: Workspace[], keep: ReadonlySet<string>): void;
  update(ws: Workspace): void;
  removed(id: string): void;
  /** How states arrive now: 'events' (SSE), 'polling', or an error message from the last fetch. */
  status(mode: 'events' | 'polling', error: unknown): void;
}

export const POLL_MS = 3000;

/** Starts the subscription; the returned function stops it. */
export function subscribeWorkspaces(h: LiveHandlers): () => void {
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let es: EventSource | null = null;
  /** Ids events touched since the current snapshot request started (null: none in flight). */
  let touched: Set<string> | null = null;

  const refresh = async (mode: 'events' | 'polling'): Promise<void> => {
    const mine = new Set<string>();
    touched = mine;
    try {
      const { workspaces } = await api<{ workspaces: Workspace[] }>('GET', 'api/workspaces');
      if (!stopped) {
        h.list(workspaces, mine);
        h.status(mode, null);
      }
    } catch (err) {
      if (!stopped) h.status(mode, err);
    } finally {
      if (touched === mine) touched = null;
    }
  };

  const poll = async (): Promise<void> => {
    if (stopped) return;
    if (!document.hidden) await refresh('polling');
    if (!stopped) timer = setTimeout(() => void poll(), POLL_MS);
  };

  const startPolling = (): void => {
    es?.close();
    es = null;
    void poll();
  };

  const onMessage = (ev: MessageEvent<string>): void => {
    let msg: { type?: string; workspace?: Workspace; id?: string };
    try {
      msg = JSON.parse(ev.data) as typeof msg;
    } catch {
      return;
    }
    if (msg.type === 'workspace' && msg.workspace) {
      touched?.add(msg.workspace.id);
      h.update(msg.workspace);
    } else if (msg.type === 'workspace-removed' && msg.id) {
      touched?.add(msg.id);
      h.removed(msg.id);
    }
  };

  if (typeof EventSource === 'undefined') {
    startPolling();
  } else {
    es = new EventSource(apiUrl('api/events'), { withCredentials: true });
    let opened = false;
    // Berth sends every workspace on connect, but a stream may stay silent (and unopened) while
    // there is nothing to say, and says nothing about what disappeared while we were away: a
    // snapshot now and after each reconnect settles that, without undoing newer events.
    void refresh('events');
    es.onopen = () => {
      if (opened) void refresh('events');
      opened = true;
    };
    es.onmessage = onMessage;
    es.addEventListener('workspace', onMessage as EventListener);
    es.addEventListener('workspace-removed', onMessage as EventListener);
    es.onerror = () => {
      // A non-200 answer (404: no events endpoint yet) closes the source for good; a dropped
      // stream that had worked reconnects by itself, and we poll meanwhile only if it gives up.
      if (!es || es.readyState === EventSource.CLOSED || !opened) startPolling();
    };
  }

  return () => {
    stopped = true;
    es?.close();
    if (timer) clearTimeout(timer);
  };
}
