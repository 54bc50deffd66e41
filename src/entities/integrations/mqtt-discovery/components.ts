// Home Assistant MQTT discovery components -> entities: which topics each one reads, how a
// payload becomes the entity's state (homeassistant/components/mqtt/<component>.py defaults:
// payload_on "ON", state_open "open", brightness_scale 255, min 1 / max 100 for number, ...),
// and which payload on which topic each domain action sends.
import type { Entity } from '../../registry.js';
import { compileTemplate, payloadVars, TemplateUnsupported, type Template } from '../../../templates/jinja.js';

type Obj = Record<string, unknown>;
type Patch = { state?: unknown; attributes?: Obj };

export interface Listen {
  topic: string;
  /** The state patch a payload on `topic` means; throws for a payload it cannot use. */
  apply(payload: string, current: Entity, retained: boolean): Patch | undefined;
}

export interface Command {
  topic: string;
  payload: string;
}

export interface Binding {
  domain: string;
  attributes: Obj;
  actions: string[];
  /** No state topic: the hub cannot know, so actions resolve when sent and the state follows the command. */
  optimistic: boolean;
  listens: Listen[];
  command(action: string, params: Obj, current: Entity): { commands: Command[]; optimisticState?: Patch };
  /** Templates outside the subset: the entity shows them instead of guessing. */
  warnings: string[];
}

/** A config the hub cannot use: missing a required topic, wrong types. */
export class ConfigInvalid extends Error {
  override name = 'ConfigInvalid';
}

export const SUPPORTED = [
  'sensor',
  'binary_sensor',
  'switch',
  'light',
  'cover',
  'climate',
  'lock',
  'fan',
  'number',
  'select',
  'button',
  'event',
  'update',
] as const;

const NUMERIC_CLASSES = new Set([
  'temperature',
  'humidity',
  'pressure',
  'power',
  'energy',
  'voltage',
  'current',
  'battery',
  'illuminance',
  'signal_strength',
  'carbon_dioxide',
  'pm25',
  'pm10',
  'frequency',
  'power_factor',
  'apparent_power',
  'reactive_power',
  'distance',
  'duration',
  'weight',
  'volume',
  'gas',
  'water',
  'speed',
  'wind_speed',
  'precipitation',
  'irradiance',
  'moisture',
  'aqi',
  'volatile_organic_compounds',
]);

class Reader {
  readonly warnings: string[] = [];
  constructor(readonly c: Obj) {}
  str(key: string, fallback?: string): string | undefined {
    const v = this.c[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v === 'string') return v;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    throw new ConfigInvalid(`${key} must be a string`);
  }
  num(key: string, fallback?: number): number | undefined {
    const v = this.c[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v === 'number' && Number.isFinite(v)) return v;
    throw new ConfigInvalid(`${key} must be a number`);
  }
  topic(key: string, required = false): string | undefined {
    const t = this.str(key);
    if (t === undefined || t === '') {
      if (required) throw new ConfigInvalid(`it has no ${key}`);
      return undefined;
    }
    if (t.length > 1024 || /[#+\0]/.test(t))
      throw new ConfigInvalid(`${key} "${t.slice(0, 60)}" is not a topic to read or write`);
    return t;
  }
  list(key: string): string[] | undefined {
    const v = this.c[key];
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string'))
      throw new ConfigInvalid(`${key} must be a list of strings`);
    return v as string[];
  }
  /** A template, or null when it is outside the subset (then `warnings` says which and why). */
  tpl(key: string): Template | null | undefined {
    const src = this.str(key);
    if (src === undefined) return undefined;
    try {
      return compileTemplate(src);
    } catch (err) {
      if (!(err instanceof TemplateUnsupported)) throw err;
      this.warnings.push(`${key} is outside the template subset (${err.message}); its values are not used`);
      return null;
    }
  }
}

/** A value through its template (the payload itself without one); `skip` when the template is unsupported. */
const SKIP = Symbol('skip');
function value(t: Template | null | undefined, payload: string, extra: Obj = {}): unknown {
  if (t === null) return SKIP;
  if (!t) return payload;
  return t.render({ ...payloadVars(payload), ...extra });
}

function commandText(t: Template | null | undefined, v: unknown): string {
  if (!t) return typeof v === 'string' ? v : JSON.stringify(v);
  const r = t.render({ value: v });
  return typeof r === 'string' ? r : JSON.stringify(r);
}

function asNumber(v: unknown, what: string): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  if (!Number.isFinite(n)) throw new Error(`${what}: ${JSON.stringify(v)?.slice(0, 40)} is not a number`);
  return n;
}

const listen = (topic: string | undefined, apply: Listen['apply']): Listen[] => (topic ? [{ topic, apply }] : []);
const skip = (v: unknown) => v === SKIP;

function onOff(r: Reader, domain: 'switch' | 'fan', extra: Partial<Binding> = {}): Binding {
  const stateTopic = r.topic('state_topic');
  const cmd = r.topic('command_topic', true)!;
  const on = r.str('payload_on', 'ON')!;
  const off = r.str('payload_off', 'OFF')!;
  const stateOn = r.str('state_on', on)!;
  const stateOff = r.str('state_off', off)!;
  const t = r.tpl('value_template') ?? r.tpl('state_value_template');
  return {
    domain,
    attributes: {},
    actions: ['turn_on', 'turn_off', 'toggle'],
    optimistic: !stateTopic || r.c.optimistic === true,
    listens: listen(stateTopic, (p) => {
      const v = value(t, p);
      if (skip(v)) return undefined;
      const s = String(v);
      if (s === stateOn) return { state: 'on' };
      if (s === stateOff) return { state: 'off' };
      if (s === '' || s === 'None') return { state: null };
      throw new Error(`"${s.slice(0, 40)}" is neither ${JSON.stringify(stateOn)} nor ${JSON.stringify(stateOff)}`);
    }),
    command: (action, _p, e) => {
      const wantOn = action === 'turn_on' || (action === 'toggle' && e.state !== 'on');
      return {
        commands: [{ topic: cmd, payload: wantOn ? on : off }],
        optimisticState: { state: wantOn ? 'on' : 'off' },
      };
    },
    warnings: r.warnings,
    ...extra,
  };
}

function sensor(r: Reader): Binding {
  const stateTopic = r.topic('state_topic', true)!;
  const t = r.tpl('value_template');
  const unit = r.str('unit_of_measurement');
  const cls = r.str('device_class');
  const stateClass = r.str('state_class');
  const numeric = unit !== undefined || stateClass !== undefined || (cls !== undefined && NUMERIC_CLASSES.has(cls));
  return {
    domain: 'sensor',
    attributes: { unit_of_measurement: unit, device_class: cls, state_class: stateClass, options: r.list('options') },
    actions: [],
    optimistic: false,
    listens: listen(stateTopic, (p) => {
      const v = value(t, p);
      if (skip(v)) return undefined;
      // ESPHome publishes "nan" for a sensor without a value (mqtt_sensor.cpp): unknown, not an error
      if (v === '' || v === 'None' || v === 'unknown' || v === null || v === 'nan') return { state: null };
      return { state: numeric ? asNumber(v, 'a numeric sensor') : typeof v === 'string' ? v.slice(0, 255) : v };
    }),
    command: () => ({ commands: [] }),
    warnings: r.warnings,
  };
}

function binarySensor(r: Reader): Binding {
  const stateTopic = r.topic('state_topic', true)!;
  const t = r.tpl('value_template');
  const on = r.str('payload_on', 'ON')!;
  const off = r.str('payload_off', 'OFF')!;
  return {
    domain: 'binary_sensor',
    attributes: { device_class: r.str('device_class') },
    actions: [],
    optimistic: false,
    listens: listen(stateTopic, (p) => {
      const v = value(t, p);
      if (skip(v)) return undefined;
      const s = String(v);
      if (s === on) return { state: 'on' };
      if (s === off) return { state: 'off' };
      if (s === '' || s === 'None') return { state: null };
      throw new Error(`"${s.slice(0, 40)}" is neither ${JSON.stringify(on)} nor ${JSON.stringify(off)}`);
    }),
    command: () => ({ commands: [] }),
    warnings: r.warnings,
  };
}

const scaled = (v: number, from: number, to: number) => Math.round((v * to) / from);

function lightJson(r: Reader): Binding {
  const stateTopic = r.topic('state_topic');
  const cmd = r.topic('command_topic', true)!;
  const scale = r.num('brightness_scale', 255)!;
  const modes = r.list('supported_color_modes') ?? (r.c.brightness === true ? ['brightness'] : ['onoff']);
  return {
    domain: 'light',
    attributes: {
      supported_color_modes: modes,
      min_mireds: r.num('min_mireds', modes.includes('color_temp') ? 153 : undefined),
      max_mireds: r.num('max_mireds', modes.includes('color_temp') ? 500 : undefined),
      effect_list: r.list('effect_list'),
    },
    actions: ['turn_on', 'turn_off', 'toggle'],
    optimistic: !stateTopic || r.c.optimistic === true,
    listens: listen(stateTopic, (p) => {
      const j = JSON.parse(p) as Obj;
      if (typeof j !== 'object' || j === null) throw new Error('a JSON light state must be an object');
      const a: Obj = {};
      if (typeof j.brightness === 'number') a.brightness = scaled(j.brightness, scale, 255);
      if (typeof j.color_temp === 'number') a.color_temp = j.color_temp;
      if (j.color && typeof j.color === 'object') a.color = j.color;
      if (typeof j.color_mode === 'string') a.color_mode = j.color_mode;
      if (typeof j.effect === 'string') a.effect = j.effect;
      const state = j.state === 'ON' ? 'on' : j.state === 'OFF' ? 'off' : undefined;
      return { state, attributes: a };
    }),
    command: (action, params, e) => {
      const wantOn = action === 'turn_on' || (action === 'toggle' && e.state !== 'on');
      const out: Obj = { state: wantOn ? 'ON' : 'OFF' };
      if (wantOn && typeof params.brightness === 'number') out.brightness = scaled(params.brightness, 255, scale);
      if (wantOn && params.color_temp !== undefined) out.color_temp = params.color_temp;
      if (wantOn && params.color !== undefined) out.color = params.color;
      if (wantOn && params.effect !== undefined) out.effect = params.effect;
      if (params.transition !== undefined) out.transition = params.transition;
      return {
        commands: [{ topic: cmd, payload: JSON.stringify(out) }],
        optimisticState: {
          state: wantOn ? 'on' : 'off',
          attributes: typeof params.brightness === 'number' ? { brightness: params.brightness } : {},
        },
      };
    },
    warnings: r.warnings,
  };
}

function lightDefault(r: Reader): Binding {
  const base = onOff(r, 'switch');
  const briState = r.topic('brightness_state_topic');
  const briCmd = r.topic('brightness_command_topic');
  const briTpl = r.tpl('brightness_value_template');
  const briCmdTpl = r.tpl('brightness_command_template');
  const ctState = r.topic('color_temp_state_topic');
  const ctCmd = r.topic('color_temp_command_topic');
  const ctTpl = r.tpl('color_temp_value_template');
  const ctCmdTpl = r.tpl('color_temp_command_template');
  const scale = r.num('brightness_scale', 255)!;
  const onType = r.str('on_command_type', 'last');
  const on = r.str('payload_on', 'ON')!;
  const cmd = r.topic('command_topic', true)!;
  return {
    ...base,
    domain: 'light',
    attributes: {
      supported_color_modes: ctCmd ? ['color_temp'] : briCmd ? ['brightness'] : ['onoff'],
      min_mireds: ctCmd ? r.num('min_mireds', 153) : undefined,
      max_mireds: ctCmd ? r.num('max_mireds', 500) : undefined,
    },
    listens: [
      ...base.listens,
      ...listen(briState, (p) => {
        const v = value(briTpl, p);
        return skip(v) ? undefined : { attributes: { brightness: scaled(asNumber(v, 'brightness'), scale, 255) } };
      }),
      ...listen(ctState, (p) => {
        const v = value(ctTpl, p);
        return skip(v) ? undefined : { attributes: { color_temp: asNumber(v, 'color_temp') } };
      }),
    ],
    command: (action, params, e) => {
      const turn = base.command(action, params, e);
      if (turn.optimisticState?.state !== 'on') return turn;
      const extra: Command[] = [];
      if (typeof params.brightness === 'number' && briCmd)
        extra.push({ topic: briCmd, payload: commandText(briCmdTpl, scaled(params.brightness, 255, scale)) });
      if (params.color_temp !== undefined && ctCmd)
        extra.push({ topic: ctCmd, payload: commandText(ctCmdTpl, params.color_temp) });
      const power = { topic: cmd, payload: on };
      // on_command_type: "last" sends brightness first, "first" the power first, "brightness" only the brightness
      const commands =
        extra.length === 0
          ? [power]
          : onType === 'first'
            ? [power, ...extra]
            : onType === 'brightness'
              ? extra
              : [...extra, power];
      return { commands, optimisticState: turn.optimisticState };
    },
    warnings: r.warnings,
  };
}

function cover(r: Reader): Binding {
  const stateTopic = r.topic('state_topic');
  const cmd = r.topic('command_topic');
  const posTopic = r.topic('position_topic');
  const setPos = r.topic('set_position_topic');
  const t = r.tpl('value_template');
  const posTpl = r.tpl('position_template');
  const setPosTpl = r.tpl('set_position_template');
  const open = r.num('position_open', 100)!;
  const closed = r.num('position_closed', 0)!;
  const states: Record<string, string> = {
    [r.str('state_open', 'open')!]: 'open',
    [r.str('state_opening', 'opening')!]: 'opening',
    [r.str('state_closed', 'closed')!]: 'closed',
    [r.str('state_closing', 'closing')!]: 'closing',
    [r.str('state_stopped', 'stopped')!]: 'stopped',
  };
  const percent = (v: number) => Math.round(((v - closed) * 100) / (open - closed));
  const payloads = {
    open: r.str('payload_open', 'OPEN')!,
    close: r.str('payload_close', 'CLOSE')!,
    stop: r.str('payload_stop', 'STOP')!,
  };
  return {
    domain: 'cover',
    attributes: {},
    actions: [...(cmd ? ['open', 'close', 'stop'] : []), ...(setPos ? ['set_position'] : [])],
    optimistic: (!stateTopic && !posTopic) || r.c.optimistic === true,
    listens: [
      ...listen(stateTopic, (p) => {
        const v = value(t, p);
        if (skip(v)) return undefined;
        const s = states[String(v)];
        if (!s) throw new Error(`"${String(v).slice(0, 40)}" is not one of ${Object.keys(states).join(', ')}`);
        return { state: s };
      }),
      ...listen(posTopic, (p, e) => {
        const v = value(posTpl, p);
        if (skip(v)) return undefined;
        const position = percent(asNumber(v, 'position'));
        const moving = e.state === 'opening' || e.state === 'closing';
        return {
          attributes: { position },
          ...(stateTopic && moving ? {} : { state: position > 0 ? 'open' : 'closed' }),
        };
      }),
    ],
    command: (action, params) => {
      if (action === 'set_position') {
        const raw = Math.round(closed + ((params.position as number) * (open - closed)) / 100);
        return {
          commands: [{ topic: setPos!, payload: commandText(setPosTpl, raw) }],
          optimisticState: { attributes: { position: params.position } },
        };
      }
      const payload = payloads[action as keyof typeof payloads];
      return {
        commands: [{ topic: cmd!, payload }],
        optimisticState: action === 'stop' ? { state: 'stopped' } : { state: action === 'open' ? 'open' : 'closed' },
      };
    },
    warnings: r.warnings,
  };
}

function climate(r: Reader): Binding {
  const modeState = r.topic('mode_state_topic');
  const modeCmd = r.topic('mode_command_topic');
  const tempState = r.topic('temperature_state_topic');
  const tempCmd = r.topic('temperature_command_topic');
  const current = r.topic('current_temperature_topic');
  const presetState = r.topic('preset_mode_state_topic');
  const presetCmd = r.topic('preset_mode_command_topic');
  const action = r.topic('action_topic');
  const tpl = {
    mode: r.tpl('mode_state_template'),
    modeCmd: r.tpl('mode_command_template'),
    temp: r.tpl('temperature_state_template'),
    tempCmd: r.tpl('temperature_command_template'),
    current: r.tpl('current_temperature_template'),
    preset: r.tpl('preset_mode_value_template'),
    presetCmd: r.tpl('preset_mode_command_template'),
    action: r.tpl('action_template'),
  };
  const modes = r.list('modes') ?? ['auto', 'off', 'cool', 'heat', 'dry', 'fan_only'];
  const attr = (name: string, t: Template | null | undefined, numeric: boolean) => (p: string) => {
    const v = value(t, p);
    if (skip(v)) return undefined;
    return { attributes: { [name]: numeric ? asNumber(v, name) : v } };
  };
  return {
    domain: 'climate',
    attributes: {
      hvac_modes: modes,
      min_temp: r.num('min_temp', 7),
      max_temp: r.num('max_temp', 35),
      target_temp_step: r.num('temp_step', 1),
      preset_modes: r.list('preset_modes'),
    },
    actions: [
      ...(tempCmd ? ['set_temperature'] : []),
      ...(modeCmd ? ['set_hvac_mode'] : []),
      ...(presetCmd ? ['set_preset_mode'] : []),
    ],
    optimistic: (!modeState && !tempState) || r.c.optimistic === true,
    listens: [
      ...listen(modeState, (p) => {
        const v = value(tpl.mode, p);
        if (skip(v)) return undefined;
        if (!modes.includes(String(v)))
          throw new Error(`mode "${String(v).slice(0, 40)}" is not one of ${modes.join(', ')}`);
        return { state: String(v) };
      }),
      ...listen(tempState, attr('temperature', tpl.temp, true)),
      ...listen(current, attr('current_temperature', tpl.current, true)),
      ...listen(presetState, attr('preset_mode', tpl.preset, false)),
      ...listen(action, attr('hvac_action', tpl.action, false)),
    ],
    command: (act, params) => {
      if (act === 'set_temperature')
        return {
          commands: [{ topic: tempCmd!, payload: commandText(tpl.tempCmd, params.temperature) }],
          optimisticState: { attributes: { temperature: params.temperature } },
        };
      if (act === 'set_hvac_mode')
        return {
          commands: [{ topic: modeCmd!, payload: commandText(tpl.modeCmd, params.hvac_mode) }],
          optimisticState: { state: params.hvac_mode },
        };
      return {
        commands: [{ topic: presetCmd!, payload: commandText(tpl.presetCmd, params.preset_mode) }],
        optimisticState: { attributes: { preset_mode: params.preset_mode } },
      };
    },
    warnings: r.warnings,
  };
}

function lock(r: Reader): Binding {
  const stateTopic = r.topic('state_topic');
  const cmd = r.topic('command_topic', true)!;
  const t = r.tpl('value_template');
  const states: Record<string, string> = {
    [r.str('state_locked', 'LOCKED')!]: 'locked',
    [r.str('state_unlocked', 'UNLOCKED')!]: 'unlocked',
    [r.str('state_locking', 'LOCKING')!]: 'locking',
    [r.str('state_unlocking', 'UNLOCKING')!]: 'unlocking',
    [r.str('state_jammed', 'JAMMED')!]: 'jammed',
    [r.str('state_open', 'OPEN')!]: 'open',
  };
  const payloads = { lock: r.str('payload_lock', 'LOCK')!, unlock: r.str('payload_unlock', 'UNLOCK')! };
  return {
    domain: 'lock',
    attributes: {},
    actions: ['lock', 'unlock'],
    optimistic: !stateTopic || r.c.optimistic === true,
    listens: listen(stateTopic, (p) => {
      const v = value(t, p);
      if (skip(v)) return undefined;
      const s = states[String(v)];
      if (!s) throw new Error(`"${String(v).slice(0, 40)}" is not one of ${Object.keys(states).join(', ')}`);
      return { state: s };
    }),
    command: (action) => ({
      commands: [{ topic: cmd, payload: payloads[action as 'lock' | 'unlock'] }],
      optimisticState: { state: action === 'lock' ? 'locked' : 'unlocked' },
    }),
    warnings: r.warnings,
  };
}

function fan(r: Reader): Binding {
  const base = onOff(r, 'fan');
  const pctState = r.topic('percentage_state_topic');
  const pctCmd = r.topic('percentage_command_topic');
  const pctTpl = r.tpl('percentage_value_template');
  const pctCmdTpl = r.tpl('percentage_command_template');
  const presetState = r.topic('preset_mode_state_topic');
  const presetCmd = r.topic('preset_mode_command_topic');
  const presetTpl = r.tpl('preset_mode_value_template');
  const min = r.num('speed_range_min', 1)!;
  const max = r.num('speed_range_max', 100)!;
  return {
    ...base,
    attributes: { preset_modes: r.list('preset_modes') },
    actions: [...base.actions, ...(pctCmd ? ['set_percentage'] : []), ...(presetCmd ? ['set_preset_mode'] : [])],
    listens: [
      ...base.listens,
      ...listen(pctState, (p) => {
        const v = value(pctTpl, p);
        if (skip(v)) return undefined;
        const speed = asNumber(v, 'percentage');
        return { attributes: { percentage: speed <= 0 ? 0 : Math.round(((speed - min + 1) * 100) / (max - min + 1)) } };
      }),
      ...listen(presetState, (p) => {
        const v = value(presetTpl, p);
        return skip(v) ? undefined : { attributes: { preset_mode: v } };
      }),
    ],
    command: (action, params, e) => {
      if (action === 'set_percentage') {
        const pct = params.percentage as number;
        const speed = pct === 0 ? 0 : Math.ceil((pct * (max - min + 1)) / 100) + min - 1;
        return {
          commands: [{ topic: pctCmd!, payload: commandText(pctCmdTpl, speed) }],
          optimisticState: { attributes: { percentage: pct } },
        };
      }
      if (action === 'set_preset_mode')
        return {
          commands: [{ topic: presetCmd!, payload: String(params.preset_mode) }],
          optimisticState: { attributes: { preset_mode: params.preset_mode } },
        };
      return base.command(action, params, e);
    },
    warnings: r.warnings,
  };
}

function number(r: Reader): Binding {
  const stateTopic = r.topic('state_topic');
  const cmd = r.topic('command_topic', true)!;
  const t = r.tpl('value_template');
  const ct = r.tpl('command_template');
  return {
    domain: 'number',
    attributes: {
      min: r.num('min', 1),
      max: r.num('max', 100),
      step: r.num('step', 1),
      unit_of_measurement: r.str('unit_of_measurement'),
      device_class: r.str('device_class'),
    },
    actions: ['set_value'],
    optimistic: !stateTopic || r.c.optimistic === true,
    listens: listen(stateTopic, (p) => {
      const v = value(t, p);
      return skip(v) ? undefined : { state: asNumber(v, 'a number entity') };
    }),
    command: (_a, params) => ({
      commands: [{ topic: cmd, payload: commandText(ct, params.value) }],
      optimisticState: { state: params.value },
    }),
    warnings: r.warnings,
  };
}

function select(r: Reader): Binding {
  const stateTopic = r.topic('state_topic');
  const cmd = r.topic('command_topic', true)!;
  const options = r.list('options');
  if (!options || options.length === 0) throw new ConfigInvalid('a select needs options');
  const t = r.tpl('value_template');
  const ct = r.tpl('command_template');
  return {
    domain: 'select',
    attributes: { options },
    actions: ['select_option'],
    optimistic: !stateTopic || r.c.optimistic === true,
    listens: listen(stateTopic, (p) => {
      const v = value(t, p);
      if (skip(v)) return undefined;
      if (!options.includes(String(v)))
        throw new Error(`"${String(v).slice(0, 40)}" is not one of ${options.join(', ')}`);
      return { state: String(v) };
    }),
    command: (_a, params) => ({
      commands: [{ topic: cmd, payload: commandText(ct, params.option) }],
      optimisticState: { state: params.option },
    }),
    warnings: r.warnings,
  };
}

function button(r: Reader): Binding {
  const cmd = r.topic('command_topic', true)!;
  const press = r.str('payload_press', 'PRESS')!;
  const ct = r.tpl('command_template');
  return {
    domain: 'button',
    attributes: { device_class: r.str('device_class') },
    actions: ['press'],
    optimistic: true,
    listens: [],
    command: () => ({
      commands: [{ topic: cmd, payload: commandText(ct, press) }],
      optimisticState: { state: new Date().toISOString() },
    }),
    warnings: r.warnings,
  };
}

function event(r: Reader): Binding {
  const stateTopic = r.topic('state_topic', true)!;
  const types = r.list('event_types');
  if (!types || types.length === 0) throw new ConfigInvalid('an event needs event_types');
  const t = r.tpl('value_template');
  return {
    domain: 'event',
    attributes: { event_types: types, device_class: r.str('device_class') },
    actions: [],
    optimistic: false,
    listens: listen(stateTopic, (p, _e, retained) => {
      if (retained) return undefined; // a press is not replayed from a retained message
      const v = value(t, p);
      if (skip(v)) return undefined;
      const j = typeof v === 'string' ? (JSON.parse(v) as unknown) : v;
      if (!j || typeof j !== 'object' || typeof (j as Obj).event_type !== 'string')
        throw new Error('an event payload must be JSON with an event_type');
      const type = (j as Obj).event_type as string;
      if (!types.includes(type)) throw new Error(`event_type "${type.slice(0, 40)}" is not one of ${types.join(', ')}`);
      return { state: new Date().toISOString(), attributes: { event_type: type } };
    }),
    command: () => ({ commands: [] }),
    warnings: r.warnings,
  };
}

function update(r: Reader): Binding {
  const stateTopic = r.topic('state_topic');
  const latestTopic = r.topic('latest_version_topic');
  const cmd = r.topic('command_topic');
  const t = r.tpl('value_template');
  const lt = r.tpl('latest_version_template');
  const install = r.str('payload_install', 'install')!;
  const versions = (e: Entity, a: Obj): Patch => {
    const installed = a.installed_version ?? e.attributes.installed_version;
    const latest = a.latest_version ?? e.attributes.latest_version;
    return {
      state: latest !== undefined && installed !== undefined && latest !== installed ? 'on' : 'off',
      attributes: a,
    };
  };
  return {
    domain: 'update',
    attributes: {},
    actions: cmd ? ['install'] : [],
    optimistic: !stateTopic,
    listens: [
      ...listen(stateTopic, (p, e) => {
        const v = value(t, p);
        if (skip(v)) return undefined;
        let j: unknown = v;
        if (typeof v === 'string' && v.trim().startsWith('{')) j = JSON.parse(v);
        if (j && typeof j === 'object') {
          const o = j as Obj;
          const a: Obj = {};
          for (const k of ['installed_version', 'latest_version', 'title', 'release_url', 'in_progress'])
            if (o[k] !== undefined) a[k] = o[k];
          return versions(e, a);
        }
        return versions(e, { installed_version: String(v) });
      }),
      ...listen(latestTopic, (p, e) => {
        const v = value(lt, p);
        return skip(v) ? undefined : versions(e, { latest_version: String(v) });
      }),
    ],
    command: () => ({ commands: cmd ? [{ topic: cmd, payload: install }] : [] }),
    warnings: r.warnings,
  };
}

/** The binding of one component's (expanded) config; ConfigInvalid when it cannot work. */
export function bind(component: string, config: Obj): Binding {
  const r = new Reader(config);
  switch (component) {
    case 'sensor':
      return sensor(r);
    case 'binary_sensor':
      return binarySensor(r);
    case 'switch':
      return onOff(r, 'switch');
    case 'light': {
      const schema = r.str('schema', 'default');
      if (schema === 'json') return lightJson(r);
      if (schema === 'default' || schema === 'basic') return lightDefault(r);
      throw new ConfigInvalid(`the light schema "${schema}" is not supported (default and json are)`);
    }
    case 'cover':
      return cover(r);
    case 'climate':
      return climate(r);
    case 'lock':
      return lock(r);
    case 'fan':
      return fan(r);
    case 'number':
      return number(r);
    case 'select':
      return select(r);
    case 'button':
      return button(r);
    case 'event':
      return event(r);
    case 'update':
      return update(r);
    default:
      throw new ConfigInvalid(`the component "${component}" is not supported`);
  }
}
