/** A workspace card's share-level picker and its idle line ("last active 12m ago: WebSocket on 9000 · stops in 1h 48m if idle"). */
import type { Visibility, Workspace } from '../api.js';

/** "12 min ago" / "in 1 h 48 min" from an ISO time (the page re-renders on every change event). */
export function relative(iso: string, now: number = Date.now()): string {
  const secs = Math.round((Date.parse(iso) - now) / 1000);
  if (Number.isNaN(secs)) return iso;
  const a = Math.abs(secs);
  const text = a < 60 ? `${a} s` : a < 3600 ? `${Math.floor(a / 60)} min` : `${Math.floor(a / 3600)} h ${Math.floor((a % 3600) / 60)} min`;
  return secs < 0 ? `${text} ago` : `in ${text}`;
}

export const SHARE_LABELS: Record<Visibility, string> = {
  private: 'private (owner and admins)',
  authenticated: 'any signed-in user',
  public: 'public (anyone with the link)',
};

/** Who may open the workspace's apps; changing it PATCHes the workspace (audited by the API). */
export function ShareSelect({ ws, busy, onChange }: { ws: Workspace; busy: boolean; onChange: (v: Visibility) => void }) {
  if (!ws.visibility) return null;
  return (
    <label class="share">
      <span class="muted small">Shared:</span>{' '}
      <select
        aria-label={`Who may open the apps of ${ws.name}`}
        disabled={busy}
        value={ws.visibility}
        onChange={(e) => onChange(e.currentTarget.value as Visibility)}
      >
        {(Object.keys(SHARE_LABELS) as Visibility[]).map((v) => (
          <option key={v} value={v}>
            {SHARE_LABELS[v]}
          </option>
        ))}
      </select>
    </label>
  );
}

/** Last activity and idle stop of a workspace, when the API reports them. */
export function IdleInfo({ ws }: { ws: Workspace }) {
  const idle = ws.idle;
  if (!idle) return null;
  const last = idle.lastActiveAt ? `${relative(idle.lastActiveAt)}: ${idle.lastActiveReason ?? 'unknown'}` : 'no activity recorded';
  const stop =
    idle.idleStop === null
      ? 'never idle-stops'
      : idle.openSessions > 0
        ? `idle stop after ${idle.idleStop} (not while a shell is open)`
        : idle.idleStopAt && ws.state === 'running'
          ? `stops ${relative(idle.idleStopAt)} if idle (after ${idle.idleStop})`
          : `idle stop after ${idle.idleStop}`;
  return (
    <div class="wide">
      <dt>Last active</dt>
      <dd>
        {last} <span class="muted small">· {stop}</span>
      </dd>
    </div>
  );
}
