// "What would it do now?": a dry run of a script or an automation against the hub's present, in a
// simulated home (POST /api/dry-run). Nothing is sent; the answer is a list of sentences.
import { useState } from 'preact/hooks';
import { api } from '../api.js';

export interface DryRunRequest {
  script?: string;
  automation?: string;
  run?: number;
  message?: { topic: string; payload: string };
}
interface Report {
  target: string;
  at: string;
  summary: string[];
  timersPending: number;
}

/** A "Try it" button and, once pressed, what it would do (now, or over the next 10 minutes). */
export function DryRun({ request, label = 'Try it (dry run)' }: { request: DryRunRequest; label?: string }) {
  const [report, setReport] = useState<Report | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const go = async (ahead: boolean) => {
    setBusy(true);
    setError('');
    try {
      setReport(await api<Report>('POST', '/api/dry-run', { ...request, ...(ahead ? { for: '10m' } : {}) }));
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="dry-run">
      <button onClick={() => void go(false)} disabled={busy}>
        {busy ? 'Trying…' : label}
      </button>
      {error && <p class="error">{error}</p>}
      {report && (
        <div class="dry-run-report" role="status">
          <p class="meta">What {report.target} would do with the home as it is now — nothing was sent:</p>
          <ul>
            {report.summary.map((line) => (
              <li class={line.includes('would fail') ? 'error' : ''}>{line}</li>
            ))}
          </ul>
          {report.timersPending > 0 && (
            <button class="link" onClick={() => void go(true)} disabled={busy}>
              It waits for {report.timersPending} timer{report.timersPending > 1 ? 's' : ''}: show the next 10 minutes
            </button>
          )}
        </div>
      )}
    </div>
  );
}
