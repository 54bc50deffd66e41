// The entity domains: each one's state shape, its actions with typed parameters (ranges taken
// from the entity's attributes, i.e. from the device), and when a device's report confirms an
// action. Integrations translate these actions into their devices' own topics and payloads.
//
// State shapes (the README's "Entities" section says the same):
//   light          "on" | "off"; attributes brightness 0–255, color_temp (mired, min_mireds–max_mireds),
//                  color {x,y} | {hue,saturation} | {r,g,b}, color_mode, effect, effect_list
//   switch, fan    "on" | "off"; fan: percentage 0–100, preset_mode, preset_modes
//   sensor         number or text; unit_of_measurement, device_class, state_class
//   binary_sensor  "on" | "off"; device_class (door: on = open, motion: on = motion, ...)
//   cover          "open" | "closed" | "opening" | "closing" | "stopped"; position, tilt 0–100
//   climate        the hvac mode ("off", "heat", "auto", ...); current_temperature, temperature
//                  (target), min_temp, max_temp, target_temp_step, hvac_modes, preset_mode, preset_modes
//   lock           "locked" | "unlocked" | "locking" | "unlocking" | "open" | "jammed"
//   number         a number; min, max, step, unit_of_measurement
//   select         one of attributes.options
//   button         null; pressed, not read
//   event          time of the last event (ISO); event_type, event_types
//   update         "on" (an update is available) | "off"; installed_version, latest_version
import { EntityError, EntityRangeError, type Entity } from './registry.js';

type Params = Record<string, unknown>;

interface ParamSpec {
  kind: 'number' | 'string' | 'object';
  /** Bounds and choices, read from the entity when the action is called. */
  min?: (e: Entity) => number | undefined;
  max?: (e: Entity) => number | undefined;
  choices?: (e: Entity) => unknown[] | undefined;
  unit?: (e: Entity) => string | undefined;
}

interface ActionSpec {
  params?: Record<string, ParamSpec>;
  required?: string[];
  /** Whether `now` (a report after the command) shows the action done; none: the publish is enough. */
  confirmed?: (now: Entity, params: Params, before: Entity) => boolean;
}

const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const attr = (name: string) => (e: Entity) => num(e.attributes[name]);
const list = (name: string) => (e: Entity) =>
  Array.isArray(e.attributes[name]) ? (e.attributes[name] as unknown[]) : undefined;
const unitOf = (e: Entity) =>
  typeof e.attributes.unit_of_measurement === 'string' ? e.attributes.unit_of_measurement : undefined;
const near = (a: unknown, b: unknown, tolerance: number) =>
  typeof a === 'number' && typeof b === 'number' && Math.abs(a - b) <= tolerance;
const stepOf = (e: Entity, name: string) => num(e.attributes[name]) ?? 0;

const fixed = (n: number) => () => n;
const percent: ParamSpec = { kind: 'number', min: fixed(0), max: fixed(100), unit: () => '%' };

const onOff: Record<string, ActionSpec> = {
  turn_on: { confirmed: (e) => e.state === 'on' },
  turn_off: { confirmed: (e) => e.state === 'off' },
  toggle: { confirmed: (e, _p, before) => (before.state === 'on' ? e.state === 'off' : e.state === 'on') },
};

const lightOn: ActionSpec = {
  params: {
    brightness: { kind: 'number', min: fixed(0), max: fixed(255) },
    color_temp: { kind: 'number', min: attr('min_mireds'), max: attr('max_mireds'), unit: () => 'mired' },
    transition: { kind: 'number', min: fixed(0), unit: () => 's' },
    effect: { kind: 'string', choices: list('effect_list') },
    color: { kind: 'object' },
  },
  confirmed: (e, p) =>
    e.state === 'on' &&
    (p.brightness === undefined || near(e.attributes.brightness, p.brightness, 1)) &&
    (p.color_temp === undefined || near(e.attributes.color_temp, p.color_temp, 1)),
};

const moving = (e: Entity) => e.state === 'opening' || e.state === 'closing';

export const DOMAINS: Record<string, Record<string, ActionSpec>> = {
  light: {
    ...onOff,
    turn_on: lightOn,
    turn_off: { ...onOff.turn_off!, params: { transition: lightOn.params!.transition! } },
  },
  switch: onOff,
  fan: {
    ...onOff,
    set_percentage: {
      params: { percentage: percent },
      required: ['percentage'],
      confirmed: (e, p) => near(e.attributes.percentage, p.percentage, 1),
    },
    set_preset_mode: {
      params: { preset_mode: { kind: 'string', choices: list('preset_modes') } },
      required: ['preset_mode'],
      confirmed: (e, p) => e.attributes.preset_mode === p.preset_mode,
    },
  },
  cover: {
    open: { confirmed: (e) => e.state === 'open' || e.state === 'opening' },
    close: { confirmed: (e) => e.state === 'closed' || e.state === 'closing' },
    stop: { confirmed: () => true },
    set_position: {
      params: { position: percent },
      required: ['position'],
      confirmed: (e, p) => near(e.attributes.position, p.position, 1) || moving(e),
    },
    set_tilt: {
      params: { tilt: percent },
      required: ['tilt'],
      confirmed: (e, p) => near(e.attributes.tilt, p.tilt, 1) || moving(e),
    },
  },
  climate: {
    set_temperature: {
      params: {
        temperature: { kind: 'number', min: attr('min_temp'), max: attr('max_temp'), unit: () => '°C' },
      },
      required: ['temperature'],
      confirmed: (e, p) => near(e.attributes.temperature, p.temperature, stepOf(e, 'target_temp_step') / 2 + 1e-9),
    },
    set_hvac_mode: {
      params: { hvac_mode: { kind: 'string', choices: list('hvac_modes') } },
      required: ['hvac_mode'],
      confirmed: (e, p) => e.state === p.hvac_mode,
    },
    set_preset_mode: {
      params: { preset_mode: { kind: 'string', choices: list('preset_modes') } },
      required: ['preset_mode'],
      confirmed: (e, p) => e.attributes.preset_mode === p.preset_mode,
    },
  },
  lock: {
    lock: { confirmed: (e) => e.state === 'locked' },
    unlock: { confirmed: (e) => e.state === 'unlocked' || e.state === 'open' },
  },
  number: {
    set_value: {
      params: { value: { kind: 'number', min: attr('min'), max: attr('max'), unit: unitOf } },
      required: ['value'],
      confirmed: (e, p) => near(e.state, p.value, stepOf(e, 'step') / 2 + 1e-9),
    },
  },
  select: {
    select_option: {
      params: { option: { kind: 'string', choices: list('options') } },
      required: ['option'],
      confirmed: (e, p) => e.state === p.option,
    },
  },
  button: { press: {} },
  update: { install: {} },
  sensor: {},
  binary_sensor: {},
  event: {},
};

/** Short names people type: `action light.hall on`. */
const ALIASES: Record<string, string> = { on: 'turn_on', off: 'turn_off' };

/** The actions of a domain, by name. */
export function domainActions(domain: string): string[] {
  return Object.keys(DOMAINS[domain] ?? {});
}

/** The domain action an action name means for this entity (aliases resolved), if it is one. */
export function resolveAction(entity: Entity, action: string): string | undefined {
  const actions = DOMAINS[entity.domain];
  if (!actions) return undefined;
  const name = actions[action] ? action : ALIASES[action];
  return name && actions[name] ? name : undefined;
}

/** " (0–254 mired)": a range as refusals state it, or nothing when the device gives none. */
export const rangeText = (min?: number, max?: number, unit?: string) =>
  min !== undefined || max !== undefined ? ` (${min ?? '…'}–${max ?? '…'}${unit ? ` ${unit}` : ''})` : '';

/** Checks `params` of a domain action against the entity's ranges; throws a RangeError naming entity, param and range. */
export function validateParams(entity: Entity, action: string, params: Params): void {
  const spec = DOMAINS[entity.domain]?.[action];
  if (!spec) throw new EntityError('UNKNOWN_ACTION', `entity ${entity.id} has no action "${action}"`);
  const specs = spec.params ?? {};
  for (const name of spec.required ?? [])
    if (params[name] === undefined)
      throw new EntityRangeError(`${entity.id}: ${action} needs "${name}", e.g. {"${name}": ...}`);
  for (const [name, value] of Object.entries(params)) {
    const p = specs[name];
    if (!p) {
      const known = Object.keys(specs);
      throw new EntityRangeError(
        `${entity.id}: ${action} has no parameter "${name}"${known.length ? `; it takes ${known.join(', ')}` : '; it takes none'}`,
      );
    }
    if (p.kind === 'number') {
      const min = p.min?.(entity);
      const max = p.max?.(entity);
      const unit = p.unit?.(entity);
      if (typeof value !== 'number' || !Number.isFinite(value))
        throw new EntityRangeError(
          `${entity.id}: ${name} must be a number${rangeText(min, max, unit)}, got ${JSON.stringify(value)}`,
        );
      if ((min !== undefined && value < min) || (max !== undefined && value > max))
        throw new EntityRangeError(`${entity.id}: ${name} ${value} is out of range${rangeText(min, max, unit)}`);
    } else if (p.kind === 'string') {
      const choices = p.choices?.(entity);
      if (typeof value !== 'string' || (choices && choices.length > 0 && !choices.includes(value)))
        throw new EntityRangeError(
          `${entity.id}: ${name} must be ${choices ? `one of ${choices.map((c) => JSON.stringify(c)).join(', ')}` : 'a string'}, got ${JSON.stringify(value)}`,
        );
    } else if (!value || typeof value !== 'object' || Array.isArray(value)) {
      throw new EntityRangeError(`${entity.id}: ${name} must be an object, got ${JSON.stringify(value)}`);
    }
  }
}

/** How a report confirms the action, or undefined when sending it is all there is (a button press). */
export function confirmation(
  entity: Entity,
  action: string,
): ((now: Entity, params: Params, before: Entity) => boolean) | undefined {
  return DOMAINS[entity.domain]?.[action]?.confirmed;
}
