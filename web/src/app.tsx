/** The shell: session, header and navigation, and which page shows. */
import { useEffect, useRef, useState } from 'preact/hooks';
import { available, currentSession, logout, setUnauthorizedHandler, type Session } from './api.js';
import { navigate, useRoute } from './router.js';
import { LoginPage, SetupPage } from './pages/login.js';
import { WorkspacesPage } from './pages/workspaces.js';
import { SettingsPage } from './pages/settings.js';
import { AppsPage } from './pages/apps.js';
import { AppFramePage } from './pages/app-frame.js';
import { PreviewsPage } from './pages/previews.js';
import { PreviewDetailPage } from './pages/preview-detail.js';

interface Features {
  apps: boolean;
  previews: boolean;
}

function NavLink({ page, current, label }: { page: string; current: string; label: string }) {
  return (
    <a href={`#/${page}`} aria-current={current === page ? 'page' : undefined}>
      {label}
    </a>
  );
}

export function App() {
  const route = useRoute();
  /** undefined while asking the server who we are. */
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [bootError, setBootError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);
  /** null while probing: a reload on #/apps must not flash the workspaces page first. */
  const [features, setFeatures] = useState<Features | null>(null);
  const mainRef = useRef<HTMLElement>(null);
  const firstPage = useRef(true);

  useEffect(() => {
    setUnauthorizedHandler(() => {
      setSession(null);
      setNotice('Your session has ended. Log in again.');
    });
    currentSession().then(setSession, (err: unknown) => {
      setBootError(err);
      setSession(null);
    });
    return () => setUnauthorizedHandler(null);
  }, []);

  useEffect(() => {
    if (!session) return;
    setFeatures(null);
    // Apps and previews come with later Berth versions: show them only where the API has them.
    void Promise.all([available('api/catalog'), available('api/previews')]).then(([apps, previews]) => setFeatures({ apps, previews }));
  }, [session]);

  // Moving between pages (or logging in or out) puts focus on the new page's heading, so screen
  // readers announce it; the first page after load keeps the browser's natural focus order.
  useEffect(() => {
    if (session === undefined) return;
    if (firstPage.current) {
      firstPage.current = false;
      return;
    }
    mainRef.current?.querySelector<HTMLElement>('h1')?.focus();
  }, [route.page, route.rest.join('/'), session === undefined ? undefined : Boolean(session)]);

  const onLogin = (s: Session): void => {
    setSession(s);
    setNotice(null);
    setBootError(null);
    if (route.page === 'login' || route.page === 'setup' || route.page === '') navigate('workspaces');
  };
  const onLogout = async (): Promise<void> => {
    await logout().catch(() => undefined);
    setSession(null);
    setNotice('You are logged out.');
  };

  let page;
  let current = route.page || 'workspaces';
  if (session === undefined) {
    page = <p class="muted">Loading…</p>;
  } else if (route.page === 'setup') {
    page = <SetupPage token={route.params.get('token') ?? ''} />;
  } else if (!session) {
    current = 'login';
    page = <LoginPage onLogin={onLogin} notice={notice} bootError={bootError} />;
  } else if (current === 'settings') {
    page = <SettingsPage user={session.user} />;
  } else if ((current === 'apps' || current === 'previews') && features === null) {
    page = <p class="muted">Loading…</p>;
  } else if (current === 'apps' && features?.apps) {
    const name = route.rest[0];
    page = name ? <AppFramePage name={name} /> : <AppsPage user={session.user} />;
  } else if (current === 'previews' && features?.previews) {
    const id = route.rest[0];
    page = id ? <PreviewDetailPage id={id} user={session.user} /> : <PreviewsPage user={session.user} />;
  } else {
    current = 'workspaces';
    page = <WorkspacesPage user={session.user} />;
  }

  return (
    <>
      <header class="top">
        <button type="button" class="skip" onClick={() => mainRef.current?.focus()}>
          Skip to content
        </button>
        <span class="brand">Berth</span>
        {session && (
          <>
            <nav aria-label="Main">
              <NavLink page="workspaces" current={current} label="Workspaces" />
              {features?.apps && <NavLink page="apps" current={current} label="Apps" />}
              {features?.previews && <NavLink page="previews" current={current} label="Previews" />}
              <NavLink page="settings" current={current} label="Settings" />
            </nav>
            <div class="who">
              <span class="name" title={`signed in as ${session.user.username}`}>
                {session.user.username}
                <span class="role"> · {session.user.role}</span>
              </span>
              <button type="button" onClick={() => void onLogout()}>
                Log out
              </button>
            </div>
          </>
        )}
      </header>
      {/* An app in its frame gets the whole width; every other page keeps a readable measure. */}
      <main id="main" class={current === 'apps' && route.rest.length > 0 ? 'page wide' : 'page'} tabIndex={-1} ref={mainRef}>
        {page}
      </main>
    </>
  );
}
