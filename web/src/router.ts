/**
 * Hash routes (`#/workspaces`, `#/apps/gitea`, `#/setup?token=…`): the server is never involved,
 * so the app works at any sub-path and a reload never needs a server-side route.
 */
import { useEffect, useState } from 'preact/hooks';

export interface Route {
  /** First path segment: 'workspaces', 'settings', 'login', 'setup', … ('' for none). */
  page: string;
  /** The decoded segments after the page (`#/previews/abc` → ['abc']). */
  rest: string[];
  params: URLSearchParams;
}

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment; // a malformed escape is kept as typed; the page will not find it
  }
}

export function parseHash(hash: string): Route {
  const h = hash.replace(/^#\/?/, '');
  const q = h.indexOf('?');
  const path = q === -1 ? h : h.slice(0, q);
  const [page = '', ...rest] = path.split('/');
  return { page, rest: rest.filter(Boolean).map(decode), params: new URLSearchParams(q === -1 ? '' : h.slice(q + 1)) };
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

/** `#/page/seg…` with every segment encoded, for links. */
export function href(page: string, ...rest: string[]): string {
  return `#/${[page, ...rest.map(encodeURIComponent)].join('/')}`;
}

export function navigate(page: string, ...rest: string[]): void {
  const target = href(page, ...rest);
  if (location.hash !== target) location.hash = target;
}
