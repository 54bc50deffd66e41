// Entities: state, last changed, action buttons; updates live. An action that needs a value (a
// light's brightness) gets an input in the device's own range next to its button.
import { useEffect, useState } from 'preact/hooks';
import { api, live } from '../api.js';

interface Settable {
  type: string;
  min?: number;
  max?: number;
  step?: number;
  unit?: string;
  values?: unknown[];
}
interface Entity {
  id: string;
  name: string;
  type: string;
  state: unknown;
  lastChanged?: number;
  available: boolean;
  actions: string[];
  attributes?: { settable?: Record<string, Settable> };
}

function ParamAction({
  entity,
  action,
  s,
  call,
}: {
  entity: Entity;
  action: string;
  s: Settable;
  call: (id: string, action: string, params: Record<string, unknown>) => Promise<void>;
}) {
  const current = (entity.state as Record<string, unknown> | null)?.[action];
  const initial =
    s.type === 'numeric' ? (typeof current === 'number' ? current : (s.min ?? 0)) : (current ?? s.values?.[0] ?? '');
  const [value, setValue] = useState<unknown>(initial);
  const label = `${action} of ${entity.name}`;
  const input =
    s.type === 'numeric' ? (
      <input
        type="number"
        aria-label={label}
        min={s.min}
        max={s.max}
        step={s.step ?? 1}
        value={String(value)}
        onInput={(e) => setValue(Number((e.target as HTMLInputElement).value))}
      />
    ) : s.values && s.values.length > 0 ? (
      <select
        aria-label={label}
        value={String(value)}
        onChange={(e) => setValue(s.values!.find((v) => String(v) === (e.target as HTMLSelectElement).value))}
      >
        {s.values.map((v) => (
          <option value={String(v)}>{String(v)}</option>
        ))}
      </select>
    ) : (
      <input aria-label={label} value={String(value)} onInput={(e) => setValue((e.target as HTMLInputElement).value)} />
    );
  return (
    <span class="param-action">
      {input}
      {s.unit ? <span class="unit">{s.unit}</span> : null}
      <button
        onClick={() => void call(entity.id, action, { [action]: value })}
        title={s.min !== undefined || s.max !== undefined ? `${s.min ?? '…'} to ${s.max ?? '…'}` : undefined}
      >
        set {action}
      </button>
    </span>
  );
}

export function EntitiesPage() {
  const [entities, setEntities] = useState<Entity[]>([]);
  const [status, setStatus] = useState('');
  const refresh = () =>
    api<Entity[]>('GET', '/api/entities')
      .then(setEntities)
      .catch((e) => setStatus(e.message));
  useEffect(() => {
    void refresh();
    return live(['entities'], () => void refresh());
  }, []);
  const call = async (id: string, action: string, params: Record<string, unknown> = {}) => {
    try {
      await api('POST', `/api/entities/${encodeURIComponent(id)}/actions/${encodeURIComponent(action)}`, { params });
      setStatus(`${id}: ${action} done`);
    } catch (err) {
      setStatus(`${id}: ${action} failed: ${(err as Error).message}`);
    }
  };
  return (
    <section>
      <p class="status" role="status">
        {status}
      </p>
      <table class="entities">
        <thead>
          <tr>
            <th>Entity</th>
            <th>Name</th>
            <th>State</th>
            <th>Last changed</th>
            <th>Actions</th>
          </tr>
        </thead>
        <tbody>
          {entities.map((e) => (
            <tr data-entity={e.id} class={e.available ? '' : 'unavailable'}>
              <td>
                <code>{e.id}</code>
              </td>
              <td>{e.name}</td>
              <td class="state">{JSON.stringify(e.state)}</td>
              <td>{e.lastChanged ? new Date(e.lastChanged).toLocaleString() : ''}</td>
              <td class="actions">
                {e.actions.map((a) => {
                  const s = e.attributes?.settable?.[a];
                  if (s && a !== 'state') return <ParamAction entity={e} action={a} s={s} call={call} />;
                  // `set` takes any combination of settable values: the API and scripts send it
                  if (a === 'set' && e.attributes?.settable) return null;
                  return <button onClick={() => void call(e.id, a)}>{a}</button>;
                })}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {entities.length === 0 && (
        <p class="empty">
          No entities yet: declare them under <code>entities:</code> in smart-home.yaml, or enable Zigbee2MQTT.
        </p>
      )}
    </section>
  );
}
