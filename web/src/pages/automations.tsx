// Automations: list, enable/disable, run now, last runs with their trace, and automations.yaml.
import { useEffect, useState } from 'preact/hooks';
import { api, live } from '../api.js';
import { DryRun } from './dry-run.js';

interface Step {
  kind: string;
  index: number;
  type: string;
  result: string;
  detail?: string;
  error?: string;
  ms: number;
}
interface Run {
  id: number;
  started: number;
  finished?: number;
  status: string;
  trigger: { description?: string; type: string };
  steps: Step[];
}
interface Automation {
  id: string;
  name?: string;
  enabled: boolean;
  mode: string;
  triggers: string[];
  /** Why it is enabled but not running: its start failed. */
  error?: string;
  lastRun?: Run;
  runs: number;
  dropped: number;
  waiting: { kind: string; step: string; deadline: number }[];
  health: { ok: number; failed: number; other: number; nearMisses: number };
}
interface NearMiss {
  time: number;
  step: string;
  what: string;
  reason: string;
}

/** Since the hub started, in words. */
function health(h: Automation['health']): string {
  if (h.ok + h.failed + h.other + h.nearMisses === 0) return 'not triggered since the hub started';
  return [
    h.ok > 0 ? `${h.ok} ran` : undefined,
    h.failed > 0 ? `${h.failed} failed` : undefined,
    h.other > 0 ? `${h.other} stopped or skipped` : undefined,
    h.nearMisses > 0 ? `${h.nearMisses} not run (open it to see why)` : undefined,
  ]
    .filter(Boolean)
    .join(' · ');
}

/** What a stored wait is, in words (it outlives a restart). */
const WAIT_WORDS: Record<string, string> = {
  delay: 'Waiting (delay)',
  wait_for: 'Waiting for something',
  state_for: 'Waiting for a state to hold',
};
const when = (t: number) =>
  new Date(t).toDateString() === new Date().toDateString()
    ? new Date(t).toLocaleTimeString()
    : new Date(t).toLocaleString();

export function AutomationsPage() {
  const [list, setList] = useState<Automation[]>([]);
  const [open, setOpen] = useState<string | null>(null);
  const [runs, setRuns] = useState<Run[]>([]);
  const [misses, setMisses] = useState<NearMiss[]>([]);
  const [text, setText] = useState('');
  const [status, setStatus] = useState('');
  const refresh = () => api<Automation[]>('GET', '/api/automations').then(setList);
  useEffect(() => {
    void refresh();
    void api<{ text: string }>('GET', '/api/automations/file').then((f) => setText(f.text));
    return live(['automations'], () => void refresh());
  }, []);
  useEffect(() => {
    if (open) void api<Run[]>('GET', `/api/automations/${open}/runs`).then(setRuns);
    if (open) void api<NearMiss[]>('GET', `/api/automations/${open}/near-misses`).then(setMisses);
  }, [open, list]);
  const post = async (path: string) => {
    try {
      await api('POST', path);
      await refresh();
    } catch (err) {
      setStatus((err as Error).message);
    }
  };
  const saveFile = async () => {
    try {
      await api('PUT', '/api/automations/file', { text });
      setStatus('automations.yaml saved and applied');
      await refresh();
    } catch (err) {
      setStatus((err as Error).message);
    }
  };
  return (
    <section>
      <p class="status" role="status">
        {status}
      </p>
      <table>
        <thead>
          <tr>
            <th>Automation</th>
            <th class="wide-only">Triggers</th>
            <th class="wide-only">Mode</th>
            <th>Last run</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {list.map((a) => (
            <tr data-automation={a.id}>
              <td>
                <a href="#/automations" onClick={() => setOpen(a.id)}>
                  {a.name ?? a.id}
                </a>
                {a.error && <div class="meta start-error bad">Could not start: {a.error}</div>}
              </td>
              <td class="wide-only">{a.triggers.join(', ')}</td>
              <td class="wide-only">{a.mode}</td>
              <td>
                {a.lastRun ? `${a.lastRun.status} ${new Date(a.lastRun.started).toLocaleTimeString()}` : 'never'}
                <div class={`meta health${a.health.failed > 0 ? ' bad' : ''}`}>{health(a.health)}</div>
                {a.waiting.map((w) => (
                  <div class="meta waiting">
                    {WAIT_WORDS[w.kind] ?? w.kind} until {when(w.deadline)}
                  </div>
                ))}
              </td>
              <td class="buttons-cell">
                <button onClick={() => void post(`/api/automations/${a.id}/${a.enabled ? 'disable' : 'enable'}`)}>
                  {a.enabled ? 'Disable' : 'Enable'}
                </button>
                <button
                  disabled={!a.enabled || a.error !== undefined}
                  title={!a.enabled ? 'Enable it to run it' : a.error ? 'It could not start: fix it first' : undefined}
                  onClick={() => void post(`/api/automations/${a.id}/trigger`)}
                >
                  Run now
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {open && (
        <div class="runs">
          <DryRun request={{ automation: open }} key={open} />
          {misses.length > 0 && (
            <>
              <h3>Why it did not run, lately</h3>
              <ul class="near-misses">
                {misses.map((m) => (
                  <li>
                    <time>{new Date(m.time).toLocaleTimeString()}</time> {m.what}: {m.reason}
                  </li>
                ))}
              </ul>
            </>
          )}
          <h3>Runs of {open}</h3>
          {runs.length === 0 && <p class="empty">No runs yet.</p>}
          {runs.map((r) => (
            <details>
              <summary>
                #{r.id} {r.status} · {new Date(r.started).toLocaleTimeString()} ·{' '}
                {r.trigger.description ?? r.trigger.type}
              </summary>
              <ul>
                {r.steps.map((s) => (
                  <li class={s.result === 'error' ? 'error' : ''}>
                    {s.index >= 0 ? `${s.kind} ${s.index + 1}` : s.kind} ({s.type}): {s.result} in {s.ms.toFixed(1)} ms{' '}
                    {s.detail ?? ''} {s.error ?? ''}
                  </li>
                ))}
              </ul>
              <DryRun request={{ automation: open, run: r.id }} label="Replay this run (dry)" />
            </details>
          ))}
        </div>
      )}
      <h3>automations.yaml</h3>
      <textarea
        class="yaml"
        value={text}
        onInput={(e) => setText((e.target as HTMLTextAreaElement).value)}
        rows={16}
        spellcheck={false}
      />
      <div class="row">
        <button class="primary" onClick={() => void saveFile()}>
          Save &amp; apply
        </button>
      </div>
    </section>
  );
}
