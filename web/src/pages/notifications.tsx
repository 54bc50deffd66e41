// Notifications: the targets the config declares (with a test button) and the outbox, newest
// first: what was sent where, by whom (script and line, automation, API), and what is still
// waiting or failed, with the target's answer.
import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.js';

interface Target {
  name: string;
  type: string;
}
interface Notification {
  id: number;
  target: string;
  title: string | null;
  message: string;
  priority: string;
  source: string;
  status: 'pending' | 'sent' | 'failed';
  attempts: number;
  created: number;
  nextAt: number | null;
  doneAt: number | null;
  lastError: string | null;
}

const TYPE_NAMES: Record<string, string> = {
  ntfy: 'ntfy',
  telegram: 'Telegram',
  pushover: 'Pushover',
  webhook: 'Webhook',
  email: 'E-mail',
};
const STATUS: Record<Notification['status'], [string, string]> = {
  pending: ['Waiting', ''],
  sent: ['Sent', 'ok'],
  failed: ['Failed', 'bad'],
};

const when = (t: number) => {
  const d = new Date(t);
  return d.toDateString() === new Date().toDateString() ? d.toLocaleTimeString() : d.toLocaleString();
};

export function NotificationsPage() {
  const [targets, setTargets] = useState<Target[]>([]);
  const [rows, setRows] = useState<Notification[]>([]);
  const [error, setError] = useState('');
  const [note, setNote] = useState('');
  const load = () =>
    api<Notification[]>('GET', '/api/notifications?limit=100')
      .then((r) => {
        setRows(r);
        setError('');
      })
      .catch((e) => setError((e as Error).message));
  useEffect(() => {
    void api<Target[]>('GET', '/api/notifications/targets').then(setTargets, (e) => setError((e as Error).message));
    void load();
    const t = window.setInterval(load, 3000);
    return () => clearInterval(t);
  }, []);
  const test = async (t: Target) => {
    setNote('');
    try {
      await api('POST', '/api/notifications', {
        target: t.name,
        title: 'Smart Home',
        message: 'A test from Smart Home',
      });
      setNote(`A test is on its way to ${t.name}.`);
      void load();
    } catch (e) {
      setNote((e as Error).message);
    }
  };
  const waiting = rows.filter((r) => r.status === 'pending').length;
  const failed = rows.filter((r) => r.status === 'failed').length;
  return (
    <section class="notifications">
      <h1>Notifications</h1>
      {error && <p class="error">{error}</p>}
      <h2>Where they go</h2>
      {targets.length === 0 ? (
        <p class="empty">
          No targets yet. Add one under <code>notify: targets:</code> in smart-home.yaml (ntfy, Telegram, Pushover, a
          webhook or e-mail); keep its token in secrets.yaml.
        </p>
      ) : (
        <ul class="targets">
          {targets.map((t) => (
            <li>
              <strong>{t.name}</strong> <span class="meta">{TYPE_NAMES[t.type] ?? t.type}</span>
              <button onClick={() => void test(t)}>Send a test</button>
            </li>
          ))}
        </ul>
      )}
      {note && <p class={note.startsWith('A test') ? 'pending' : 'error'}>{note}</p>}
      <h2>
        Sent and waiting
        {waiting > 0 && <span class="badge">{waiting} waiting</span>}
        {failed > 0 && <span class="badge bad">{failed} failed</span>}
      </h2>
      {rows.length === 0 ? (
        <p class="empty">Nothing sent yet.</p>
      ) : (
        <ul class="outbox">
          {rows.map((n) => {
            const [label, cls] = STATUS[n.status];
            return (
              <li class={n.status}>
                <div class="line">
                  <span class={`badge ${cls}`}>{label}</span> <strong>{n.title ?? n.message.split('\n')[0]}</strong>
                </div>
                {n.title && <p class="text">{n.message}</p>}
                <p class="meta">
                  to {n.target} · {when(n.created)} · from {n.source}
                  {n.priority !== 'default' && <> · {n.priority} priority</>}
                  {n.attempts > 1 && <> · {n.attempts} tries</>}
                </p>
                {n.lastError && n.status !== 'sent' && (
                  <p class={n.status === 'failed' ? 'error' : 'pending'}>
                    {n.lastError}
                    {n.nextAt && <> · next try {when(n.nextAt)}</>}
                  </p>
                )}
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}
