// What a Zigbee2MQTT device's `/set` accepts, from its exposes: for the raw `set` action, which
// sends any of the device's settable properties at once (checked here before anything is sent).
import { rangeText } from '../../domains.js';
import { SETTABLE, type Feature } from './exposes.js';

/** What one settable property accepts, from its expose (kept in the entity's attributes for the UI). */
export interface Settable {
  type: string;
  min?: number;
  max?: number;
  step?: number;
  unit?: string;
  values?: unknown[];
}

/** The settable properties of a device, by property name. */
export function settableOf(exposes: Feature[] = []): Record<string, Settable> {
  const out: Record<string, Settable> = {};
  const walk = (fs: Feature[]) => {
    for (const f of fs) {
      if (f.features) walk(f.features);
      if (!f.property || !((f.access ?? 0) & SETTABLE) || f.type === undefined) continue;
      if (f.type === 'numeric')
        out[f.property] = { type: 'numeric', min: f.value_min, max: f.value_max, step: f.value_step, unit: f.unit };
      else if (f.type === 'binary')
        out[f.property] = {
          type: 'binary',
          values: [f.value_on, f.value_off, f.value_toggle].filter((v) => v !== undefined),
        };
      else if (f.type === 'enum') out[f.property] = { type: 'enum', values: f.values };
      else out[f.property] = { type: f.type };
    }
  };
  walk(exposes);
  return out;
}

/** Why `payload` is not something the device accepts, or undefined when it is. */
export function refusal(
  settable: Record<string, Settable>,
  payload: Record<string, unknown>,
  entityId: string,
): string | undefined {
  for (const [key, value] of Object.entries(payload)) {
    const s = settable[key];
    if (!s) {
      // a transition comes with any light command (Zigbee2MQTT's own option, not an expose)
      if (key === 'transition' && typeof value === 'number' && value >= 0) continue;
      return `${entityId} has no settable "${key}"; it accepts ${Object.keys(settable).join(', ') || 'nothing'}`;
    }
    if (s.type === 'numeric') {
      if (typeof value !== 'number' || !Number.isFinite(value))
        return `${entityId}: ${key} must be a number${range(s)}, got ${JSON.stringify(value)}`;
      if ((s.min !== undefined && value < s.min) || (s.max !== undefined && value > s.max))
        return `${entityId}: ${key} ${value} is out of range${range(s)}`;
    } else if (
      (s.type === 'binary' || s.type === 'enum') &&
      s.values &&
      s.values.length > 0 &&
      !s.values.some(
        (v) =>
          v === value ||
          (typeof v === 'string' && typeof value === 'string' && v.toUpperCase() === value.toUpperCase()),
      )
    ) {
      return `${entityId}: ${key} must be one of ${s.values.map((v) => JSON.stringify(v)).join(', ')}, got ${JSON.stringify(value)}`;
    }
  }
  return undefined;
}

const range = (s: Settable) => rangeText(s.min, s.max, s.unit);
