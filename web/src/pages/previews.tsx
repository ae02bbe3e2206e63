/**
 * Previews: one list per repository, one entry per pull request with its state, address, commit
 * and last change; the build log is one click away (preview-detail.tsx). The list follows the
 * event stream, polling every 3 s only where there is no stream.
 */
import { useState } from 'preact/hooks';
import { api, type User } from '../api.js';
import { useLiveList } from '../live.js';
import { byRepository, PREVIEWS, shortSha, type Preview } from '../previews-api.js';
import { href } from '../router.js';
import { ConfirmButton, ErrorBox, when } from '../ui.js';

export function PreviewsPage({ user }: { user: User }) {
  const { items, error, mode, reload } = useLiveList(PREVIEWS);
  const groups = items ? byRepository(items) : null;
  return (
    <section aria-labelledby="previews-title">
      <div class="page-head">
        <h1 id="previews-title" tabIndex={-1}>
          Previews
        </h1>
        <p class="muted small">
          {items ? `${items.length} preview${items.length === 1 ? '' : 's'}` : '\u00a0'}
          {items && mode === 'polling' ? ' · refreshing every 3 s' : items && mode === 'events' ? ' · live' : ''}
        </p>
      </div>
      <ErrorBox error={error} />
      {groups === null ? (
        !error && (
          <ul class="plain-list" aria-busy="true" aria-label="Loading previews">
            <li class="card pv skeleton" />
            <li class="card pv skeleton" />
          </ul>
        )
      ) : groups.length === 0 ? (
        <p class="card empty">No previews. One appears when a pull request opens in a repository Berth builds previews for, or with `berth preview create`.</p>
      ) : (
        groups.map(([repo, list]) => (
          <section key={repo} class="repo" aria-label={`Previews of ${repo}`}>
            <h2>{repo}</h2>
            <ul class="plain-list">
              {list.map((p) => (
                <PreviewItem key={p.id} p={p} admin={user.role === 'admin'} onChanged={reload} />
              ))}
            </ul>
          </section>
        ))
      )}
    </section>
  );
}

/** The address as a link once something serves it, as plain text before. */
export function PreviewUrl({ p }: { p: Preview }) {
  if (!p.url) return <>—</>;
  if (p.generation === 0 || p.state === 'destroying') return <code>{p.url}</code>;
  return (
    <a href={p.url} target="_blank" rel="noopener noreferrer" aria-label={`Open the preview of ${p.repo} pull request ${p.pr} (new tab)`}>
      {p.url}
    </a>
  );
}

function PreviewItem({ p, admin, onChanged }: { p: Preview; admin: boolean; onChanged: () => void }) {
  const [error, setError] = useState<unknown>(null);
  const headingId = `pv-${p.id}`;
  return (
    <li class="card pv" aria-labelledby={headingId} data-state={p.state}>
      <div class="ws-head">
        <h3 id={headingId}>
          <a href={href('previews', p.id)}>PR #{p.pr}</a>
        </h3>
        <span class={`state state-${p.state}`}>{p.state}</span>
      </div>
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
          <dt>Updated</dt>
          <dd>{when(p.updatedAt)}</dd>
        </div>
      </dl>
      {p.reason && <p class={p.state === 'failed' ? 'reason' : 'muted small'}>{p.reason}</p>}
      <div class="actions">
        <a class="button" href={href('previews', p.id)} aria-label={`Build log of ${p.repo} pull request ${p.pr}`}>
          Build log
        </a>
        {admin && p.state !== 'destroying' && (
          <ConfirmButton
            label="Destroy"
            confirmLabel="Destroy for good"
            what={`preview of ${p.repo} #${p.pr}`}
            onError={setError}
            onConfirm={async () => {
              await api('DELETE', `api/previews/${encodeURIComponent(p.id)}`);
              onChanged();
            }}
          />
        )}
      </div>
      <ErrorBox error={error} />
    </li>
  );
}
