/** Apps and previews pages are still to come; their nav entries appear only when the API has them. */
import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.js';
import { ErrorBox } from '../ui.js';

export function PlaceholderPage({ title, path }: { title: string; path: string }) {
  const [body, setBody] = useState<unknown>(undefined);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    api<unknown>('GET', path).then(setBody, setError);
  }, [path]);
  const count = body && typeof body === 'object' ? Object.values(body).find(Array.isArray)?.length : undefined;
  return (
    <section aria-labelledby="ph-title">
      <div class="page-head">
        <h1 id="ph-title" tabIndex={-1}>
          {title}
        </h1>
      </div>
      <div class="card">
        <p>The {title.toLowerCase()} page is coming to the dashboard. Meanwhile, the CLI manages them.</p>
        {count !== undefined && <p class="muted">The API lists {count} entries.</p>}
        <ErrorBox error={error} />
      </div>
    </section>
  );
}
