/**
 * Settings: API tokens (everyone: their own; admins: all), and for admins users and the audit
 * log. Renders what the API returns; an endpoint this Berth lacks shows a message, not a crash.
 */
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, type Role, type User } from '../api.js';
import { BusyButton, ConfirmButton, ErrorBox, useAction, when } from '../ui.js';

interface UserRow {
  id: string;
  username: string;
  role: Role;
  createdAt: string;
}
interface TokenRow {
  id: string;
  name: string;
  scopes: string[];
  createdAt: string;
  lastUsedAt: string | null;
}
interface AuditRow {
  at: string;
  actor: string;
  action: string;
  target: string | null;
  ip: string | null;
}

/** GETs `path` and picks `key` from the answer; `reload()` fetches again. */
function useList<T>(path: string, key: string): { rows: T[] | null; error: unknown; reload: () => void } {
  const [rows, setRows] = useState<T[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [n, setN] = useState(0);
  useEffect(() => {
    api<Record<string, T[]>>('GET', path).then(
      (body) => {
        setRows(Array.isArray(body[key]) ? body[key] : []);
        setError(null);
      },
      (err: unknown) => {
        setRows(null);
        setError(err);
      },
    );
  }, [path, key, n]);
  return { rows, error, reload: () => setN((x) => x + 1) };
}

function Missing({ error, what }: { error: unknown; what: string }) {
  if (error instanceof ApiError && error.status === 404 && error.code === 'E_NOT_FOUND' && /no route/i.test(error.message)) {
    return <p class="notice">This Berth does not offer {what} yet.</p>;
  }
  return <ErrorBox error={error} />;
}

export function SettingsPage({ user }: { user: User }) {
  const admin = user.role === 'admin';
  return (
    <section aria-labelledby="settings-title">
      <div class="page-head">
        <h1 id="settings-title" tabIndex={-1}>
          Settings
        </h1>
      </div>
      {admin && <Users me={user} />}
      <Tokens admin={admin} />
      {admin && <Audit />}
    </section>
  );
}

function Users({ me }: { me: User }) {
  const { rows, error, reload } = useList<UserRow>('api/users', 'users');
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [role, setRole] = useState<Role>('member');
  const [busy, addError, run, setAddError] = useAction();
  const add = (e: Event): void => {
    e.preventDefault();
    void run(async () => {
      await api('POST', 'api/users', { username: username.trim(), password, role });
      setUsername('');
      setPassword('');
      reload();
    });
  };
  return (
    <div class="card" aria-labelledby="users-title">
      <h2 id="users-title">Users</h2>
      <Missing error={error} what="user accounts" />
      {rows && (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">User</th>
                <th scope="col">Role</th>
                <th scope="col">Created</th>
                <th scope="col"><span class="visually-hidden">Actions</span></th>
              </tr>
            </thead>
            <tbody>
              {rows.map((u) => (
                <tr key={u.id}>
                  <td>{u.username}</td>
                  <td>{u.role}</td>
                  <td>{when(u.createdAt)}</td>
                  <td>
                    {u.username !== 'admin' && u.id !== me.id && (
                      <ConfirmButton label="Remove" confirmLabel="Remove user" what={u.username} onError={setAddError} onConfirm={async () => {
                        await api('DELETE', `api/users/${encodeURIComponent(u.id)}`);
                        reload();
                      }} />
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {!error && (
        <form class="inline-form" onSubmit={add} aria-label="Add a user">
          <label>
            Username
            <input required autoComplete="off" value={username} onInput={(e) => setUsername(e.currentTarget.value)} />
          </label>
          <label>
            Password
            <input type="password" required minLength={10} autoComplete="new-password" value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
          </label>
          <label>
            Role
            <select value={role} onChange={(e) => setRole(e.currentTarget.value === 'admin' ? 'admin' : 'member')}>
              <option value="member">member</option>
              <option value="admin">admin</option>
            </select>
          </label>
          <BusyButton type="submit" busy={busy}>
            Add user
          </BusyButton>
        </form>
      )}
      <ErrorBox error={addError} />
    </div>
  );
}

function Tokens({ admin }: { admin: boolean }) {
  const { rows, error, reload } = useList<TokenRow>('api/tokens', 'tokens');
  const [name, setName] = useState('');
  const [scopes, setScopes] = useState<string[]>(['read', 'write']);
  const [shown, setShown] = useState<{ name: string; token: string } | null>(null);
  const [busy, createError, run, setCreateError] = useAction();
  const create = (e: Event): void => {
    e.preventDefault();
    void run(async () => {
      const t = await api<{ token: string; name: string }>('POST', 'api/tokens', { name: name.trim(), scopes });
      setShown({ name: t.name, token: t.token });
      setName('');
      reload();
    });
  };
  const toggleScope = (s: string, on: boolean): void => setScopes((cur) => (on ? [...new Set([...cur, s])] : cur.filter((x) => x !== s)));
  return (
    <div class="card" aria-labelledby="tokens-title">
      <h2 id="tokens-title">API tokens</h2>
      <Missing error={error} what="API tokens" />
      {shown && (
        <div class="notice" role="status">
          <label>
            <span>
              Token <strong>{shown.name}</strong> — copy it now, it is shown only once:
            </span>
            <input class="mono" readOnly value={shown.token} onFocus={(e) => e.currentTarget.select()} />
          </label>
          <button type="button" onClick={() => void navigator.clipboard?.writeText(shown.token)}>
            Copy
          </button>
          <button type="button" onClick={() => setShown(null)}>
            Done
          </button>
        </div>
      )}
      {rows && rows.length === 0 && <p class="muted">No API tokens.</p>}
      {rows && rows.length > 0 && (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Scopes</th>
                <th scope="col">Created</th>
                <th scope="col">Last used</th>
                <th scope="col"><span class="visually-hidden">Actions</span></th>
              </tr>
            </thead>
            <tbody>
              {rows.map((t) => (
                <tr key={t.id}>
                  <td>{t.name}</td>
                  <td>{t.scopes.join(', ')}</td>
                  <td>{when(t.createdAt)}</td>
                  <td>{when(t.lastUsedAt)}</td>
                  <td>
                    <ConfirmButton label="Revoke" confirmLabel="Revoke token" what={t.name} onError={setCreateError} onConfirm={async () => {
                      await api('DELETE', `api/tokens/${encodeURIComponent(t.id)}`);
                      reload();
                    }} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {!error && (
        <form class="inline-form" onSubmit={create} aria-label="Create an API token">
          <label>
            Name
            <input required maxLength={64} autoComplete="off" value={name} onInput={(e) => setName(e.currentTarget.value)} />
          </label>
          <fieldset>
            <legend>Scopes</legend>
            {(admin ? ['read', 'write', 'admin'] : ['read', 'write']).map((s) => (
              <label key={s} class="check">
                <input type="checkbox" checked={scopes.includes(s)} onChange={(e) => toggleScope(s, e.currentTarget.checked)} />
                {s}
              </label>
            ))}
          </fieldset>
          <BusyButton type="submit" busy={busy} disabled={scopes.length === 0}>
            Create token
          </BusyButton>
        </form>
      )}
      <ErrorBox error={createError} />
    </div>
  );
}

function Audit() {
  const { rows, error, reload } = useList<AuditRow>('api/audit?limit=100', 'entries');
  return (
    <div class="card" aria-labelledby="audit-title">
      <div class="panel-head">
        <h2 id="audit-title">Audit log</h2>
        <button type="button" onClick={reload}>
          Refresh
        </button>
      </div>
      <Missing error={error} what="an audit log" />
      {rows && (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Who</th>
                <th scope="col">What</th>
                <th scope="col">Target</th>
                <th scope="col">From</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r, i) => (
                <tr key={i}>
                  <td>{when(r.at)}</td>
                  <td>{r.actor}</td>
                  <td>{r.action}</td>
                  <td>{r.target ?? '—'}</td>
                  <td>{r.ip ?? '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
