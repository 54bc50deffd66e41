// e154's PushSystemEvent(command, params) from scripts: enable or disable an automation (e154's
// "task"), or run one now. Its other commands (triggers one by one, load/unload an entity) have no
// counterpart here and are refused, saying so.
import type { NamedError } from '../sandbox.js';

/** What scripts may do with automations; implemented by the automations module. */
export interface AutomationAccess {
  setEnabled(id: string, enabled: boolean): Promise<void>;
  trigger(id: string, event: { description: string }): void;
}

const SUPPORTED = ['command_enable_task', 'command_disable_task', 'event_call_trigger'];
const E154_ONLY = [
  'command_enable_trigger',
  'command_disable_trigger',
  'event_call_action',
  'command_load_entity',
  'command_unload_entity',
];

export function systemCalls(automations: AutomationAccess | undefined, caller: string) {
  return {
    'system.push': async ([command, params]: unknown[]) => {
      const fail = (message: string): never => {
        throw { name: 'TypeError', code: 'SYSTEM_EVENT', message: `PushSystemEvent: ${message}` } satisfies NamedError;
      };
      if (typeof command !== 'string') return fail(`command must be a string, one of ${SUPPORTED.join(', ')}`);
      if (E154_ONLY.includes(command))
        return fail(
          `"${command}" has no counterpart in this hub (an automation is enabled, disabled or run as a whole); supported: ${SUPPORTED.join(', ')}`,
        );
      if (!SUPPORTED.includes(command)) return fail(`unknown command "${command}"; supported: ${SUPPORTED.join(', ')}`);
      const p = (params && typeof params === 'object' ? params : {}) as { id?: unknown };
      if (typeof p.id !== 'string' && typeof p.id !== 'number')
        return fail(
          `${command}: params.id must be an automation's id (in automations.yaml), got ${JSON.stringify(p.id)}`,
        );
      if (!automations) return fail('automations are not available in this run (no hub)');
      const id = String(p.id);
      try {
        if (command === 'event_call_trigger')
          automations.trigger(id, { description: `run by ${caller} (PushSystemEvent)` });
        else await automations.setEnabled(id, command === 'command_enable_task');
      } catch (err) {
        fail(`${command}: ${(err as Error).message}`);
      }
      return undefined;
    },
  };
}
