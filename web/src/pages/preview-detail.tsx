/**
 * One preview (`#/previews/{id}`): where it is served, what runs, and the log of its last build.
 * The event stream says when the preview changes (state, commit, reason), and the page then
 * fetches it again; the log of a build in progress grows without events, so while it builds — and
 * where there is no stream at all — the page refreshes every 3 s while it is visible.
 */
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, type User } from '../api.js';
import { POLL_MS, subscribeLive, usePolled, type LiveMode } from '../live.js';
import { PREVIEWS, shortSha, type Preview, type PreviewDetail } from '../previews-api.js';
import { navigate } from '../router.js';
import { ConfirmButton, ErrorBox, when } from '../ui.js';
import { PreviewUrl } from './previews.js';

function ttl(seconds: number | null): string {
  if (seconds === null) return 'until the pull request closes';
  const days = seconds / 86_400;
  return days >= 1 && Number.isInteger(days) ? `${days} d` : seconds >= 3600 ? `${Math.round(seconds / 3600)} h` : `${seconds} s`;
}

/** What the stream tells apart: a change here means the detail shown is out of date. */
const version = (x: Preview): string => `${x.updatedAt} ${x.state} ${x.generation} ${x.reason ?? ''}`;

export function PreviewDetailPage({ id, user }: { id: string; user: User }) {
  const [mode, setMode] = useState<LiveMode | null>(null);
  const [building, setBuilding] = useState(false);
  const { data: p, error, reload } = usePolled<PreviewDetail>(`api/previews/${encodeURIComponent(id)}`, mode === 'polling' || building ? POLL_MS : null);
  /** The stream's last word on this preview: its version, null once removed, undefined before any. */
  const streamed = useRef<string | null | undefined>(undefined);
  const shown = useRef<PreviewDetail | null>(null);
  /** The streamed version the last refetch was for: one refetch per word, whatever it answers. */
  const refetchedFor = useRef<string | null | undefined>(undefined);
  // Fetch again when the stream knows better than what is shown (compared both when the stream
  // speaks and when an answer arrives, whichever comes last).
  const settle = (): void => {
    const cur = shown.current;
    const said = streamed.current;
    if (said === undefined || !cur || said === version(cur) || refetchedFor.current === said) return;
    refetchedFor.current = said;
    reload();
  };
  useEffect(() => {
    shown.current = p;
    setBuilding(p?.state === 'building');
    settle();
  }, [p]);
  useEffect(() => {
    streamed.current = undefined;
    refetchedFor.current = undefined;
    const heard = (x: Preview | undefined): void => {
      streamed.current = x ? version(x) : null;
      settle();
    };
    return subscribeLive(PREVIEWS, {
      // `keep`: an event about it overtook this snapshot, which is older then.
      list: (list, keep) => {
        if (!keep.has(id)) heard(list.find((x) => x.id === id));
      },
      update: (x) => {
        if (x.id === id) heard(x);
      },
      removed: (key) => {
        if (key === id) heard(undefined);
      },
      status: (m) => setMode(m),
    }).stop;
  }, [id]);
  const [actionError, setActionError] = useState<unknown>(null);
  const logRef = useRef<HTMLPreElement>(null);
  const stick = useRef(true);
  const gone = error instanceof ApiError && error.status === 404;
  const title = p ? `${p.repo} #${p.pr}` : 'Preview';

  // Follow the end of the log while the reader is there; leave it alone once they scroll up.
  useLayoutEffect(() => {
    const el = logRef.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  }, [p?.buildLog]);
  const onScroll = (): void => {
    const el = logRef.current;
    if (el) stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
  };

  return (
    <section aria-labelledby="pv-title">
      <p class="crumbs">
        <a href="#/previews">← Previews</a>
      </p>
      <div class="page-head">
        <h1 id="pv-title" tabIndex={-1}>
          {title}
        </h1>
        {p && !gone && <span class={`state state-${p.state}`}>{p.state}</span>}
      </div>
      {gone ? <p class="card notice">This preview does not exist (any more): it was destroyed or its pull request closed.</p> : <ErrorBox error={error} />}
      {p && !gone && (
        <div class="card">
          <dl class="meta">
            <div class="wide">
              <dt>Address</dt>
              <dd>
                <PreviewUrl p={p} />
              </dd>
            </div>
            <div>
              <dt>Commit</dt>
              <dd>
                <code title={p.sha}>{shortSha(p.sha)}</code>
                {p.ref && p.ref !== p.sha ? ` (${p.ref})` : ''}
              </dd>
            </div>
            <div>
              <dt>Generation</dt>
              <dd>{p.generation || 'none live yet'}</dd>
            </div>
            <div>
              <dt>Database</dt>
              <dd>{p.database ?? '—'}</dd>
            </div>
            <div>
              <dt>Kept</dt>
              <dd>{ttl(p.ttlSeconds)}</dd>
            </div>
            <div>
              <dt>Created</dt>
              <dd>{when(p.createdAt)}</dd>
            </div>
            <div>
              <dt>Updated</dt>
              <dd>{when(p.updatedAt)}</dd>
            </div>
            <div class="wide">
              <dt>Services</dt>
              <dd>{p.services.length ? p.services.map((s) => `${s.name} → ${s.upstream ?? 'no port'}`).join(', ') : '—'}</dd>
            </div>
            <div class="wide">
              <dt>Routes</dt>
              <dd>{p.routes.length ? p.routes.map((r) => `${r.path} → ${r.service}`).join(', ') : '—'}</dd>
            </div>
          </dl>
          {p.reason && <p class={p.state === 'failed' ? 'reason' : 'muted small'}>{p.reason}</p>}
          {user.role === 'admin' && p.state !== 'destroying' && (
            <div class="actions">
              <ConfirmButton
                label="Destroy"
                confirmLabel="Destroy for good"
                what={`preview of ${p.repo} #${p.pr}`}
                onError={setActionError}
                onConfirm={async () => {
                  await api('DELETE', `api/previews/${encodeURIComponent(p.id)}`);
                  navigate('previews');
                }}
              />
            </div>
          )}
          <ErrorBox error={actionError} />
        </div>
      )}
      {!gone && (
        <div class="card">
          <div class="panel-head">
            <h2 id="log-title">Build log</h2>
            <span class="muted small" role="status">
              {p?.state === 'building' ? 'building · refreshing every 3 s' : ''}
            </span>
          </div>
          <pre ref={logRef} class="term build-log" tabIndex={0} role="log" aria-live="off" aria-labelledby="log-title" onScroll={onScroll}>
            {p ? p.buildLog || '(no build log yet)' : ''}
          </pre>
        </div>
      )}
    </section>
  );
}
