// The dashboard, the page a household opens every day: one tile per entity, grouped by area
// (room), with its controls, its state in words and a 24 h sparkline for numbers; live, pending
// until the device confirms. "Edit" chooses which tiles show, their order and each device's room.
import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.js';
import {
  type Call,
  Controls,
  describe,
  type Entity,
  type Pending,
  useActions,
  useLiveEntities,
  type Device,
} from './controls.js';

interface Layout {
  hidden: string[];
  order: string[];
}
type Bucket = { t: number; mean: number };

const UNASSIGNED = 'Unassigned';

/** A 24 h line of a number's 5-minute means, as SVG (no library needed for a sparkline). */
function Sparkline({ points }: { points: Bucket[] }) {
  if (points.length < 2) return null;
  const xs = points.map((p) => p.t);
  const ys = points.map((p) => p.mean);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  const w = 120;
  const h = 28;
  const path = points
    .map(
      (p, i) =>
        `${i ? 'L' : 'M'}${(((p.t - x0) / (x1 - x0 || 1)) * w).toFixed(1)},${(h - 2 - ((p.mean - y0) / (y1 - y0 || 1)) * (h - 4)).toFixed(1)}`,
    )
    .join(' ');
  return (
    <svg
      class="sparkline"
      viewBox={`0 0 ${w} ${h}`}
      width={w}
      height={h}
      role="img"
      aria-label={`last 24 h: ${y0.toFixed(1)} to ${y1.toFixed(1)}`}
    >
      <path d={path} fill="none" stroke="currentColor" stroke-width="1.5" />
    </svg>
  );
}

function Tile(props: {
  e: Entity;
  call: Call;
  pending?: Pending[string];
  spark?: Bucket[];
  editing: boolean;
  hidden: boolean;
  device?: Device;
  areas: string[];
  onHide: () => void;
  onMove: (by: number) => void;
  onArea: (area: string) => void;
}) {
  const { e, pending } = props;
  const busy = !!pending && 'waiting' in pending;
  return (
    <div class={`tile ${e.available ? '' : 'unavailable'} ${props.hidden ? 'hidden-tile' : ''}`} data-entity={e.id}>
      <a class="tile-name" href={`#/entity/${encodeURIComponent(e.id)}`}>
        {e.name}
      </a>
      <span class="tile-state">{e.available ? describe(e) : 'Unavailable'}</span>
      {props.spark && <Sparkline points={props.spark} />}
      <div class="tile-controls">
        <Controls e={e} call={props.call} busy={busy} part="main" />
        <Controls e={e} call={props.call} busy={busy} part="extra" />
      </div>
      {busy && <p class="pending">Waiting for the device…</p>}
      {pending && 'error' in pending && (
        <p class="error" role="alert">
          {pending.error}
        </p>
      )}
      {props.editing && (
        <div class="tile-edit">
          <button onClick={props.onHide}>{props.hidden ? 'Show' : 'Hide'}</button>
          <button aria-label={`Move ${e.name} earlier`} onClick={() => props.onMove(-1)}>
            ↑
          </button>
          <button aria-label={`Move ${e.name} later`} onClick={() => props.onMove(1)}>
            ↓
          </button>
          {
            <label class="area-input">
              Room{' '}
              <input
                list="areas"
                aria-label={`Room of ${props.device?.name ?? e.name}`}
                value={e.area ?? props.device?.area ?? ''}
                placeholder={UNASSIGNED}
                onChange={(ev) => props.onArea((ev.target as HTMLInputElement).value.trim())}
              />
            </label>
          }
        </div>
      )}
    </div>
  );
}

export function HomePage() {
  const [entities, loadEntities] = useLiveEntities(() => void refresh());
  const [devices, setDevices] = useState<Device[]>([]);
  const [layout, setLayout] = useState<Layout>({ hidden: [], order: [] });
  const [sparks, setSparks] = useState<Record<string, Bucket[]>>({});
  const [editing, setEditing] = useState(false);
  const [status, setStatus] = useState('');
  const refresh = () =>
    Promise.all([loadEntities(), api<Device[]>('GET', '/api/devices').then(setDevices)]).catch((e) =>
      setStatus((e as Error).message),
    );
  useEffect(() => {
    void refresh();
    void api<Layout>('GET', '/api/dashboard').then(setLayout);
  }, []);
  const numeric = entities.filter((e) => e.domain === 'sensor' && typeof e.state === 'number').map((e) => e.id);
  const numericKey = numeric.join(',');
  useEffect(() => {
    if (!numericKey) return;
    const since = Date.now() - 24 * 3600_000;
    void api<Record<string, { points: Bucket[] }>>(
      'GET',
      `/api/history?ids=${encodeURIComponent(numericKey)}&since=${since}&resolution=5m`,
    ).then((h) => setSparks(Object.fromEntries(Object.entries(h).map(([id, v]) => [id, v.points]))));
  }, [numericKey]);
  const { pending, call } = useActions(setStatus);
  const save = (next: Layout) => {
    setLayout(next);
    void api('PUT', '/api/dashboard', next).catch((e) => setStatus((e as Error).message));
  };
  const byDevice = new Map(devices.map((d) => [d.id, d]));
  const areaOf = (e: Entity) => e.area ?? (e.deviceId ? byDevice.get(e.deviceId)?.area : undefined) ?? UNASSIGNED;
  const rank = (id: string) => {
    const i = layout.order.indexOf(id);
    return i === -1 ? Number.MAX_SAFE_INTEGER : i;
  };
  const shown = entities
    .filter((e) => !e.category && (editing || !layout.hidden.includes(e.id)))
    .sort((a, b) => rank(a.id) - rank(b.id) || a.name.localeCompare(b.name));
  const areas = [...new Set(shown.map(areaOf))].sort((a, b) =>
    a === UNASSIGNED ? 1 : b === UNASSIGNED ? -1 : a.localeCompare(b),
  );
  const knownAreas = [
    ...new Set([...devices.map((d) => d.area), ...entities.map((e) => e.area)].filter((a): a is string => !!a)),
  ].sort();
  const move = (id: string, by: number) => {
    const order = shown.map((e) => e.id);
    const i = order.indexOf(id);
    const j = i + by;
    if (j < 0 || j >= order.length) return;
    [order[i], order[j]] = [order[j]!, order[i]!];
    save({ ...layout, order });
  };
  /** A device's room (all its tiles move); an entity without a device gets its own. */
  const setArea = async (e: Entity, area: string) => {
    const path =
      e.deviceId && !e.area
        ? `/api/devices/${encodeURIComponent(e.deviceId)}/area`
        : `/api/entities/${encodeURIComponent(e.id)}/area`;
    await api('PUT', path, { area: area || null }).catch((err) => setStatus((err as Error).message));
    await refresh();
  };
  return (
    <section class="home">
      <div class="home-bar">
        <p class="status" role="status">
          {status}
        </p>
        {entities.length > 0 && (
          <button class={editing ? 'primary' : ''} onClick={() => setEditing(!editing)}>
            {editing ? 'Done' : 'Edit'}
          </button>
        )}
      </div>
      <datalist id="areas">
        {knownAreas.map((a) => (
          <option value={a} />
        ))}
      </datalist>
      {areas.map((area) => (
        <section class="area" data-area={area}>
          <h2>{area}</h2>
          <div class="tiles">
            {shown
              .filter((e) => areaOf(e) === area)
              .map((e) => (
                <Tile
                  e={e}
                  call={call}
                  pending={pending[e.id]}
                  spark={sparks[e.id]}
                  editing={editing}
                  hidden={layout.hidden.includes(e.id)}
                  device={e.deviceId ? byDevice.get(e.deviceId) : undefined}
                  areas={knownAreas}
                  onHide={() =>
                    save({
                      ...layout,
                      hidden: layout.hidden.includes(e.id)
                        ? layout.hidden.filter((x) => x !== e.id)
                        : [...layout.hidden, e.id],
                    })
                  }
                  onMove={(by) => move(e.id, by)}
                  onArea={(a) => void setArea(e, a)}
                />
              ))}
          </div>
        </section>
      ))}
      {entities.length === 0 && (
        <p class="empty">
          Nothing here yet. Turn on Zigbee2MQTT, Home Assistant discovery (ESPHome, Shelly, ...) or Tasmota in
          smart-home.yaml, and your devices appear here by themselves.
        </p>
      )}
    </section>
  );
}
