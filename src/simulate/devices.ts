// Devices of the simulated home (home.device in a test): an entity whose actions do what the real
// device would report back (a light turned on is "on" with the brightness asked for), at once and
// without a network. Every action is recorded with its parameters for home.actions().
import { domainActions, resolveAction } from '../entities/domains.js';
import type { Entity } from '../entities/registry.js';

export const SIMULATED = 'simulated';

/** What the device reports after `action`: its new state and the attributes that changed. */
export function deviceEffect(
  entity: Entity,
  action: string,
  params: Record<string, unknown>,
): { state: unknown; attributes: Record<string, unknown> } {
  const name = resolveAction(entity, action) ?? action;
  const { transition: _t, ...rest } = params;
  const attrs: Record<string, unknown> = {};
  let state = entity.state;
  switch (name) {
    case 'turn_on':
      state = 'on';
      Object.assign(attrs, rest);
      break;
    case 'turn_off':
      state = 'off';
      break;
    case 'toggle':
      state = entity.state === 'on' ? 'off' : 'on';
      break;
    case 'open':
      state = 'open';
      attrs.position = 100;
      break;
    case 'close':
      state = 'closed';
      attrs.position = 0;
      break;
    case 'set_position':
      attrs.position = params.position;
      state = Number(params.position) > 0 ? 'open' : 'closed';
      break;
    case 'lock':
      state = 'locked';
      break;
    case 'unlock':
      state = 'unlocked';
      break;
    case 'set_hvac_mode':
      state = params.hvac_mode;
      break;
    case 'set_value':
      state = params.value;
      break;
    case 'select_option':
      state = params.option;
      break;
    default:
      // set_temperature, set_percentage, set_preset_mode, set_tilt, press, ...: the parameters are the report
      Object.assign(attrs, rest);
  }
  return { state, attributes: attrs };
}

/** The actions a simulated entity of this domain takes: its domain's (a sensor has none). */
export const simulatedActions = (domain: string): string[] => domainActions(domain);
