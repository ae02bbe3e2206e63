/** Workspaces: the live list, the create form, and per workspace its actions, links, logs and shell. */
import { useEffect, useState } from 'preact/hooks';
import { api, type User, type Workspace } from '../api.js';
import { joinArgs } from '../lib/args.js';
import { subscribeWorkspaces } from '../live.js';
import { BusyButton, ConfirmButton, ErrorBox, useAction, when } from '../ui.js';
import { CreateWorkspace } from './create-workspace.js';
import { LogsPanel } from './logs.js';
import { ShellPanel } from './terminal.js';
import { WorkspacePorts } from './workspace-ports.js';
import { UsagePanel } from './usage-chart.js';
import { IdleInfo, ShareSelect } from './workspace-idle.js';

interface Status {
  runtime: string;
  ports: { used: number; total: number };
}

const byNewest = (a: Workspace, b: Workspace): number => b.createdAt.localeCompare(a.createdAt) || a.name.localeCompare(b.name);

export function WorkspacesPage({ user }: { user: User }) {
  const [items, setItems] = useState<Map<string, Workspace> | null>(null);
  const [liveError, setLiveError] = useState<unknown>(null);
  const [mode, setMode] = useState<'events' | 'polling' | null>(null);
  const [status, setStatus] = useState<Status | null>(null);

  const put = (ws: Workspace): void => setItems((m) => new Map(m ?? []).set(ws.id, ws));
  const drop = (id: string): void =>
    setItems((m) => {
      const next = new Map(m ?? []);
      next.delete(id);
      return next;
    });

  useEffect(
    () =>
      subscribeWorkspaces({
        list: (list, keep) =>
          setItems((prev) => {
            const next = new Map(list.filter((w) => !keep.has(w.id)).map((w) => [w.id, w]));
            for (const id of keep) {
              const cur = prev?.get(id);
              if (cur) next.set(id, cur);
            }
            return next;
          }),
        update: put,
        removed: drop,
        status: (m, err) => {
          setMode(m);
          setLiveError(err);
        },
      }),
    [],
  );
  useEffect(() => {
    api<Status>('GET', 'api/status').then(setStatus, () => setStatus(null));
  }, [items?.size]);

  const list = items ? [...items.values()].sort(byNewest) : null;
  return (
    <section aria-labelledby="ws-title">
      <div class="page-head">
        <h1 id="ws-title" tabIndex={-1}>
          Workspaces
        </h1>
        <p class="muted small" aria-live="polite">
          {status ? `${status.runtime} runtime · ports ${status.ports.used}/${status.ports.total}` : '\u00a0'}
          {mode === 'polling' ? ' · refreshing every 3 s' : mode === 'events' ? ' · live' : ''}
        </p>
      </div>
      <CreateWorkspace onCreated={put} />
      <ErrorBox error={liveError} />
      {list === null ? (
        <ul class="ws-list" aria-busy="true" aria-label="Loading workspaces">
          <li class="card ws skeleton" />
          <li class="card ws skeleton" />
        </ul>
      ) : list.length === 0 ? (
        <p class="card empty">No workspaces yet. Create one above.</p>
      ) : (
        <ul class="ws-list" aria-label="Workspaces">
          {list.map((ws) => (
            <WorkspaceItem key={ws.id} ws={ws} user={user} onChanged={put} onRemoved={drop} />
          ))}
        </ul>
      )}
    </section>
  );
}

function WorkspaceItem({ ws, user, onChanged, onRemoved }: { ws: Workspace; user: User; onChanged: (ws: Workspace) => void; onRemoved: (id: string) => void }) {
  const [busy, error, run, setError] = useAction();
  const [panel, setPanel] = useState<'logs' | 'shell' | 'usage' | null>(null);
  const id = encodeURIComponent(ws.id);
  const running = ws.state === 'running';
  const headingId = `ws-${ws.id}`;

  const act = (path: string, body?: unknown, method = 'POST'): void =>
    void run(async () => onChanged(await api<Workspace>(method, `api/workspaces/${id}${path}`, body)));
  const toggle = (p: 'logs' | 'shell' | 'usage'): void => setPanel((cur) => (cur === p ? null : p));

  useEffect(() => {
    if ((panel === 'shell' || panel === 'usage') && !running) setPanel(null);
  }, [running, panel]);

  return (
    <li class="card ws" aria-labelledby={headingId} data-state={ws.state}>
      <div class="ws-head">
        <h2 id={headingId}>{ws.name}</h2>
        <span class={`state state-${ws.state}`}>{ws.state}</span>
        {ws.visibility && <span class="badge">{ws.visibility}</span>}
      </div>
      <dl class="meta">
        <div>
          <dt>Image</dt>
          <dd>{ws.image}</dd>
        </div>
        {ws.owner !== undefined && user.role === 'admin' && (
          <div>
            <dt>Owner</dt>
            <dd>{ws.owner ?? '—'}</dd>
          </div>
        )}
        <div>
          <dt>Created</dt>
          <dd>{when(ws.createdAt)}</dd>
        </div>
        {ws.cpus != null || ws.memoryMb != null ? (
          <div>
            <dt>Limits</dt>
            <dd>
              {ws.cpus != null ? `${ws.cpus} CPUs` : 'CPU unlimited'}, {ws.memoryMb != null ? `${ws.memoryMb} MB` : 'memory unlimited'}
            </dd>
          </div>
        ) : null}
        <IdleInfo ws={ws} />
        <div class="wide">
          <dt>Command</dt>
          <dd>
            <code class="cmd" title={ws.command ? joinArgs(ws.command) : undefined}>
              {ws.command ? joinArgs(ws.command) : 'the image default'}
            </code>
          </dd>
        </div>
      </dl>
      {(ws.state === 'failed' || ws.state === 'stopped') && ws.reason && (
        <p class="reason">
          {ws.reason}
          {ws.exitCode !== null ? ` (exit code ${ws.exitCode})` : ''}
        </p>
      )}
      <WorkspacePorts ws={ws} onChanged={onChanged} />
      <div class="actions">
        {running || ws.state === 'creating' ? (
          <BusyButton busy={busy} disabled={ws.state === 'creating'} onClick={() => act('/stop')} aria-label={`Stop ${ws.name}`}>
            Stop
          </BusyButton>
        ) : (
          <BusyButton busy={busy} onClick={() => act('/start')} aria-label={`Start ${ws.name}`}>
            Start
          </BusyButton>
        )}
        <button type="button" aria-expanded={panel === 'logs'} onClick={() => toggle('logs')} aria-label={`Logs of ${ws.name}`}>
          Logs
        </button>
        <button type="button" aria-expanded={panel === 'shell'} disabled={!running} onClick={() => toggle('shell')} aria-label={`Shell in ${ws.name}`}>
          Shell
        </button>
        <button type="button" aria-expanded={panel === 'usage'} disabled={!running} onClick={() => toggle('usage')} aria-label={`Usage of ${ws.name}`}>
          Usage
        </button>
        <ShareSelect ws={ws} busy={busy} onChange={(visibility) => act('', { visibility }, 'PATCH')} />
        <ConfirmButton
          label="Delete"
          confirmLabel="Delete for good"
          what={ws.name}
          onError={setError}
          onConfirm={async () => {
            await api<void>('DELETE', `api/workspaces/${id}`);
            onRemoved(ws.id);
          }}
        />
      </div>
      <ErrorBox error={error} />
      {panel === 'logs' && <LogsPanel ws={ws} />}
      {panel === 'shell' && <ShellPanel ws={ws} onClose={() => setPanel(null)} />}
      {panel === 'usage' && <UsagePanel ws={ws} />}
    </li>
  );
}
