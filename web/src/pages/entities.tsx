// Devices and their entities, as a household reads them: one card per device (a plug, a wall
// switch, a radiator valve), its controls first, its settings and diagnostics folded away, state
// in words and units, live. A command shows "waiting for the device" until the device confirms,
// then the confirmed state, or the error, on the entity itself.
import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.js';
import {
  ago,
  type Call,
  Controls,
  describe,
  type Entity,
  type Pending,
  useActions,
  useLiveEntities,
  type Device,
} from './controls.js';

interface IntegrationInfo {
  name: string;
  status: {
    unsupported?: { topic: string; component: string; reason?: string }[];
    invalid?: { topic: string; reason?: string }[];
  };
}

const DOMAIN_WORD: Record<string, string> = {
  light: 'Light',
  switch: 'Switch',
  cover: 'Position',
  climate: 'Heating',
  lock: 'Lock',
  fan: 'Fan',
};

/** "Kitchen Plug Power" on the Kitchen Plug card reads "Power". */
function shortName(e: Entity, device?: Device): string {
  if (!device) return e.name;
  if (e.name === device.name) return DOMAIN_WORD[e.domain] ?? e.name;
  return e.name.startsWith(`${device.name} `)
    ? e.name.slice(device.name.length + 1).replace(/^\w/, (c) => c.toUpperCase())
    : e.name;
}

export function EntityRow({
  e,
  device,
  call,
  pending,
}: {
  e: Entity;
  device?: Device;
  call: Call;
  pending?: Pending[string];
}) {
  const problem =
    typeof e.attributes.problem === 'string'
      ? e.attributes.problem
      : typeof e.attributes.warning === 'string'
        ? e.attributes.warning
        : undefined;
  return (
    <li data-entity={e.id} class={`entity ${e.available ? '' : 'unavailable'}`}>
      <div class="what">
        <span class="name" title={e.id}>
          {shortName(e, device)}
        </span>
        <span class="state">{e.available ? describe(e) : 'Unavailable'}</span>
      </div>
      <div class="how">
        <Controls e={e} call={call} busy={!!pending && 'waiting' in pending} part="main" />
      </div>
      <div class="more">
        <Controls e={e} call={call} busy={!!pending && 'waiting' in pending} part="extra" />
      </div>
      {pending && 'waiting' in pending && <p class="pending">Waiting for the device…</p>}
      {pending && 'error' in pending && (
        <p class="error" role="alert">
          {pending.error}
        </p>
      )}
      {problem && <p class="problem">⚠ {problem}</p>}
    </li>
  );
}

interface RecorderUsage {
  bytes: number;
  rows: Record<string, number>;
  freeBytes?: number;
  lowDisk: boolean;
}

const size = (b: number) =>
  b >= 1024 ** 3
    ? `${(b / 1024 ** 3).toFixed(1)} GB`
    : b >= 1024 ** 2
      ? `${(b / 1024 ** 2).toFixed(1)} MB`
      : `${Math.ceil(b / 1024)} KB`;

/** Zigbee2MQTT's own controls: let devices join (with a countdown), and the bridge's answer. */
function ZigbeeBar({
  online,
  run,
}: {
  online: boolean;
  run: (command: string, params: Record<string, unknown>) => Promise<unknown>;
}) {
  const [until, setUntil] = useState(0);
  const [now, setNow] = useState(Date.now());
  const [answer, setAnswer] = useState('');
  useEffect(() => {
    if (until <= now) return;
    const t = setTimeout(() => setNow(Date.now()), 1000);
    return () => clearTimeout(t);
  }, [until, now]);
  const left = Math.max(0, Math.round((until - now) / 1000));
  const permit = async (time: number) => {
    try {
      const r = (await run('permit_join', { time })) as { time?: number };
      const secs = typeof r?.time === 'number' ? r.time : time;
      setNow(Date.now());
      setUntil(Date.now() + secs * 1000);
      setAnswer(secs > 0 ? 'Zigbee2MQTT lets new devices join' : 'Joining is closed');
    } catch (err) {
      setAnswer((err as Error).message);
    }
  };
  return (
    <div class="zigbee-bar card">
      <span>
        <strong>Zigbee2MQTT</strong>{' '}
        <span class={`badge ${online ? 'ok' : 'bad'}`}>{online ? 'online' : 'offline'}</span>
      </span>
      {left > 0 ? (
        <>
          <span class="countdown" role="timer">
            Joining open: {Math.floor(left / 60)}:{String(left % 60).padStart(2, '0')}
          </span>
          <button onClick={() => void permit(0)}>Stop</button>
        </>
      ) : (
        <button disabled={!online} onClick={() => void permit(254)}>
          Let devices join
        </button>
      )}
      {answer && <span class="meta">{answer}</span>}
    </div>
  );
}

export function EntitiesPage() {
  const [entities, loadEntities] = useLiveEntities(() => void refresh());
  const [devices, setDevices] = useState<Device[]>([]);
  const [integrations, setIntegrations] = useState<IntegrationInfo[]>([]);
  const [filter, setFilter] = useState('');
  const [status, setStatus] = useState('');
  const [usage, setUsage] = useState<RecorderUsage | null>(null);
  const [answers, setAnswers] = useState<Record<string, string>>({});
  const refresh = () =>
    Promise.all([
      loadEntities(),
      api<Device[]>('GET', '/api/devices').then(setDevices),
      api<IntegrationInfo[]>('GET', '/api/integrations').then(setIntegrations),
    ]).catch((e) => setStatus((e as Error).message));
  useEffect(() => {
    void refresh();
  }, []);
  useEffect(
    () =>
      void api<RecorderUsage>('GET', '/api/recorder')
        .then(setUsage)
        .catch(() => {}),
    [],
  );
  const zigbee = (command: string, params: Record<string, unknown>) =>
    api('POST', `/api/integrations/zigbee2mqtt/${command}`, { params });
  const deviceCommand = async (d: Device, command: 'rename' | 'remove') => {
    const params =
      command === 'rename'
        ? { from: d.id, to: window.prompt(`New name for ${d.name}`, d.name)?.trim() }
        : window.confirm(`Remove ${d.name} from the Zigbee network?`)
          ? { id: d.id }
          : undefined;
    if (!params || ('to' in params && !params.to)) return;
    try {
      await zigbee(command, params);
      setAnswers((a) => ({ ...a, [d.id]: command === 'rename' ? `Renamed to ${String(params.to)}` : 'Removed' }));
      void refresh();
    } catch (err) {
      setAnswers((a) => ({ ...a, [d.id]: (err as Error).message }));
    }
  };
  const { pending, call } = useActions(setStatus);
  const q = filter.trim().toLowerCase();
  const matches = (e: Entity, d?: Device) =>
    !q || e.id.includes(q) || e.name.toLowerCase().includes(q) || (d?.name.toLowerCase().includes(q) ?? false);
  const byDevice = new Map(devices.map((d) => [d.id, d]));
  const groups = devices
    .filter((d) => entities.some((e) => e.deviceId === d.id))
    .map((d) => ({
      device: d as Device | undefined,
      key: d.id,
      title: d.name,
      items: entities.filter((e) => e.deviceId === d.id && matches(e, d)),
    }))
    .sort((a, b) => a.title.localeCompare(b.title));
  const loose = entities.filter((e) => (!e.deviceId || !byDevice.has(e.deviceId)) && matches(e));
  if (loose.length) groups.push({ device: undefined, key: '', title: 'Other entities', items: loose });
  const z2m = integrations.find((i) => i.name === 'zigbee2mqtt');
  const isZigbeeDevice = (d?: Device) => d?.integration === 'zigbee2mqtt' && !/:(bridge|group:)/.test(d.id);
  const unsupported = integrations.flatMap((i) =>
    (i.status.unsupported ?? []).map((u) => ({ ...u, integration: i.name })),
  );
  return (
    <section class="devices">
      <p class="status" role="status">
        {status}
      </p>
      {z2m && <ZigbeeBar online={(z2m.status as { online?: boolean }).online !== false} run={zigbee} />}
      {entities.length > 0 && (
        <input
          class="filter"
          type="search"
          placeholder="Find a device or entity"
          aria-label="Find a device or entity"
          value={filter}
          onInput={(ev) => setFilter((ev.target as HTMLInputElement).value)}
        />
      )}
      <div class="cards">
        {groups
          .filter((g) => g.items.length > 0)
          .map(({ device, key, title, items }) => {
            // controls first (the device itself, then the rest), then readings, by name
            const rank = (e: Entity) => (e.name === device?.name ? 0 : e.actions.length > 0 ? 1 : 2);
            items.sort((x, y) => rank(x) - rank(y) || x.name.localeCompare(y.name));
            const main = items.filter((e) => !e.category);
            const rest = items.filter((e) => e.category);
            return (
              <article class={`card ${device && !device.available ? 'unavailable' : ''}`} data-device={key}>
                <header>
                  <h2>{device ? <a href={`#/device/${encodeURIComponent(device.id)}`}>{title}</a> : title}</h2>
                  {device && (
                    <span class="meta">
                      {[device.manufacturer, device.model].filter(Boolean).join(' ')}
                      {device.area ? ` · ${device.area}` : ''}
                    </span>
                  )}
                  {device && !device.available && <span class="badge bad">Unavailable</span>}
                </header>
                <ul class="entity-list">
                  {main.map((e) => (
                    <EntityRow e={e} device={device} call={call} pending={pending[e.id]} />
                  ))}
                </ul>
                {rest.length > 0 && (
                  <details>
                    <summary>Settings and diagnostics ({rest.length})</summary>
                    <ul class="entity-list">
                      {rest.map((e) => (
                        <EntityRow e={e} device={device} call={call} pending={pending[e.id]} />
                      ))}
                    </ul>
                  </details>
                )}
                <footer class="meta">
                  {items[0]?.lastChanged ? `changed ${ago(Math.max(...items.map((e) => e.lastChanged ?? 0)))}` : ''}
                  {isZigbeeDevice(device) && (
                    <span class="device-actions">
                      <button class="link" onClick={() => void deviceCommand(device!, 'rename')}>
                        Rename
                      </button>
                      <button class="link danger" onClick={() => void deviceCommand(device!, 'remove')}>
                        Remove
                      </button>
                    </span>
                  )}
                  {device && answers[device.id] && <span class="answer"> {answers[device.id]}</span>}
                </footer>
              </article>
            );
          })}
      </div>
      {entities.length === 0 && (
        <p class="empty">
          No devices yet: enable Zigbee2MQTT, Home Assistant discovery (ESPHome, Shelly, ...) or Tasmota in
          smart-home.yaml, or declare entities under <code>entities:</code>.
        </p>
      )}
      {usage && (
        <p class={`meta recorder ${usage.lowDisk ? 'error' : ''}`}>
          History: {size(usage.bytes)} in the SQLite file,{' '}
          {Object.values(usage.rows)
            .reduce((a, b) => a + b, 0)
            .toLocaleString()}{' '}
          recorded states
          {usage.freeBytes !== undefined ? `; ${size(usage.freeBytes)} free on the disk` : ''}
          {usage.lowDisk ? ' — the disk is nearly full: shorten recorder.keep_days or exclude chatty entities' : ''}
        </p>
      )}
      {unsupported.length > 0 && (
        <details class="unsupported">
          <summary>Discovered, not supported yet ({unsupported.length})</summary>
          <ul>
            {unsupported.map((u) => (
              <li>
                <code>{u.component}</code> from <code>{u.topic}</code>
              </li>
            ))}
          </ul>
        </details>
      )}
    </section>
  );
}
