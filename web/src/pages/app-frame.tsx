/**
 * One installed app inside the dashboard (`#/apps/{name}`): an iframe on `<base>embed/{name}/`.
 * Same origin as the dashboard, so the Berth session opens private apps and the app's
 * `frame-ancestors 'self'` allows the frame. Apps served on a host of their own cannot be framed
 * (another origin): they get a link instead.
 */
import { useState } from 'preact/hooks';
import { openUrl, type InstalledApp } from '../apps-api.js';
import { usePolled } from '../live.js';
import { ErrorBox } from '../ui.js';

export function AppFramePage({ name }: { name: string }) {
  // Read once: polling would not change what the frame shows, and the frame must not reload.
  const { data: app, error } = usePolled<InstalledApp>(`api/apps/${encodeURIComponent(name)}`, null);
  const [generation, setGeneration] = useState(0);
  const url = app ? openUrl(app) : null;
  const framable = app?.state === 'running' && app.via === 'path' && url !== null;
  const title = app?.title ?? name;

  return (
    <section class="frame-page" aria-labelledby="frame-title">
      <p class="crumbs">
        <a href="#/apps">← Apps</a>
      </p>
      <div class="page-head">
        <h1 id="frame-title" tabIndex={-1}>
          {title}
        </h1>
        <div class="actions">
          {framable && (
            <button type="button" onClick={() => setGeneration((g) => g + 1)} aria-label={`Reload ${title}`}>
              Reload
            </button>
          )}
          {url && app?.state === 'running' && (
            <a class="button" href={url} target="_blank" rel="noopener noreferrer" aria-label={`Open ${title} in a new tab`}>
              Open in a new tab
            </a>
          )}
        </div>
      </div>
      <ErrorBox error={error} />
      {app === null ? (
        !error && <div class="frame skeleton" aria-busy="true" aria-label={`Loading ${title}`} />
      ) : framable ? (
        // The key remounts the frame on Reload: the app's own navigation state is dropped on purpose.
        <iframe key={generation} class="frame" src={url} title={`${title} (app)`} />
      ) : (
        <p class="card notice">
          {app.state === 'running'
            ? `${title} is served on a host of its own and cannot be shown inside the dashboard; open it in a new tab.`
            : `${title} is ${app.state}${app.reason ? `: ${app.reason}` : ''}. It opens here once it is running.`}
        </p>
      )}
    </section>
  );
}
