/**
 * Live workspace states: server-sent events from `api/events`, or — when that endpoint does not
 * exist (or keeps failing) — a poll of `api/workspaces` every 3 s. Either way the caller gets
 * whole-list snapshots and single updates through the same two callbacks.
 *
 * Apps and previews have no events (the stream carries workspaces only): their pages poll with
 * `usePolled`, every 3 s while the page is visible.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
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

/**
 * Calls `load` now, then every `ms` while the page is visible, and at once when it becomes
 * visible again (there are no events for apps and previews, so this is how their pages stay
 * current). Runs never overlap. The returned function stops it.
 */
export function pollWhileVisible(load: () => Promise<void>, ms = POLL_MS): () => void {
  let stopped = false;
  let running = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const tick = async (): Promise<void> => {
    clearTimeout(timer);
    if (stopped || running) return;
    if (!document.hidden) {
      running = true;
      await load().catch(() => undefined);
      running = false;
    }
    if (!stopped) timer = setTimeout(() => void tick(), ms);
  };
  const onVisible = (): void => {
    if (!document.hidden) void tick();
  };
  document.addEventListener('visibilitychange', onVisible);
  void tick();
  return () => {
    stopped = true;
    clearTimeout(timer);
    document.removeEventListener('visibilitychange', onVisible);
  };
}

/**
 * `GET path`, kept current by pollWhileVisible. A failed refresh keeps the last answer and sets
 * `error` (cleared by the next success); `reload()` asks again at once. `ms: null` = no polling.
 */
export function usePolled<T>(path: string | null, ms: number | null = POLL_MS): { data: T | null; error: unknown; reload: () => void } {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [nudge, setNudge] = useState(0);
  const latest = useRef(0);
  useEffect(() => {
    setData(null);
    setError(null);
  }, [path]);
  useEffect(() => {
    if (path === null) return;
    const load = async (): Promise<void> => {
      // Answers can overtake each other (a reload during a poll): only the newest request counts.
      const mine = ++latest.current;
      try {
        const body = await api<T>('GET', path);
        if (mine === latest.current) {
          setData(body);
          setError(null);
        }
      } catch (err) {
        if (mine === latest.current) setError(err);
      }
    };
    if (ms === null) {
      void load();
      return () => {
        latest.current++;
      };
    }
    const stop = pollWhileVisible(load, ms);
    return () => {
      stop();
      latest.current++;
    };
  }, [path, ms, nudge]);
  return { data, error, reload: () => setNudge((n) => n + 1) };
}
