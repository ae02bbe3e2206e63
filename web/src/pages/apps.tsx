/**
 * Apps: what is installed (state, where it is served, open in the dashboard, uninstall) and the
 * catalog to install from. The installed list follows the event stream (a crash the daemon
 * notices, an uninstall from the CLI show at once), polling every 3 s only where there is no
 * stream; an install streams its own progress (catalog-card.tsx).
 */
import { useLayoutEffect, useRef, useState } from 'preact/hooks';
import { api, type User } from '../api.js';
import { byInstallTime, INSTALLED_APPS, openUrl, type Catalog, type InstalledApp } from '../apps-api.js';
import { useLiveList, usePolled } from '../live.js';
import { href } from '../router.js';
import { ErrorBox, Spinner, when } from '../ui.js';
import { CatalogCard } from './catalog-card.js';

export function AppsPage({ user }: { user: User }) {
  const admin = user.role === 'admin';
  const installed = useLiveList(INSTALLED_APPS);
  // The catalog is files on the daemon's disk: read once per visit, not polled.
  const catalog = usePolled<Catalog>('api/catalog', null);
  const list = installed.items?.sort(byInstallTime) ?? null;
  const byName = new Map((list ?? []).map((a) => [a.name, a]));
  const problems = catalog.data?.errors ?? [];
  const ready = (list !== null || installed.error !== null) && (catalog.data !== null || catalog.error !== null);

  return (
    <section aria-labelledby="apps-title">
      <div class="page-head">
        <h1 id="apps-title" tabIndex={-1}>
          Apps
        </h1>
        <p class="muted small">
          {list ? `${list.length} installed` : '\u00a0'}
          {list && installed.mode === 'polling' ? ' · refreshing every 3 s' : list && installed.mode === 'events' ? ' · live' : ''}
        </p>
      </div>

      {!ready ? (
        // One placeholder until both answers are in: the sections then appear at once, and
        // nothing already on screen moves (the installed list's size is unknown until then).
        <ul class="plain-list" aria-busy="true" aria-label="Loading apps">
          <li class="card app skeleton" />
        </ul>
      ) : (
        <>
          <h2 id="installed-title">Installed</h2>
          <ErrorBox error={installed.error} />
          {list && list.length === 0 && <p class="card empty">No apps installed yet.{admin ? ' Install one from the catalog below.' : ''}</p>}
          {list && list.length > 0 && (
            <ul class="plain-list" aria-labelledby="installed-title">
              {list.map((a) => (
                <InstalledItem key={a.name} app={a} admin={admin} onChanged={installed.reload} />
              ))}
            </ul>
          )}

          <h2 id="catalog-title">Catalog</h2>
          {!admin && <p class="muted small">Only admins install and uninstall apps.</p>}
          <ErrorBox error={catalog.error} />
          {catalog.data && catalog.data.apps.length === 0 && <p class="card empty">The catalog is empty.</p>}
          {catalog.data && catalog.data.apps.length > 0 && (
            <ul class="catalog" aria-labelledby="catalog-title">
              {catalog.data.apps.map((c) => (
                <CatalogCard key={c.name} app={c} installed={byName.get(c.name)} admin={admin} onChanged={installed.reload} />
              ))}
            </ul>
          )}
        </>
      )}
      {admin && problems.length > 0 && (
        <details class="card problems">
          <summary>
            {problems.length} catalog {problems.length === 1 ? 'entry is' : 'entries are'} invalid and not offered
          </summary>
          <pre class="mono">{problems.map((e) => e.text).join('\n')}</pre>
        </details>
      )}
    </section>
  );
}

function InstalledItem({ app, admin, onChanged }: { app: InstalledApp; admin: boolean; onChanged: () => void }) {
  const [asking, setAsking] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const uninstallRef = useRef<HTMLButtonElement>(null);
  const headingId = `app-${app.name}`;
  const url = openUrl(app);
  const framable = app.state === 'running' && app.via === 'path';

  const cancel = (): void => {
    setAsking(false);
    // Back where the keyboard user was, not at the top of the page.
    setTimeout(() => uninstallRef.current?.focus(), 0);
  };
  const uninstall = async (purge: boolean): Promise<void> => {
    setError(null);
    try {
      await api<void>('DELETE', `api/apps/${encodeURIComponent(app.name)}${purge ? '?purge=1' : ''}`);
      onChanged();
    } catch (err) {
      setError(err);
      setAsking(false);
    }
  };

  return (
    <li class="card app" aria-labelledby={headingId} data-state={app.state}>
      <div class="ws-head">
        <h3 id={headingId}>{app.title}</h3>
        <span class={`state state-${app.state}`}>
          {app.state === 'installing' && <Spinner />}
          {app.state}
        </span>
      </div>
      <dl class="meta">
        <div class="wide">
          <dt>Address</dt>
          <dd>{url ? <code>{url}</code> : 'not served (it needs an apps domain)'}</dd>
        </div>
        <div>
          <dt>Installed</dt>
          <dd>{when(app.createdAt)}</dd>
        </div>
        <div>
          <dt>Needs</dt>
          <dd>{[...app.requires, ...app.dependsOn].join(', ') || 'nothing else'}</dd>
        </div>
      </dl>
      {app.state === 'failed' && app.reason && <p class="reason">{app.reason}</p>}
      <div class="actions">
        {framable && (
          <a class="button primary" href={href('apps', app.name)} aria-label={`Open ${app.title} in the dashboard`}>
            Open
          </a>
        )}
        {url && app.state === 'running' && (
          <a class="button" href={url} target="_blank" rel="noopener noreferrer" aria-label={`Open ${app.title} in a new tab`}>
            New tab
          </a>
        )}
        {admin && (
          <button type="button" class="danger" ref={uninstallRef} aria-expanded={asking} disabled={app.state === 'installing'} onClick={() => setAsking(true)} aria-label={`Uninstall ${app.title}`}>
            Uninstall
          </button>
        )}
      </div>
      {asking && <UninstallConfirm app={app} onConfirm={uninstall} onCancel={cancel} />}
      <ErrorBox error={error} />
    </li>
  );
}

/**
 * The uninstall question, in the card (no modal: keyboard and small screens just work, as with
 * ConfirmButton). Purging is opt-in because it cannot be undone. Escape cancels.
 */
function UninstallConfirm({ app, onConfirm, onCancel }: { app: InstalledApp; onConfirm: (purge: boolean) => Promise<void>; onCancel: () => void }) {
  const [purge, setPurge] = useState(false);
  const [busy, setBusy] = useState(false);
  const firstRef = useRef<HTMLInputElement>(null);
  const id = `uninstall-${app.name}`;
  // Before the first paint, so a key pressed as soon as the question shows already lands in it.
  useLayoutEffect(() => firstRef.current?.focus(), []);
  const confirm = async (): Promise<void> => {
    setBusy(true);
    await onConfirm(purge);
    setBusy(false);
  };
  return (
    <div
      class="confirm-box"
      role="dialog"
      aria-modal="false"
      aria-labelledby={`${id}-q`}
      aria-describedby={`${id}-d`}
      onKeyDown={(e) => {
        if (e.key === 'Escape' && !busy) onCancel();
      }}
    >
      <p id={`${id}-q`}>
        <strong>Uninstall {app.title}?</strong>
      </p>
      <p id={`${id}-d`} class="muted small">
        Its workload and address go away. Its data (database, Redis keys, secrets) is kept for a later reinstall unless you delete it too.
      </p>
      <label class="check">
        <input ref={firstRef} type="checkbox" checked={purge} disabled={busy} onChange={(e) => setPurge(e.currentTarget.checked)} />
        Also delete its data (purge)
      </label>
      <div class="confirm">
        <button type="button" class="danger solid" disabled={busy} aria-busy={busy ? 'true' : undefined} onClick={() => void confirm()}>
          {busy && <Spinner />}
          {purge ? 'Uninstall and delete data' : 'Uninstall'}
        </button>
        <button type="button" disabled={busy} onClick={onCancel}>
          Cancel
        </button>
      </div>
    </div>
  );
}
