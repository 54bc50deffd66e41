// One device: what it is (manufacturer, model, firmware, the bridge it is reached through, its
// room), whether it is there, its entities with their controls, and what it announced.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, live, newest } from '../api.js';
import { type Device, type Entity, useActions } from './controls.js';
import { EntityRow } from './entities.js';

type DeviceWithEntities = Omit<Device, 'entities'> & { entities: Entity[] };

export function DevicePage({ id }: { id: string }) {
  const [device, setDevice] = useState<DeviceWithEntities | null>(null);
  const [via, setVia] = useState<Device | null>(null);
  const [status, setStatus] = useState('');
  const { pending, call } = useActions(setStatus);
  const fresh = useRef(newest()).current;
  const mine = useRef(new Set<string>());
  const load = () =>
    fresh(api<DeviceWithEntities>('GET', `/api/devices/${encodeURIComponent(id)}`))
      .then((d) => {
        mine.current = new Set(d.entities.map((x) => x.id));
        setDevice(d);
        if (d.via)
          void api<Device>('GET', `/api/devices/${encodeURIComponent(d.via)}`).then(setVia, () => setVia(null));
      })
      .catch((err) => setStatus((err as Error).message));
  useEffect(() => {
    void load();
    // a change to one of its entities, or an entity that appeared (it may be this device's)
    return live(
      ['entities'],
      (ev) => {
        if (mine.current.has(ev.data.entityId) || ev.data.added === true) void load();
      },
      '#',
      () => void load(),
    );
  }, [id]);
  if (!device) return <p class="status">{status || 'Loading…'}</p>;
  // the device itself first, then its other controls, then its readings; settings and diagnostics last
  const rank = (e: Entity) => (e.category ? 3 : e.name === device.name ? 0 : e.actions.length > 0 ? 1 : 2);
  const sorted = [...device.entities].sort((x, y) => rank(x) - rank(y) || x.name.localeCompare(y.name));
  const facts: [string, string | undefined][] = [
    ['Manufacturer', device.manufacturer],
    ['Model', device.model],
    ['Firmware', device.swVersion],
    ['Room', device.area],
    ['Integration', device.integration],
    ['Id', device.id],
  ];
  return (
    <section class="device-page" data-device={device.id}>
      <p>
        <a href="#/entities">← Devices</a>
      </p>
      <h1>
        {device.name}{' '}
        <span class={`badge ${device.available ? 'ok' : 'bad'}`}>{device.available ? 'available' : 'unavailable'}</span>
      </h1>
      <p class="status" role="status">
        {status}
      </p>
      <table class="attributes">
        <tbody>
          {facts
            .filter(([, v]) => v)
            .map(([k, v]) => (
              <tr>
                <th>{k}</th>
                <td>{v}</td>
              </tr>
            ))}
          {device.via && (
            <tr>
              <th>Reached through</th>
              <td>{via ? <a href={`#/device/${encodeURIComponent(via.id)}`}>{via.name}</a> : device.via}</td>
            </tr>
          )}
        </tbody>
      </table>
      <div class="card">
        <ul class="entity-list">
          {sorted.map((e) => (
            <EntityRow e={e} device={{ ...device, entities: [] }} call={call} pending={pending[e.id]} />
          ))}
        </ul>
      </div>
      {device.discovery !== undefined && (
        <details>
          <summary>What the device announced</summary>
          <pre class="payload">{JSON.stringify(device.discovery, null, 2)}</pre>
        </details>
      )}
    </section>
  );
}
