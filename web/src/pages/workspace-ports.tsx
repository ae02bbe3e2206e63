/**
 * A workspace's ports on its card: a link per port (when running), its label, and a switch per
 * port for its prefix mode — off: `strip` (the app serves at `/`), on: `keep` (the app was told
 * its base path, e.g. Jupyter's base_url or Vite's `base`, and gets the full /hosted/… path).
 * The edge applies a change at once; the workload keeps running.
 */
import { api, type HostedPort, type Workspace } from '../api.js';
import { ErrorBox, useAction } from '../ui.js';

const KEEP_HELP = 'On: the app gets the full path (it was told $BERTH_BASE_PATH_<port>, e.g. Jupyter, Vite). Off: the /hosted/… prefix is stripped (apps that serve at /).';

export function WorkspacePorts({ ws, onChanged }: { ws: Workspace; onChanged: (ws: Workspace) => void }) {
  const [busy, error, run] = useAction();
  const running = ws.state === 'running';

  const setMode = (p: HostedPort, keep: boolean): void =>
    void run(async () =>
      onChanged(await api<Workspace>('PATCH', `api/workspaces/${encodeURIComponent(ws.id)}`, { ports: [{ hostPort: p.hostPort, prefix: keep ? 'keep' : 'strip' }] })),
    );

  return (
    <>
      <div class="ports">
        <span class="muted small">Apps:</span>
        {ws.ports.map((p) => (
          <span key={p.hostPort} class="port" data-prefix={p.prefix}>
            {running ? (
              <a href={p.url} target="_blank" rel="noopener noreferrer" aria-label={`Open port ${p.containerPort} of ${ws.name}`}>
                {p.containerPort}
              </a>
            ) : (
              <span class="port-off" title={`${ws.name} is ${ws.state}`}>
                {p.containerPort}
              </span>
            )}
            {p.label && <span class="muted small">{p.label}</span>}
            {p.prefix && (
              <label class="prefix-switch small" title={`${KEEP_HELP}\nBase path: ${p.basePath ?? p.url}`}>
                <input
                  type="checkbox"
                  role="switch"
                  checked={p.prefix === 'keep'}
                  disabled={busy}
                  aria-label={`Keep the /hosted path for port ${p.containerPort} of ${ws.name}`}
                  onChange={(e) => setMode(p, e.currentTarget.checked)}
                />
                keep path
              </label>
            )}
          </span>
        ))}
      </div>
      <ErrorBox error={error} />
    </>
  );
}
