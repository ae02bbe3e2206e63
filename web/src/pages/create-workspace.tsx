/** The create form: name, image, command (split like a shell), env lines, visibility. */
import { useState } from 'preact/hooks';
import { api, type Visibility, type Workspace } from '../api.js';
import { parseEnv, splitArgs } from '../lib/args.js';
import { BusyButton, ErrorBox, useAction } from '../ui.js';

const NAME_PATTERN = '[a-z0-9]([a-z0-9\\-]{0,38}[a-z0-9])?';

export function CreateWorkspace({ onCreated }: { onCreated: (ws: Workspace) => void }) {
  const [name, setName] = useState('');
  const [image, setImage] = useState('');
  const [command, setCommand] = useState('');
  const [env, setEnv] = useState('');
  const [cpus, setCpus] = useState('');
  const [memory, setMemory] = useState('');
  const [visibility, setVisibility] = useState<Visibility>('private');
  const [idleStop, setIdleStop] = useState('');
  const [created, setCreated] = useState<string | null>(null);
  const [busy, error, run] = useAction();

  const submit = (e: Event): void => {
    e.preventDefault();
    setCreated(null);
    void run(async () => {
      const body: Record<string, unknown> = { name: name.trim(), visibility };
      if (image.trim()) body.image = image.trim();
      const argv = splitArgs(command);
      if (argv.length) body.command = argv;
      const vars = parseEnv(env);
      if (Object.keys(vars).length) body.env = vars;
      // Sent as typed: the server checks them (and answers with a hint) against the runtime and the host.
      if (cpus.trim()) body.cpus = Number(cpus);
      if (memory.trim()) body.memory = memory.trim();
      if (idleStop.trim()) body.idleStop = idleStop.trim();
      const ws = await api<Workspace>('POST', 'api/workspaces', body);
      onCreated(ws);
      setCreated(ws.name);
      setName('');
      setCommand('');
      setEnv('');
    });
  };

  return (
    <form class="card create" onSubmit={submit} aria-labelledby="create-title">
      <h2 id="create-title">New workspace</h2>
      <div class="grid">
        <label>
          Name
          <input
            name="name"
            required
            maxLength={40}
            pattern={NAME_PATTERN}
            aria-describedby="name-hint"
            autoComplete="off"
            spellcheck={false}
            value={name}
            onInput={(e) => setName(e.currentTarget.value)}
          />
          <small id="name-hint">lowercase letters, digits and dashes</small>
        </label>
        <label>
          Image
          <input name="image" placeholder="Berth's default image" autoComplete="off" spellcheck={false} value={image} onInput={(e) => setImage(e.currentTarget.value)} />
          <small>e.g. docker.io/library/node:20</small>
        </label>
        <label class="wide">
          Command
          <input
            name="command"
            placeholder="python3 -m http.server 8000"
            aria-describedby="command-hint"
            autoComplete="off"
            spellcheck={false}
            value={command}
            onInput={(e) => setCommand(e.currentTarget.value)}
          />
          <small id="command-hint">split into words like a shell (quotes work, no $expansion); the app port is in $PORT</small>
        </label>
        <label class="wide">
          Environment
          <textarea name="env" rows={2} placeholder="KEY=value, one per line" spellcheck={false} value={env} onInput={(e) => setEnv(e.currentTarget.value)} />
        </label>
        <label>
          CPUs
          <input name="cpus" type="number" min="0.01" step="0.01" inputMode="decimal" placeholder="no limit" value={cpus} onInput={(e) => setCpus(e.currentTarget.value)} />
          <small>e.g. 0.5 or 2</small>
        </label>
        <label>
          Memory
          <input name="memory" placeholder="no limit" autoComplete="off" spellcheck={false} pattern="\s*\d+(\.\d+)?\s*([kKmMgGtT][iIbB]?)?\s*" value={memory} onInput={(e) => setMemory(e.currentTarget.value)} />
          <small>e.g. 512m or 2g</small>
        </label>
        <label>
          Hosted apps are
          <select name="visibility" value={visibility} onChange={(e) => setVisibility(e.currentTarget.value as Visibility)}>
            <option value="private">private (Berth login needed)</option>
            <option value="authenticated">any signed-in Berth user</option>
            <option value="public">public (anyone with the link)</option>
          </select>
        </label>
        <label>
          Stop when idle for
          <input name="idleStop" placeholder="e.g. 2h (empty: server default, off: never)" value={idleStop} onInput={(e) => setIdleStop(e.currentTarget.value)} />
        </label>
        <div class="submit">
          <BusyButton type="submit" class="primary" busy={busy}>
            {busy ? 'Creating…' : 'Create workspace'}
          </BusyButton>
        </div>
      </div>
      <ErrorBox error={error} />
      <p class="status-line" role="status">
        {created ? `Workspace ${created} created.` : ''}
      </p>
    </form>
  );
}
