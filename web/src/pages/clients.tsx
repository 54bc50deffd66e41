// Clients connected to the embedded broker and their subscriptions.
import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.js';

interface Client {
  id: string;
  user?: string;
  address?: string;
  internal: boolean;
  subscriptions: { topic: string; qos: number }[];
}

export function ClientsPage() {
  const [clients, setClients] = useState<Client[]>([]);
  const [error, setError] = useState('');
  useEffect(() => {
    const load = () =>
      api<Client[]>('GET', '/api/mqtt/clients')
        .then((c) => {
          setClients(c);
          setError('');
        })
        .catch((e) => setError(e.message));
    void load();
    const t = window.setInterval(load, 3000);
    return () => clearInterval(t);
  }, []);
  return (
    <section>
      {error && <p class="error">{error}</p>}
      <table>
        <thead>
          <tr>
            <th>Client id</th>
            <th>User</th>
            <th>Address</th>
            <th>Subscriptions</th>
          </tr>
        </thead>
        <tbody>
          {clients.map((c) => (
            <tr>
              <td>
                <code>{c.id}</code>
                {c.internal ? ' (this hub)' : ''}
              </td>
              <td>{c.user ?? ''}</td>
              <td>{c.address ?? ''}</td>
              <td>
                {c.subscriptions.map((s) => (
                  <div>
                    <code>{s.topic}</code> QoS {s.qos}
                  </div>
                ))}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
