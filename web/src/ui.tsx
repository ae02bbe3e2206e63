/** Small shared pieces: error box, busy button, two-step confirm, dates. */
import type { ButtonHTMLAttributes, ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from './api.js';

/** Shows an API error's message and hint (or any error's message). Announced to screen readers. */
export function ErrorBox({ error }: { error: unknown }) {
  if (!error) return null;
  const message = error instanceof Error ? error.message : String(error);
  const hint = error instanceof ApiError ? error.hint : undefined;
  const code = error instanceof ApiError && !error.code.startsWith('HTTP_') ? error.code : undefined;
  return (
    <div class="error" role="alert">
      <strong>{message}</strong>
      {code && <span class="code"> ({code})</span>}
      {hint && <div class="hint">{hint}</div>}
    </div>
  );
}

export function Spinner() {
  return <span class="spinner" aria-hidden="true" />;
}

type ButtonProps = Omit<ButtonHTMLAttributes<HTMLButtonElement>, 'type'> & { busy?: boolean; children: ComponentChildren; type?: 'button' | 'submit' };

/** A button that shows a spinner and is disabled while `busy`. */
export function BusyButton({ busy, children, disabled, type = 'button', ...rest }: ButtonProps) {
  return (
    <button type={type} {...rest} disabled={Boolean(busy) || Boolean(disabled)} aria-busy={busy ? 'true' : undefined}>
      {busy && <Spinner />}
      {children}
    </button>
  );
}

/**
 * A destructive action in two steps: the button turns into "Confirm" + "Cancel" (no modal, so
 * keyboard and small screens just work). `onConfirm` may be async; errors go to `onError`.
 */
export function ConfirmButton(props: { label: string; confirmLabel: string; what: string; onConfirm: () => Promise<void>; onError: (e: unknown) => void }) {
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  const confirmRef = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (asking) confirmRef.current?.focus();
  }, [asking]);
  if (!asking) {
    return (
      <button type="button" class="danger" aria-label={`${props.label} ${props.what}`} onClick={() => setAsking(true)}>
        {props.label}
      </button>
    );
  }
  const confirm = async (): Promise<void> => {
    setBusy(true);
    try {
      await props.onConfirm();
    } catch (err) {
      props.onError(err);
      setBusy(false);
      setAsking(false);
    }
  };
  return (
    <span class="confirm">
      <button type="button" class="danger solid" ref={confirmRef} disabled={busy} aria-busy={busy ? 'true' : undefined} onClick={() => void confirm()} aria-label={`${props.confirmLabel} ${props.what}`}>
        {busy && <Spinner />}
        {props.confirmLabel}
      </button>
      <button type="button" onClick={() => setAsking(false)} disabled={busy}>
        Cancel
      </button>
    </span>
  );
}

/** `2024-05-01T10:00:00Z` → local date and time, or '—'. */
export function when(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

/** Runs an async action with a busy flag and an error slot. */
export function useAction(): [boolean, unknown, (fn: () => Promise<void>) => Promise<void>, (e: unknown) => void] {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const run = async (fn: () => Promise<void>): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      await fn();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return [busy, error, run, setError];
}
