// One entity as people read and operate it: its state in words and units, and the controls of
// its domain (a toggle, a brightness slider, open/stop/close, target temperature −/+ ...), in the
// device's own ranges. Every control calls the entity's action and shows it pending until the
// device confirms, then the confirmed state, or the error.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, live } from '../api.js';

export interface Entity {
  id: string;
  name: string;
  domain: string;
  state: unknown;
  lastChanged?: number;
  lastUpdated?: number;
  available: boolean;
  actions: string[];
  script?: string;
  deviceId?: string;
  source?: string;
  area?: string;
  category?: 'config' | 'diagnostic';
  attributes: Record<string, unknown>;
  /** What the config declares (e154's named states, metrics), when it does. */
  declared?: {
    states: { name: string; description?: string; icon?: string }[];
    metrics: {
      name: string;
      description?: string;
      unit?: string;
      items: { name: string; description?: string; color?: string }[];
    }[];
  };
}

/**
 * A live event applied to the entities a page shows: a state, attributes or availability change
 * patches the one entity; anything else (added, removed, redefined) returns undefined: load again.
 */
export function applyLive(entities: Entity[], data: Record<string, unknown>): Entity[] | undefined {
  const id = data.entityId;
  const i = entities.findIndex((e) => e.id === id);
  if (i === -1) return undefined;
  const e = entities[i]!;
  let next: Entity;
  if ('newState' in data)
    next = {
      ...e,
      state: data.newState,
      attributes: data.attributes as Entity['attributes'],
      lastChanged: data.time as number,
    };
  else if ('attributes' in data && 'time' in data) next = { ...e, attributes: data.attributes as Entity['attributes'] };
  else if ('available' in data) next = { ...e, available: data.available === true };
  else return undefined;
  const out = [...entities];
  out[i] = next;
  return out;
}

/** A device as the pages show it (GET /api/devices). */
export interface Device {
  id: string;
  name: string;
  integration: string;
  manufacturer?: string;
  model?: string;
  swVersion?: string;
  via?: string;
  area?: string;
  available: boolean;
  entities: string[];
  discovery?: unknown;
}

/**
 * The entities a page shows, kept live: a change to one entity patches it (its tile changes at
 * once), anything else calls `reload`. `load()` fetches the list; an answer older than one already
 * shown is dropped, and the live changes that came while it was on its way are applied to it again,
 * so a slow answer never puts back a state the page has already moved past.
 */
export function useLiveEntities(reload: () => void): [Entity[], () => Promise<void>] {
  const [entities, setState] = useState<Entity[]>([]);
  const shown = useRef<Entity[]>([]);
  const reloading = useRef(reload);
  reloading.current = reload;
  // live changes by number, kept while a load is on its way (at most MAX_REPLAY of them)
  const sync = useRef({ received: 0, issued: 0, applied: 0, inflight: [] as number[], log: [] as LoggedEvent[] });
  const set = (list: Entity[]) => {
    shown.current = list;
    setState(list);
  };
  useEffect(
    () =>
      live(
        ['entities'],
        (ev) => {
          const s = sync.current;
          const data = ev.data as Record<string, unknown>;
          s.received++;
          if (s.inflight.length > 0) {
            s.log.push({ n: s.received, data });
            if (s.log.length > MAX_REPLAY) s.log.shift();
          }
          const next = applyLive(shown.current, data);
          if (next) set(next);
          else reloading.current();
        },
        '#',
        // subscribed (again): what changed before was not sent, the list is loaded once more
        () => reloading.current(),
      ),
    [],
  );
  const load = async () => {
    const s = sync.current;
    const mine = ++s.issued;
    const from = s.received;
    s.inflight.push(from);
    try {
      const list = await api<Entity[]>('GET', '/api/entities');
      if (mine < s.applied) return; // a newer answer is on the page already
      s.applied = mine;
      let next = list;
      for (const e of s.log) if (e.n > from) next = applyLive(next, e.data) ?? next;
      set(next);
    } finally {
      s.inflight.splice(s.inflight.indexOf(from), 1);
      const oldest = Math.min(...s.inflight);
      s.log = s.log.filter((e) => e.n > oldest);
    }
  };
  return [entities, load];
}

interface LoggedEvent {
  n: number;
  data: Record<string, unknown>;
}
const MAX_REPLAY = 1000;

export type Call = (e: Entity, action: string, params?: Record<string, unknown>) => Promise<void>;
export type Pending = Record<string, { waiting: true } | { error: string }>;

/**
 * Calling entity actions from a page: each entity is pending until its device confirms, then
 * cleared, or holds the error; `said` gets a line for the page's status.
 */
export function useActions(said: (line: string) => void): { pending: Pending; call: Call } {
  const [pending, setPending] = useState<Pending>({});
  const call: Call = async (e, action, params = {}) => {
    setPending((p) => ({ ...p, [e.id]: { waiting: true } }));
    try {
      await api('POST', `/api/entities/${encodeURIComponent(e.id)}/actions/${encodeURIComponent(action)}`, { params });
      setPending(({ [e.id]: _, ...rest }) => rest);
      said(`${e.id}: ${action} done`);
    } catch (err) {
      setPending((p) => ({ ...p, [e.id]: { error: (err as Error).message } }));
      said(`${e.id}: ${action} failed: ${(err as Error).message}`);
    }
  };
  return { pending, call };
}

const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
const fmt = (n: number) => n.toLocaleString(undefined, { maximumFractionDigits: 2 });

const BINARY_WORDS: Record<string, [string, string]> = {
  door: ['Open', 'Closed'],
  window: ['Open', 'Closed'],
  opening: ['Open', 'Closed'],
  garage_door: ['Open', 'Closed'],
  motion: ['Motion', 'Clear'],
  occupancy: ['Occupied', 'Clear'],
  presence: ['Home', 'Away'],
  moisture: ['Wet', 'Dry'],
  smoke: ['Smoke', 'Clear'],
  gas: ['Gas', 'Clear'],
  carbon_monoxide: ['CO detected', 'Clear'],
  battery: ['Low', 'Normal'],
  tamper: ['Tampered', 'OK'],
  vibration: ['Vibration', 'Still'],
  lock: ['Unlocked', 'Locked'],
  plug: ['Plugged in', 'Unplugged'],
};

export function ago(t: number | undefined): string {
  if (!t) return '';
  const s = Math.round((Date.now() - t) / 1000);
  if (s < 60) return 'just now';
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return new Date(t).toLocaleDateString();
}

/** The state in words: "21.5 °C", "Open", "On · 50 %", "18.5 °C → 21 °C". */
export function describe(e: Entity): string {
  const a = e.attributes;
  const unit = str(a.unit_of_measurement);
  if (e.state === null || e.state === undefined) return e.domain === 'button' || e.domain === 'scene' ? '' : '—';
  // a named state (the config's states:) reads as its description
  const named = e.declared?.states.find((s) => s.name === String(e.state));
  if (named) return named.description || named.name;
  switch (e.domain) {
    case 'sensor':
    case 'number': {
      const n = num(e.state);
      return n === undefined ? String(e.state) : `${fmt(n)}${unit ? ` ${unit}` : ''}`;
    }
    case 'binary_sensor': {
      const [on, off] = BINARY_WORDS[str(a.device_class) ?? ''] ?? ['On', 'Off'];
      return e.state === 'on' ? on : off;
    }
    case 'light': {
      const b = num(a.brightness);
      return e.state === 'on' ? `On${b !== undefined ? ` · ${Math.round((b * 100) / 255)} %` : ''}` : 'Off';
    }
    case 'switch':
    case 'fan':
      return e.state === 'on' ? 'On' : 'Off';
    case 'cover': {
      const p = num(a.position);
      const word = String(e.state).replace(/^\w/, (c) => c.toUpperCase());
      return p !== undefined && e.state !== 'closed' ? `${word} ${p} %` : word;
    }
    case 'climate': {
      const cur = num(a.current_temperature);
      const target = num(a.temperature);
      const parts = [
        cur !== undefined ? `${fmt(cur)} °C` : undefined,
        target !== undefined ? `→ ${fmt(target)} °C` : undefined,
      ];
      return [parts.filter(Boolean).join(' '), String(e.state)].filter(Boolean).join(' · ');
    }
    case 'event':
      return `${str(a.event_type) ?? 'event'} · ${ago(Date.parse(String(e.state)))}`;
    case 'button':
      return `pressed ${ago(Date.parse(String(e.state)))}`;
    case 'lock':
    case 'select':
    case 'update':
      return e.domain === 'update'
        ? e.state === 'on'
          ? `Update to ${String(a.latest_version ?? '')}`
          : 'Up to date'
        : String(e.state);
    default:
      return typeof e.state === 'object' ? JSON.stringify(e.state) : String(e.state);
  }
}

/** A slider that calls its action when let go (not on every step). */
function Slider(props: {
  label: string;
  min: number;
  max: number;
  step?: number;
  value: number;
  disabled: boolean;
  onSet: (v: number) => void;
  unit?: string;
  show?: (v: number) => string;
}) {
  const [v, setV] = useState<number | undefined>(undefined);
  const shown = v ?? props.value;
  return (
    <label class="slider">
      <span class="slider-label">{props.label.split(' of ')[0]}</span>
      <input
        type="range"
        aria-label={props.label}
        min={props.min}
        max={props.max}
        step={props.step ?? 1}
        value={shown}
        disabled={props.disabled}
        onInput={(ev) => setV(Number((ev.target as HTMLInputElement).value))}
        onChange={(ev) => {
          const n = Number((ev.target as HTMLInputElement).value);
          setV(undefined);
          props.onSet(n);
        }}
      />
      <span class="slider-value">{props.show ? props.show(shown) : `${fmt(shown)}${props.unit ?? ''}`}</span>
    </label>
  );
}

/**
 * The controls of an entity's domain; entities run by a script get a button per action.
 * `main` is what sits beside the name (a toggle, buttons); `extra` the sliders under it.
 */
export function Controls({ e, call, busy, part }: { e: Entity; call: Call; busy: boolean; part: 'main' | 'extra' }) {
  const main = part === 'main';
  const off = busy || !e.available;
  const a = e.attributes;
  const has = (action: string) => e.actions.includes(action);
  const name = e.name;
  const toggle = (
    <button
      class={`toggle ${e.state === 'on' ? 'on' : ''}`}
      aria-pressed={e.state === 'on'}
      aria-label={`${name}: turn ${e.state === 'on' ? 'off' : 'on'}`}
      disabled={off}
      onClick={() => void call(e, e.state === 'on' ? 'turn_off' : 'turn_on')}
    >
      {e.state === 'on' ? 'On' : 'Off'}
    </button>
  );
  if (
    e.script ||
    !['light', 'switch', 'fan', 'cover', 'climate', 'lock', 'number', 'select', 'button', 'update'].includes(e.domain)
  ) {
    if (!main) return null;
    return (
      <span class="buttons">
        {e.actions.map((action) => (
          <button disabled={off} onClick={() => void call(e, action)}>
            {e.domain === 'scene' && action === 'activate' ? 'Activate' : action}
          </button>
        ))}
      </span>
    );
  }
  switch (e.domain) {
    case 'switch':
      return main ? toggle : null;
    case 'light': {
      if (main) return toggle;
      const modes = (a.supported_color_modes as string[] | undefined) ?? [];
      const min = num(a.min_mireds);
      const max = num(a.max_mireds);
      return (
        <span class="controls">
          {modes.some((m) => m !== 'onoff') && (
            <Slider
              label={`Brightness of ${name}`}
              min={0}
              max={255}
              value={num(a.brightness) ?? 0}
              disabled={off}
              show={(b) => `${Math.round((b * 100) / 255)} %`}
              onSet={(b) => void call(e, 'turn_on', { brightness: b })}
            />
          )}
          {modes.includes('color_temp') && min !== undefined && max !== undefined && (
            <Slider
              label={`Colour temperature of ${name}`}
              min={min}
              max={max}
              value={num(a.color_temp) ?? min}
              disabled={off}
              unit=" mired"
              onSet={(ct) => void call(e, 'turn_on', { color_temp: ct })}
            />
          )}
        </span>
      );
    }
    case 'fan':
      if (main) return toggle;
      return (
        <span class="controls">
          {has('set_percentage') && (
            <Slider
              label={`Speed of ${name}`}
              min={0}
              max={100}
              value={num(a.percentage) ?? 0}
              unit=" %"
              disabled={off}
              onSet={(p) => void call(e, 'set_percentage', { percentage: p })}
            />
          )}
        </span>
      );
    case 'cover':
      if (!main)
        return has('set_position') ? (
          <Slider
            label={`Position of ${name}`}
            min={0}
            max={100}
            unit=" %"
            value={num(a.position) ?? 0}
            disabled={off}
            onSet={(p) => void call(e, 'set_position', { position: p })}
          />
        ) : null;
      return (
        <span class="controls">
          {has('open') && (
            <span class="buttons">
              <button disabled={off} aria-label={`Open ${name}`} onClick={() => void call(e, 'open')}>
                Open
              </button>
              <button disabled={off} aria-label={`Stop ${name}`} onClick={() => void call(e, 'stop')}>
                Stop
              </button>
              <button disabled={off} aria-label={`Close ${name}`} onClick={() => void call(e, 'close')}>
                Close
              </button>
            </span>
          )}
        </span>
      );
    case 'climate': {
      const step = num(a.target_temp_step) ?? 0.5;
      const target = num(a.temperature);
      const lo = num(a.min_temp);
      const hi = num(a.max_temp);
      const modes = (a.hvac_modes as string[] | undefined) ?? [];
      const set = (t: number) => void call(e, 'set_temperature', { temperature: Math.round(t / step) * step });
      if (!main) return null;
      return (
        <span class="controls">
          {has('set_temperature') && (
            <span class="stepper">
              <button
                disabled={off || target === undefined || (lo !== undefined && target - step < lo)}
                aria-label={`Lower the target of ${name}`}
                onClick={() => set(target! - step)}
              >
                −
              </button>
              <span class="target">{target !== undefined ? `${fmt(target)} °C` : '—'}</span>
              <button
                disabled={off || target === undefined || (hi !== undefined && target + step > hi)}
                aria-label={`Raise the target of ${name}`}
                onClick={() => set(target! + step)}
              >
                +
              </button>
            </span>
          )}
          {has('set_hvac_mode') && (
            <select
              aria-label={`Mode of ${name}`}
              disabled={off}
              value={String(e.state)}
              onChange={(ev) => void call(e, 'set_hvac_mode', { hvac_mode: (ev.target as HTMLSelectElement).value })}
            >
              {modes.map((m) => (
                <option value={m}>{m}</option>
              ))}
            </select>
          )}
        </span>
      );
    }
    case 'lock':
      if (!main) return null;
      return (
        <span class="buttons">
          <button disabled={off || e.state === 'locked'} onClick={() => void call(e, 'lock')}>
            Lock
          </button>
          <button disabled={off || e.state === 'unlocked'} onClick={() => void call(e, 'unlock')}>
            Unlock
          </button>
        </span>
      );
    case 'number': {
      const min = num(a.min) ?? 0;
      const max = num(a.max) ?? 100;
      if (main) return null;
      return (
        <Slider
          label={`${name}`}
          min={min}
          max={max}
          step={num(a.step) ?? 1}
          value={num(e.state) ?? min}
          unit={str(a.unit_of_measurement) ? ` ${str(a.unit_of_measurement)}` : ''}
          disabled={off}
          onSet={(v) => void call(e, 'set_value', { value: v })}
        />
      );
    }
    case 'select': {
      const options = (a.options as unknown[] | undefined) ?? [];
      if (!main) return null;
      return (
        <select
          aria-label={name}
          disabled={off}
          value={String(e.state ?? '')}
          onChange={(ev) => {
            const v = (ev.target as HTMLSelectElement).value;
            void call(e, 'select_option', { option: options.find((o) => String(o) === v) ?? v });
          }}
        >
          {e.state === null && <option value="">—</option>}
          {options.map((o) => (
            <option value={String(o)}>{String(o)}</option>
          ))}
        </select>
      );
    }
    case 'button':
      if (!main) return null;
      return (
        <button disabled={off} onClick={() => void call(e, 'press')}>
          Press
        </button>
      );
    case 'update':
      return main && e.state === 'on' && has('install') ? (
        <button disabled={off} onClick={() => void call(e, 'install')}>
          Install
        </button>
      ) : null;
    default:
      return null;
  }
}
