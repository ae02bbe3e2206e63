/** Login, and the one-time admin setup page that `berth up` links to (`#/setup?token=…`). */
import { useState } from 'preact/hooks';
import { api, ApiError, login, type Session } from '../api.js';
import { BusyButton, ErrorBox, useAction } from '../ui.js';

export function LoginPage(props: { onLogin: (s: Session) => void; notice: string | null; bootError: unknown }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [busy, error, run] = useAction();
  const noLogin = props.bootError instanceof ApiError && props.bootError.status === 404;

  const submit = (e: Event): void => {
    e.preventDefault();
    void run(async () => props.onLogin(await login(username.trim(), password)));
  };

  return (
    <section class="narrow" aria-labelledby="login-title">
      <h1 id="login-title" tabIndex={-1}>
        Log in to Berth
      </h1>
      {props.notice && (
        <p class="notice" role="status">
          {props.notice}
        </p>
      )}
      {noLogin ? (
        <div class="error" role="alert">
          <strong>This Berth has no dashboard login yet</strong> (the API answered 404 for <code>api/auth/me</code>).
          <div class="hint">Update Berth, or use the CLI: <code>berth ws ls</code>.</div>
        </div>
      ) : (
        <ErrorBox error={props.bootError} />
      )}
      <form class="card stack" onSubmit={submit}>
        <label>
          Username
          <input name="username" autoComplete="username" required value={username} onInput={(e) => setUsername(e.currentTarget.value)} />
        </label>
        <label>
          Password
          <input name="password" type="password" autoComplete="current-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
        </label>
        <ErrorBox error={error} />
        <BusyButton type="submit" class="primary" busy={busy}>
          Log in
        </BusyButton>
      </form>
    </section>
  );
}

export function SetupPage({ token }: { token: string }) {
  const [password, setPassword] = useState('');
  const [again, setAgain] = useState('');
  const [done, setDone] = useState(false);
  const [busy, error, run, setError] = useAction();

  const submit = (e: Event): void => {
    e.preventDefault();
    if (password !== again) {
      setError(new Error('the two passwords differ'));
      return;
    }
    void run(async () => {
      await api<void>('POST', 'api/auth/setup', { token, password });
      setDone(true);
    });
  };

  return (
    <section class="narrow" aria-labelledby="setup-title">
      <h1 id="setup-title" tabIndex={-1}>
        Set the admin password
      </h1>
      {done ? (
        <p class="notice" role="status">
          The password of <strong>admin</strong> is set. <a href="#/login">Log in</a>.
        </p>
      ) : (
        <form class="card stack" onSubmit={submit}>
          {!token && <div class="error" role="alert">This link has no setup token: open the setup URL that <code>berth up</code> printed.</div>}
          <p class="muted">This one-time page sets the password of the account <strong>admin</strong>. At least 10 characters.</p>
          <input type="text" name="username" autoComplete="username" value="admin" hidden readOnly />
          <label>
            New password
            <input type="password" autoComplete="new-password" minLength={10} required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
          </label>
          <label>
            Repeat it
            <input type="password" autoComplete="new-password" minLength={10} required value={again} onInput={(e) => setAgain(e.currentTarget.value)} />
          </label>
          <ErrorBox error={error} />
          <BusyButton type="submit" class="primary" busy={busy} disabled={!token}>
            Set password
          </BusyButton>
        </form>
      )}
    </section>
  );
}
