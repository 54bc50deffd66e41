// Zigbee2MQTT `definition.exposes` -> one entity per feature and endpoint. The expose shapes are
// zigbee-herdsman-converters' (src/lib/exposes.ts: Light, Switch, Cover, Lock, Fan, Climate as
// composites of Binary/Numeric/Enum features; `withEndpoint` suffixes each property with
// `_<endpoint>`; `access` bits 1 = published, 2 = settable, 4 = gettable; `category` config or
// diagnostic). Each entity reads its part of the device's JSON state and writes its action as
// the device's `/set` payload.

export interface Feature {
  type?: string;
  name?: string;
  label?: string;
  property?: string;
  endpoint?: string;
  access?: number;
  category?: 'config' | 'diagnostic';
  features?: Feature[];
  value_on?: unknown;
  value_off?: unknown;
  value_toggle?: unknown;
  value_min?: number;
  value_max?: number;
  value_step?: number;
  unit?: string;
  values?: unknown[];
}

export const PUBLISHED = 0b001;
export const SETTABLE = 0b010;
export const GETTABLE = 0b100;

type Payload = Record<string, unknown>;

/** One entity of a device, as its exposes describe it. */
export interface FeatureEntity {
  /** Unique within the device: the composite's type (+ endpoint) or the feature's property. */
  key: string;
  domain: string;
  /** Added to the device's name for the entity's id and name; none for the device's main control. */
  suffix?: string;
  category?: 'config' | 'diagnostic';
  /** What the device says about it, fixed: unit, device class, ranges, choices. */
  attributes: Payload;
  actions: string[];
  /** The properties of the device's state it reads (a message without any of them is not for it). */
  reads: string[];
  /** Its state and attributes from the device's JSON state. */
  read(payload: Payload): { state: unknown; attributes: Payload };
  /** The `/set` payload for a domain action (params already validated against its ranges). */
  write(action: string, params: Payload): Payload;
  /** A property `/get` can ask for, when the device answers gets. */
  gettable?: string;
  /** Its state is a number: anything else from the device is refused and the last good value kept. */
  numeric?: boolean;
}

const on = (v: unknown, f?: Feature) =>
  v === (f?.value_on ?? 'ON') ? 'on' : v === (f?.value_off ?? 'OFF') ? 'off' : null;
const find = (fs: Feature[] | undefined, name: string) => fs?.find((f) => f.name === name);
const has = (p: Payload, ...keys: (string | undefined)[]) => keys.some((k) => k !== undefined && k in p);
const title = (s: string) => s.replace(/_/g, ' ').replace(/^\w/, (c) => c.toUpperCase());

const DEVICE_CLASS: Record<string, { device_class?: string; state_class?: string; category?: 'diagnostic' }> = {
  temperature: { device_class: 'temperature', state_class: 'measurement' },
  local_temperature: { device_class: 'temperature', state_class: 'measurement' },
  device_temperature: { device_class: 'temperature', state_class: 'measurement' },
  humidity: { device_class: 'humidity', state_class: 'measurement' },
  pressure: { device_class: 'pressure', state_class: 'measurement' },
  power: { device_class: 'power', state_class: 'measurement' },
  energy: { device_class: 'energy', state_class: 'total_increasing' },
  voltage: { device_class: 'voltage', state_class: 'measurement' },
  current: { device_class: 'current', state_class: 'measurement' },
  battery: { device_class: 'battery', state_class: 'measurement', category: 'diagnostic' },
  illuminance: { device_class: 'illuminance', state_class: 'measurement' },
  co2: { device_class: 'carbon_dioxide', state_class: 'measurement' },
  linkquality: { state_class: 'measurement', category: 'diagnostic' },
};
const BINARY_CLASS: Record<string, string> = {
  contact: 'door',
  occupancy: 'motion',
  presence: 'occupancy',
  water_leak: 'moisture',
  smoke: 'smoke',
  battery_low: 'battery',
  tamper: 'tamper',
  vibration: 'vibration',
  gas: 'gas',
  carbon_monoxide: 'carbon_monoxide',
};

const scale = (v: unknown, from: number, to: number) => (typeof v === 'number' ? Math.round((v * to) / from) : v);

function light(f: Feature): FeatureEntity {
  const state = find(f.features, 'state');
  const bri = find(f.features, 'brightness');
  const ct = find(f.features, 'color_temp');
  const colors = (f.features ?? []).filter((x) => x.name === 'color_xy' || x.name === 'color_hs');
  const modes = [...(ct ? ['color_temp'] : []), ...colors.map((c) => (c.name === 'color_xy' ? 'xy' : 'hs'))];
  const sp = state?.property ?? 'state';
  return {
    key: f.endpoint ? `light_${f.endpoint}` : 'light',
    domain: 'light',
    suffix: f.endpoint,
    attributes: {
      supported_color_modes: modes.length ? modes : bri ? ['brightness'] : ['onoff'],
      ...(ct ? { min_mireds: ct.value_min, max_mireds: ct.value_max } : {}),
    },
    actions: ['turn_on', 'turn_off', 'toggle'],
    reads: [sp, bri?.property, ct?.property, colors[0]?.property].filter((x): x is string => !!x),
    read: (p) => ({
      state: has(p, sp) ? (on(p[sp], state) ?? 'off') : undefined,
      attributes: {
        ...(bri?.property && has(p, bri.property) ? { brightness: scale(p[bri.property], 254, 255) } : {}),
        ...(ct?.property && has(p, ct.property) ? { color_temp: p[ct.property] } : {}),
        ...(colors[0]?.property && has(p, colors[0].property) ? { color: p[colors[0].property] } : {}),
        ...(has(p, 'color_mode') ? { color_mode: p.color_mode } : {}),
      },
    }),
    write: (action, params) => {
      if (action === 'toggle') return { [sp]: state?.value_toggle ?? 'TOGGLE' };
      const out: Payload = { [sp]: action === 'turn_on' ? (state?.value_on ?? 'ON') : (state?.value_off ?? 'OFF') };
      if (params.brightness !== undefined && bri?.property)
        out[bri.property] = scale(params.brightness, 255, bri.value_max ?? 254);
      if (params.color_temp !== undefined && ct?.property) out[ct.property] = params.color_temp;
      if (params.color !== undefined && colors[0]?.property) out[colors[0].property] = params.color;
      if (params.transition !== undefined) out.transition = params.transition;
      return out;
    },
    gettable: state && (state.access ?? 0) & GETTABLE ? sp : undefined,
  };
}

function onOffSwitch(f: Feature, state: Feature | undefined, key: string, suffix?: string): FeatureEntity {
  const sp = state?.property ?? 'state';
  const toggle = state?.value_toggle;
  return {
    key,
    domain: 'switch',
    suffix,
    category: f.category,
    attributes: {},
    actions: ['turn_on', 'turn_off', 'toggle'],
    reads: [sp],
    read: (p) => ({ state: has(p, sp) ? on(p[sp], state) : undefined, attributes: {} }),
    write: (action, _params) => ({
      // a binary without a toggle value (e.g. child_lock) toggles on the host's side
      [sp]:
        action === 'turn_on'
          ? (state?.value_on ?? 'ON')
          : action === 'turn_off'
            ? (state?.value_off ?? 'OFF')
            : (toggle ?? state?.value_on ?? 'TOGGLE'),
    }),
    gettable: state && (state.access ?? 0) & GETTABLE ? sp : undefined,
  };
}

function cover(f: Feature): FeatureEntity {
  const position = find(f.features, 'position');
  const tilt = find(f.features, 'tilt');
  const sp = find(f.features, 'state')?.property ?? 'state';
  const actions = ['open', 'close', 'stop', ...(position ? ['set_position'] : []), ...(tilt ? ['set_tilt'] : [])];
  return {
    key: f.endpoint ? `cover_${f.endpoint}` : 'cover',
    domain: 'cover',
    suffix: f.endpoint,
    attributes: {},
    actions,
    reads: [sp, position?.property, tilt?.property, 'moving'].filter((x): x is string => !!x),
    read: (p) => {
      const pos = position?.property ? p[position.property] : undefined;
      const moving = p.moving === 'UP' ? 'opening' : p.moving === 'DOWN' ? 'closing' : undefined;
      const state =
        moving ??
        (typeof pos === 'number'
          ? pos > 0
            ? 'open'
            : 'closed'
          : p[sp] === 'OPEN'
            ? 'open'
            : p[sp] === 'CLOSE'
              ? 'closed'
              : has(p, sp)
                ? 'stopped'
                : undefined);
      return {
        state,
        attributes: {
          ...(typeof pos === 'number' ? { position: pos } : {}),
          ...(tilt?.property && typeof p[tilt.property] === 'number' ? { tilt: p[tilt.property] } : {}),
        },
      };
    },
    write: (action, params) =>
      action === 'set_position'
        ? { [position?.property ?? 'position']: params.position }
        : action === 'set_tilt'
          ? { [tilt?.property ?? 'tilt']: params.tilt }
          : { [sp]: action === 'open' ? 'OPEN' : action === 'close' ? 'CLOSE' : 'STOP' },
  };
}

function lock(f: Feature): FeatureEntity {
  const state = find(f.features, 'state');
  const lockState = find(f.features, 'lock_state');
  const sp = state?.property ?? 'state';
  return {
    key: f.endpoint ? `lock_${f.endpoint}` : 'lock',
    domain: 'lock',
    suffix: f.endpoint,
    attributes: {},
    actions: ['lock', 'unlock'],
    reads: [sp, lockState?.property].filter((x): x is string => !!x),
    read: (p) => {
      const ls = lockState?.property ? p[lockState.property] : undefined;
      const s =
        ls === 'locked' || ls === 'unlocked'
          ? ls
          : has(p, sp)
            ? on(p[sp], state) === 'on'
              ? 'locked'
              : 'unlocked'
            : undefined;
      return { state: s, attributes: {} };
    },
    write: (action) => ({ [sp]: action === 'lock' ? (state?.value_on ?? 'LOCK') : (state?.value_off ?? 'UNLOCK') }),
  };
}

const SETPOINTS = ['occupied_heating_setpoint', 'current_heating_setpoint', 'occupied_cooling_setpoint'];
const ACTION_OF: Record<string, string> = { heat: 'heating', cool: 'cooling', idle: 'idle', fan_only: 'fan' };

function climate(f: Feature): FeatureEntity {
  const setpoint = SETPOINTS.map((n) => find(f.features, n)).find((x) => x && (x.access ?? 0) & SETTABLE);
  const local = find(f.features, 'local_temperature');
  const mode = find(f.features, 'system_mode');
  const preset = find(f.features, 'preset');
  const running = find(f.features, 'running_state');
  const prop = (x?: Feature) => x?.property;
  return {
    key: f.endpoint ? `climate_${f.endpoint}` : 'climate',
    domain: 'climate',
    suffix: f.endpoint,
    attributes: {
      ...(setpoint
        ? { min_temp: setpoint.value_min, max_temp: setpoint.value_max, target_temp_step: setpoint.value_step }
        : {}),
      hvac_modes: mode?.values ?? ['heat'],
      ...(preset ? { preset_modes: preset.values } : {}),
    },
    actions: [
      ...(setpoint ? ['set_temperature'] : []),
      ...(mode && (mode.access ?? 0) & SETTABLE ? ['set_hvac_mode'] : []),
      ...(preset ? ['set_preset_mode'] : []),
    ],
    reads: [setpoint, local, mode, preset, running].map(prop).filter((x): x is string => !!x),
    read: (p) => {
      const a: Payload = {};
      if (setpoint?.property && has(p, setpoint.property)) a.temperature = p[setpoint.property];
      if (local?.property && has(p, local.property)) a.current_temperature = p[local.property];
      if (preset?.property && has(p, preset.property)) a.preset_mode = p[preset.property];
      if (running?.property && has(p, running.property))
        a.hvac_action = ACTION_OF[p[running.property] as string] ?? p[running.property];
      const m = mode?.property ? p[mode.property] : undefined;
      return { state: typeof m === 'string' ? m : mode ? undefined : 'heat', attributes: a };
    },
    write: (action, params) =>
      action === 'set_temperature'
        ? { [setpoint?.property ?? 'occupied_heating_setpoint']: params.temperature }
        : action === 'set_hvac_mode'
          ? { [mode?.property ?? 'system_mode']: params.hvac_mode }
          : { [preset?.property ?? 'preset']: params.preset_mode },
    gettable: setpoint && (setpoint.access ?? 0) & GETTABLE ? setpoint.property : undefined,
  };
}

function fan(f: Feature): FeatureEntity {
  const state = find(f.features, 'state');
  const mode = find(f.features, 'mode');
  const speed = find(f.features, 'speed');
  const sp = state?.property ?? 'fan_state';
  const max = speed?.value_max ?? 254;
  return {
    key: f.endpoint ? `fan_${f.endpoint}` : 'fan',
    domain: 'fan',
    suffix: f.endpoint,
    attributes: mode ? { preset_modes: mode.values } : {},
    actions: [
      'turn_on',
      'turn_off',
      'toggle',
      ...(speed ? ['set_percentage'] : []),
      ...(mode ? ['set_preset_mode'] : []),
    ],
    reads: [sp, mode?.property, speed?.property].filter((x): x is string => !!x),
    read: (p) => ({
      state: has(p, sp) ? on(p[sp], state) : undefined,
      attributes: {
        ...(mode?.property && has(p, mode.property) ? { preset_mode: p[mode.property] } : {}),
        ...(speed?.property && typeof p[speed.property] === 'number'
          ? { percentage: Math.round(((p[speed.property] as number) * 100) / max) }
          : {}),
      },
    }),
    write: (action, params) =>
      action === 'set_percentage'
        ? { [speed?.property ?? 'speed']: Math.round(((params.percentage as number) * max) / 100) }
        : action === 'set_preset_mode'
          ? { [mode?.property ?? 'fan_mode']: params.preset_mode }
          : { [sp]: action === 'turn_on' ? 'ON' : action === 'turn_off' ? 'OFF' : 'TOGGLE' },
  };
}

function scalar(f: Feature): FeatureEntity | undefined {
  const p = f.property;
  if (!p) return undefined;
  const settable = ((f.access ?? 0) & SETTABLE) !== 0;
  const published = ((f.access ?? PUBLISHED) & PUBLISHED) !== 0;
  const base = {
    key: p,
    suffix: p,
    category: f.category,
    reads: [p],
    gettable: (f.access ?? 0) & GETTABLE ? p : undefined,
  };
  const same = (v: unknown) => ({ state: v ?? null, attributes: {} });
  if (f.type === 'numeric') {
    const cls = DEVICE_CLASS[f.name ?? ''] ?? {};
    const unit = f.unit ?? (f.name === 'linkquality' ? 'lqi' : undefined);
    if (settable)
      return {
        ...base,
        domain: 'number',
        numeric: true,
        attributes: { min: f.value_min, max: f.value_max, step: f.value_step ?? 1, unit_of_measurement: unit },
        actions: ['set_value'],
        read: (x) => same(x[p]),
        write: (_a, params) => ({ [p]: params.value }),
      };
    return {
      ...base,
      domain: 'sensor',
      numeric: true,
      category: f.category ?? cls.category,
      attributes: { unit_of_measurement: unit, device_class: cls.device_class, state_class: cls.state_class },
      actions: [],
      read: (x) => same(x[p]),
      write: () => ({}),
    };
  }
  if (f.type === 'binary') {
    if (settable) return onOffSwitch(f, f, p, p);
    return {
      ...base,
      domain: 'binary_sensor',
      attributes: { device_class: BINARY_CLASS[f.name ?? ''] },
      actions: [],
      read: (x) => same(on(x[p], f)),
      write: () => ({}),
    };
  }
  if (f.type === 'enum') {
    if (f.name === 'action')
      // a remote's presses: events, never a state to keep
      return {
        ...base,
        domain: 'event',
        category: undefined,
        attributes: { event_types: f.values ?? [] },
        actions: [],
        read: (x) => ({ state: new Date().toISOString(), attributes: { event_type: x[p] } }),
        write: () => ({}),
      };
    if (settable)
      return {
        ...base,
        domain: 'select',
        attributes: { options: f.values ?? [], ...(published ? {} : { optimistic: true }) },
        actions: ['select_option'],
        read: (x) => same(x[p]),
        write: (_a, params) => ({ [p]: params.option }),
      };
    return {
      ...base,
      domain: 'sensor',
      attributes: { device_class: 'enum', options: f.values ?? [] },
      actions: [],
      read: (x) => same(x[p]),
      write: () => ({}),
    };
  }
  if (f.type === 'text' && !settable)
    return { ...base, domain: 'sensor', attributes: {}, actions: [], read: (x) => same(x[p]), write: () => ({}) };
  return undefined; // composites and lists (schedules, level_config): in the device's raw description
}

/** The entities of a device; a control without an endpoint (no suffix) is the device itself: light.kitchen_lamp. */
export function entitiesOf(exposes: Feature[] = []): FeatureEntity[] {
  const out: FeatureEntity[] = [];
  for (const f of exposes) {
    let e: FeatureEntity | undefined;
    if (f.type === 'light') e = light(f);
    else if (f.type === 'switch')
      e = onOffSwitch(f, find(f.features, 'state'), f.endpoint ? `switch_${f.endpoint}` : 'switch', f.endpoint);
    else if (f.type === 'cover') e = cover(f);
    else if (f.type === 'lock') e = lock(f);
    else if (f.type === 'climate') e = climate(f);
    else if (f.type === 'fan') e = fan(f);
    else e = scalar(f);
    if (e && !out.some((x) => x.key === e.key)) out.push(e);
  }
  return out;
}

export const featureName = (deviceName: string, e: FeatureEntity) =>
  e.suffix ? `${deviceName} ${title(e.suffix)}` : deviceName;
