/**
 * Live lists. `api/events` (server-sent events) carries workspaces, installed apps and previews:
 * everything on connect, then only what changed. A page subscribes to one list (subscribeLive,
 * or the useLiveList hook) and gets whole-list snapshots and single updates through the same
 * callbacks — from the stream, or, when that endpoint does not exist (an older Berth) or keeps
 * failing, from a poll of the list's GET every 3 s while the page is visible.
 *
 * Each subscription opens its own EventSource. Pages replace each other, so sharing one would
 * mean keeping it open between pages — and a logout does not reload the dashboard, so a stream
 * kept across it would go on showing the previous user's view.
 *
 * What has no events (the catalog, an app's frame, a build log as it grows) uses `usePolled`.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, apiUrl, type Workspace } from './api.js';

/** A list the event stream keeps current. */
export interface LiveList<T> {
  /** Its GET (`api/apps`), answering `{ [field]: T[] }`. */
  path: string;
  field: string;
  /** Event type of one item, `{type: kind, [kind]: item}`; a removal is `{type: kind-removed, [key]}`. */
  kind: string;
  /** The property that names an item, in the item and in the removal. */
  key: keyof T & ('id' | 'name');
}

export const WORKSPACES: LiveList<Workspace> = { path: 'api/workspaces', field: 'workspaces', kind: 'workspace', key: 'id' };

export type LiveMode = 'events' | 'polling';

export interface LiveHandlers<T = Workspace> {
  /**
   * A whole-list snapshot. `keep`: keys that events touched while the snapshot was in flight —
   * their current entries (or absence) are newer than the snapshot's and must stay as they are.
   */
  list(items: T[], keep: ReadonlySet<string>): void;
  update(item: T): void;
  removed(key: string): void;
  /** How states arrive now: 'events' (SSE), 'polling', or an error message from the last fetch. */
  status(mode: LiveMode, error: unknown): void;
}

export const POLL_MS = 3000;

/** Event types the stream sends (a listener per type: named SSE events skip `onmessage`). */
const EVENT_TYPES = ['workspace', 'workspace-removed', 'app', 'app-removed', 'preview', 'preview-removed'];

/** Starts a subscription to `c`; `stop` ends it, `refresh` asks for a snapshot now. */
export function subscribeLive<T>(c: LiveList<T>, h: LiveHandlers<T>): { stop: () => void; refresh: () => void } {
  let stopped = false;
  let mode: LiveMode = 'events';
  let timer: ReturnType<typeof setTimeout> | undefined;
  let es: EventSource | null = null;
  /** Keys events touched since the current snapshot request started (null: none in flight). */
  let touched: Set<string> | null = null;

  const refresh = async (): Promise<void> => {
    const mine = new Set<string>();
    touched = mine;
    const asked = mode;
    try {
      const body = await api<Record<string, T[]>>('GET', c.path);
      if (!stopped) {
        h.list(body[c.field] ?? [], mine);
        h.status(asked, null);
      }
    } catch (err) {
      if (!stopped) h.status(asked, err);
    } finally {
      if (touched === mine) touched = null;
    }
  };

  const poll = async (): Promise<void> => {
    if (stopped) return;
    if (!document.hidden) await refresh();
    if (!stopped) timer = setTimeout(() => void poll(), POLL_MS);
  };

  const startPolling = (): void => {
    es?.close();
    es = null;
    mode = 'polling';
    void poll();
  };

  const onMessage = (ev: MessageEvent<string>): void => {
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(ev.data) as Record<string, unknown>;
    } catch {
      return;
    }
    const item = msg[c.kind] as T | undefined;
    if (msg.type === c.kind && item && typeof item === 'object') {
      touched?.add(String(item[c.key]));
      h.update(item);
    } else if (msg.type === `${c.kind}-removed` && typeof msg[c.key] === 'string') {
      touched?.add(msg[c.key] as string);
      h.removed(msg[c.key] as string);
    }
  };

  if (typeof EventSource === 'undefined') {
    startPolling();
  } else {
    es = new EventSource(apiUrl('api/events'), { withCredentials: true });
    let opened = false;
    // Berth sends everything on connect, but a stream may stay silent (and unopened) while there
    // is nothing to say, and says nothing about what disappeared while we were away: a snapshot
    // now and after each reconnect settles that, without undoing newer events.
    void refresh();
    es.onopen = () => {
      if (opened) void refresh();
      opened = true;
    };
    es.onmessage = onMessage;
    for (const type of EVENT_TYPES) es.addEventListener(type, onMessage as EventListener);
    es.onerror = () => {
      // A non-200 answer (404: no events endpoint yet) closes the source for good; a dropped
      // stream that had worked reconnects by itself, and we poll meanwhile only if it gives up.
      if (!es || es.readyState === EventSource.CLOSED || !opened) startPolling();
    };
  }

  return {
    stop: () => {
      stopped = true;
      es?.close();
      if (timer) clearTimeout(timer);
    },
    refresh: () => void refresh(),
  };
}

/** Live workspaces (the workspaces page keeps its own map). The returned function stops it. */
export function subscribeWorkspaces(h: LiveHandlers<Workspace>): () => void {
  return subscribeLive(WORKSPACES, h).stop;
}

/**
 * A live list as component state: `items` (null until the first answer, in no particular order),
 * the last fetch's `error`, the `mode` states arrive in (null while connecting), and `reload()`
 * for a snapshot now (after an action of the page itself, so it shows even without events).
 */
export function useLiveList<T>(c: LiveList<T>): { items: T[] | null; error: unknown; mode: LiveMode | null; reload: () => void } {
  const [items, setItems] = useState<Map<string, T> | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [mode, setMode] = useState<LiveMode | null>(null);
  const sub = useRef<{ refresh: () => void } | null>(null);
  useEffect(() => {
    const s = subscribeLive(c, {
      list: (list, keep) =>
        setItems((prev) => {
          const next = new Map(list.filter((x) => !keep.has(String(x[c.key]))).map((x) => [String(x[c.key]), x]));
          for (const k of keep) {
            const cur = prev?.get(k);
            if (cur) next.set(k, cur);
          }
          return next;
        }),
      update: (x) => setItems((m) => new Map(m ?? []).set(String(x[c.key]), x)),
      removed: (k) =>
        setItems((m) => {
          const next = new Map(m ?? []);
          next.delete(k);
          return next;
        }),
      status: (m, err) => {
        setMode(m);
        setError(err);
      },
    });
    sub.current = s;
    return () => {
      sub.current = null;
      s.stop();
    };
  }, [c]);
  return { items: items && [...items.values()], error, mode, reload: () => sub.current?.refresh() };
}

/**
 * Calls `load` now, then every `ms` while the page is visible, and at once when it becomes
 * visible again (for what has no events). Runs never overlap. The returned function stops it.
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
