/** One catalog entry: icon, title, description, what it needs, and (for admins) a live install. */
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { iconSrc, installApp, type CatalogApp, type InstalledApp, type InstallProgress } from '../apps-api.js';
import { BusyButton, ErrorBox } from '../ui.js';

type Phase = 'idle' | 'installing' | 'healthy' | 'failed';

/** The catalog icon, or the title's first letter where there is none (or it does not load). */
function AppIcon({ app }: { app: CatalogApp }) {
  const [broken, setBroken] = useState(false);
  const src = iconSrc(app);
  // Decorative: the title is right beside it. Fixed size, so nothing moves when it loads.
  if (!src || broken) {
    return (
      <span class="app-icon monogram" aria-hidden="true">
        {app.title.charAt(0).toUpperCase()}
      </span>
    );
  }
  return <img class="app-icon" src={src} alt="" width={40} height={40} loading="lazy" onError={() => setBroken(true)} />;
}

const STEP_LABEL: Record<InstallProgress['step'], string> = {
  provisioning: 'Provisioning',
  pulling: 'Pulling',
  starting: 'Starting',
  health: 'Health check',
  healthy: 'Healthy',
  failed: 'Failed',
};

/** The streamed steps in a box of fixed height (so the grid does not move as lines arrive). */
function Progress({ app, title, events, phase, error }: { app: string; title: string; events: InstallProgress[]; phase: Phase; error: unknown }) {
  const listRef = useRef<HTMLOListElement>(null);
  useLayoutEffect(() => {
    const el = listRef.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [events.length]);
  const last = events[events.length - 1];
  // Announced (role=status): the step only, not every health-check line the list shows.
  const summary =
    phase === 'installing' ? `${last ? STEP_LABEL[last.step] : 'Starting the install'}…` : phase === 'healthy' ? `${title} is installed and healthy.` : phase === 'failed' ? `Installing ${title} failed.` : '';
  return (
    <div class="install" role="group" aria-label={`Install progress of ${title}`}>
      {/* Shown from the click on (so later lines move nothing); a refusal before any step has none. */}
      {(phase === 'installing' || events.length > 0) && (
        <ol class="steps" ref={listRef} tabIndex={0} aria-label={`Install steps of ${title}`}>
          {events.map((e, i) => (
            <li key={i} class={`step-${e.step}`} data-step={e.step}>
              <span class="step">{STEP_LABEL[e.step]}</span>
              {/* Dependencies install first: their lines name the app they are about. */}
              <span class="msg">{e.app === app ? e.message : `${e.app}: ${e.message}`}</span>
            </li>
          ))}
        </ol>
      )}
      <p class={`status-line${phase === 'failed' ? ' bad' : ''}`} role="status">
        {summary}
      </p>
      <ErrorBox error={error} />
    </div>
  );
}

/**
 * `installed`: this app's row in the installed list (undefined when it is not installed).
 * `onChanged` is called when an install starts and ends, so the list can refresh at once.
 */
export function CatalogCard({ app, installed, admin, onChanged }: { app: CatalogApp; installed: InstalledApp | undefined; admin: boolean; onChanged: () => void }) {
  const [phase, setPhase] = useState<Phase>('idle');
  const [events, setEvents] = useState<InstallProgress[]>([]);
  const [error, setError] = useState<unknown>(null);
  const headingId = `cat-${app.name}`;
  const wasInstalled = useRef(false);

  // Once the app is uninstalled, the story of its last install is over: back to a plain card.
  // (Only after the list has shown it: right after an install the list may not have caught up.)
  useEffect(() => {
    if (installed) wasInstalled.current = true;
    else if (wasInstalled.current) {
      wasInstalled.current = false;
      if (phase !== 'installing') {
        setPhase('idle');
        setEvents([]);
        setError(null);
      }
    }
  }, [installed]);

  const install = async (): Promise<void> => {
    setPhase('installing');
    setEvents([]);
    setError(null);
    try {
      let first = true;
      await installApp(app.name, (e) => {
        setEvents((list) => [...list, e]);
        // The first line means the daemon accepted the install: the list shows it as installing.
        if (first) onChanged();
        first = false;
      });
      setPhase('healthy');
    } catch (err) {
      setError(err);
      setPhase('failed');
    } finally {
      onChanged();
    }
  };

  const busy = phase === 'installing';
  const blocked = installed !== undefined && installed.state !== 'failed';
  const label = busy ? 'Installing…' : installed?.state === 'failed' ? 'Install again' : 'Install';
  const needs = [...app.requires.map((r) => (r === 'postgres' ? 'PostgreSQL' : r === 'redis' ? 'Redis' : r)), ...app.dependsOn];
  return (
    <li class="card cat" aria-labelledby={headingId} data-app={app.name}>
      <div class="cat-head">
        <AppIcon app={app} />
        <div class="cat-title">
          <h3 id={headingId}>{app.title}</h3>
          <span class="muted small">{needs.length ? `needs ${needs.join(', ')}` : 'needs nothing else'}</span>
        </div>
      </div>
      <p class="desc" title={app.description}>
        {app.description}
      </p>
      <div class="actions">
        {admin && (busy || !blocked) && (
          <BusyButton busy={busy} class="primary" onClick={() => void install()} aria-label={`${label} ${app.title}`}>
            {label}
          </BusyButton>
        )}
        {blocked && !busy && <span class={`state state-${installed.state}`}>{installed.state === 'running' ? 'installed' : installed.state}</span>}
        {app.website && (
          <a class="button" href={app.website} target="_blank" rel="noopener noreferrer" aria-label={`Website of ${app.title} (opens a new tab)`}>
            Website
          </a>
        )}
      </div>
      {phase !== 'idle' && <Progress app={app.name} title={app.title} events={events} phase={phase} error={error} />}
    </li>
  );
}
