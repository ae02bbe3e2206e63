/**
 * A small live chart of one workspace's CPU and memory over the last minutes: polls
 * `GET api/workspaces/:id` (whose `usage` the server caches for a few seconds) while the panel is
 * open, keeps the samples in memory, and draws two SVG polylines. No chart library.
 */
import { useEffect, useState } from 'preact/hooks';
import { api, type Workspace } from '../api.js';
import { polyline, pushPoint, type UsagePoint } from '../lib/usage-series.js';
import { ErrorBox } from '../ui.js';

const POLL_MS = 5000;
const WINDOW_MS = 10 * 60_000;
const W = 300;
const H = 60;

/** Bytes for people, binary units as the limits count them. */
function mib(b: number): string {
  if (b >= 1024 ** 3) return `${(b / 1024 ** 3).toFixed(1)} GiB`;
  if (b >= 1024 ** 2) return `${Math.round(b / 1024 ** 2)} MiB`;
  return b >= 1024 ? `${Math.round(b / 1024)} KiB` : `${b} B`;
}

export function UsagePanel({ ws }: { ws: Workspace }) {
  const [series, setSeries] = useState<UsagePoint[]>([]);
  const [latest, setLatest] = useState<Workspace | null>(null);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const poll = async (): Promise<void> => {
      try {
        const w = await api<Workspace>('GET', `api/workspaces/${encodeURIComponent(ws.id)}`);
        if (stopped) return;
        setError(null);
        setLatest(w);
        const u = w.usage;
        if (u) setSeries((s) => pushPoint(s, { at: Date.parse(u.sampledAt), cpuPercent: u.cpuPercent, memoryBytes: u.memoryBytes }, WINDOW_MS));
      } catch (err) {
        if (!stopped) setError(err);
      }
      // Not while the tab is hidden: nobody is looking, and the engine is spared.
      if (!stopped) timer = setTimeout(() => void poll(), document.hidden ? POLL_MS * 6 : POLL_MS);
    };
    void poll();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [ws.id]);

  const u = latest?.usage ?? null;
  // CPU scale: the limit when there is one, else one CPU or what was seen; memory: the limit, else what was seen.
  const cpuMax = Math.max(ws.cpus ? ws.cpus * 100 : 100, ...series.map((p) => p.cpuPercent ?? 0));
  const memLimit = ws.memoryMb ? ws.memoryMb * 1024 * 1024 : null;
  const memMax = memLimit ?? Math.max(1, ...series.map((p) => p.memoryBytes)) * 1.25;
  const summary = u
    ? `CPU ${u.cpuPercent === null ? 'measuring' : `${u.cpuPercent.toFixed(1)}%`}, memory ${mib(u.memoryBytes)}${memLimit ? ` of ${mib(memLimit)}` : ''}, ${u.pids} ${u.pids === 1 ? 'process' : 'processes'}${u.diskBytes !== null ? `, disk ${mib(u.diskBytes)}` : ''}`
    : latest && latest.state !== 'running'
      ? `${ws.name} is ${latest.state}`
      : 'measuring…';
  return (
    <div class="panel">
      <div class="panel-head">
        <h3>Usage</h3>
        <span class="muted small" role="status" data-testid="usage-summary">
          {summary}
        </span>
      </div>
      <svg class="usage-chart" viewBox={`0 0 ${W} ${H}`} preserveAspectRatio="none" role="img" aria-label={`CPU and memory of ${ws.name} over the last ${WINDOW_MS / 60_000} minutes: ${summary}`}>
        <polyline class="usage-cpu" fill="none" points={polyline(series, (p) => p.cpuPercent, cpuMax, W, H, WINDOW_MS)} />
        <polyline class="usage-mem" fill="none" points={polyline(series, (p) => p.memoryBytes, memMax, W, H, WINDOW_MS)} />
      </svg>
      <p class="muted small usage-legend">
        <span class="usage-cpu-key">CPU</span> (top: {Math.round(cpuMax)}%) · <span class="usage-mem-key">memory</span> (top: {mib(memMax)}) · last {WINDOW_MS / 60_000} min, every {POLL_MS / 1000} s
        {ws.cpus || ws.memoryMb ? ` · limits: ${ws.cpus ? `${ws.cpus} CPUs` : 'CPU unlimited'}, ${ws.memoryMb ? mib(ws.memoryMb * 1024 * 1024) : 'memory unlimited'}` : ''}
      </p>
      <ErrorBox error={error} />
    </div>
  );
}
