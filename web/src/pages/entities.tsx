// Entities: state, last changed, action buttons; updates live.
import { useEffect, useState } from 'preact/hooks';
import { api, live } from '../api.js';

interface Entity { id: string; name: string; type: string; state: unknown; lastChanged?: number; available: boolean; actions: string[] }

export function EntitiesPage() {
  const [entities, setEntities] = useState<Entity[]>([]);
  const [status, setStatus] = useState('');
  const refresh = () => api<Entity[]>('GET', '/api/entities').then(setEntities).catch((e) => setStatus(e.message));
  useEffect(() => { void refresh(); return live(['entities'], () => void refresh()); }, []);
  const call = async (id: string, action: string) => {
    try { await api('POST', `/api/entities/${encodeURIComponent(id)}/actions/${encodeURIComponent(action)}`, {}); setStatus(`${id}: ${action} done`); }
    catch (err) { setStatus(`${id}: ${action} failed: ${(err as Error).message}`); }
  };
  return (
    <section>
      <p class="status" role="status">{status}</p>
      <table class="entities">
        <thead><tr><th>Entity</th><th>Name</th><th>State</th><th>Last changed</th><th>Actions</th></tr></thead>
        <tbody>{entities.map((e) => (
          <tr data-entity={e.id} class={e.available ? '' : 'unavailable'}>
            <td><code>{e.id}</code></td><td>{e.name}</td><td class="state">{JSON.stringify(e.state)}</td>
            <td>{e.lastChanged ? new Date(e.lastChanged).toLocaleString() : ''}</td>
            <td>{e.actions.map((a) => <button onClick={() => void call(e.id, a)}>{a}</button>)}</td>
          </tr>
        ))}</tbody>
      </table>
      {entities.length === 0 && <p class="empty">No entities yet: declare them under <code>entities:</code> in smart-home.yaml, or enable Zigbee2MQTT.</p>}
    </section>
  );
}
