/**
 * Hash routes (`#/workspaces`, `#/setup?token=…`): the server is never involved, so the app
 * works at any sub-path and a reload never needs a server-side route.
 */
import { useEffect, useState } from 'preact/hooks';

export interface Route {
  /** First path segment: 'workspaces', 'settings', 'login', 'setup', … ('' for none). */
  page: string;
  params: URLSearchParams;
}

export function parseHash(hash: string): Route {
  const h = hash.replace(/^#\/?/, '');
  const q = h.indexOf('?');
  const path = q === -1 ? h : h.slice(0, q);
  return { page: path.split('/')[0] ?? '', params: new URLSearchParams(q === -1 ? '' : h.slice(q + 1)) };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseHash(location.hash));
  useEffect(() => {
    const on = (): void => setRoute(parseHash(location.hash));
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}

export function navigate(page: string): void {
  const target = `#/${page}`;
  if (location.hash !== target) location.hash = target;
}
