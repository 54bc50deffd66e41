// The compatible API: the globals of the system the `Mqtt` page comes from (e154 Smart Home), so
// its users' scripts run unchanged. Each maps onto this hub's own bindings (Entity, Storage,
// console); the host checks everything again. Our own API stays the recommended one.
import { call, callAsync, describe } from './core.js';
import { Entity } from './entity.js';
import { console } from './runtime.js';

interface StateParams {
  new_state?: unknown;
  attribute_values?: unknown;
  settings_value?: unknown;
  storage_save?: unknown;
}

function objectOrUndefined(fn: string, what: string, v: unknown): Record<string, unknown> | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v))
    throw new TypeError(`${fn}: ${what} must be an object, got ${describe(v)}`);
  return v as Record<string, unknown>;
}

function view(id: unknown): { state: unknown; attributes: Record<string, unknown>; name: string; domain: string } {
  return Entity.get(id) as { state: unknown; attributes: Record<string, unknown>; name: string; domain: string };
}

/** e154's state is a named state ({name, description, image_url, icon}); ours is the value itself. */
function stateShort(id: unknown): unknown {
  if (typeof id !== 'string' || id === '')
    throw new TypeError(`EntityGetState: entity id must be a non-empty string, got ${describe(id)}`);
  return call('entity.state.named', id);
}

function refuseExecute(fn: string): never {
  throw new Error(
    `${fn}: scripts cannot run commands on the hub's machine here (the sandbox has no access to the host, by design); publish an MQTT message to a device, or call an entity action, instead`,
  );
}

const HEX = /^(?:[0-9a-fA-F]{2})*$/;

/** Storage keys shared by all scripts (e154's Storage): one namespace, string values. */
function sharedKey(fn: string, key: unknown): string {
  if (typeof key !== 'string' || key === '')
    throw new TypeError(`${fn}: name must be a non-empty string, got ${describe(key)}`);
  return key;
}

export const sharedStorage = {
  push(key: unknown, value: unknown): void {
    call('storage.shared.set', sharedKey('Storage.push', key), typeof value === 'string' ? value : String(value));
  },
  getByName(key: unknown): string {
    const v = call('storage.shared.get', sharedKey('Storage.getByName', key));
    return typeof v === 'string' ? v : '';
  },
  pop(key: unknown): string {
    const k = sharedKey('Storage.pop', key);
    const v = call('storage.shared.get', k);
    call('storage.shared.delete', k);
    return typeof v === 'string' ? v : '';
  },
  search(sub: unknown): Record<string, string> {
    if (typeof sub !== 'string') throw new TypeError(`Storage.search: text must be a string, got ${describe(sub)}`);
    return call('storage.shared.search', sub) as Record<string, string>;
  },
};

export const compat: Record<string, unknown> = {
  print: (...args: unknown[]) => console.log(...args),
  marshal: (value: unknown) => JSON.stringify(value),
  unmarshal: (text: unknown) => {
    if (typeof text !== 'string') throw new TypeError(`unmarshal: expects a JSON string, got ${describe(text)}`);
    return JSON.parse(text);
  },
  hex2arr: (hex: unknown) => {
    if (typeof hex !== 'string' || !HEX.test(hex))
      throw new TypeError(`hex2arr: expects pairs of hex digits like "48656C6C6F", got ${describe(hex)}`);
    const out: number[] = [];
    for (let i = 0; i < hex.length; i += 2) out.push(parseInt(hex.slice(i, i + 2), 16));
    return out;
  },
  Encrypt: (data: unknown) => call('crypto.encrypt', data),
  Decrypt: (data: unknown) => call('crypto.decrypt', data),
  ExecuteSync: () => refuseExecute('ExecuteSync'),
  ExecuteAsync: () => refuseExecute('ExecuteAsync'),
  GetEntity: (id: unknown) => {
    const e = view(id);
    return { ...e, id, type: e.domain, state: stateShort(id), settings: call('entity.settings.get', id) };
  },
  EntityGetState: (id: unknown) => stateShort(id),
  EntitySetState: (id: unknown, params: unknown) => {
    const p = (objectOrUndefined('EntitySetState', 'params', params) ?? {}) as StateParams;
    const attrs = objectOrUndefined('EntitySetState', 'attribute_values', p.attribute_values);
    const settings = objectOrUndefined('EntitySetState', 'settings_value', p.settings_value);
    if (settings) call('entity.settings.set', id, settings);
    Entity.setState(id, p.new_state === undefined ? Entity.getState(id) : p.new_state, attrs);
  },
  EntitySetStateName: (id: unknown, name: unknown) => {
    if (typeof name !== 'string' || name === '')
      throw new TypeError(`EntitySetStateName: state must be a non-empty string, got ${describe(name)}`);
    Entity.setState(id, name);
  },
  EntityGetAttributes: (id: unknown) => view(id).attributes,
  EntityGetSettings: (id: unknown) => {
    if (typeof id !== 'string' || id === '')
      throw new TypeError(`EntityGetSettings: entity id must be a non-empty string, got ${describe(id)}`);
    return call('entity.settings.get', id);
  },
  EntitySetAttributes: (id: unknown, attrs: unknown) => {
    const a = objectOrUndefined('EntitySetAttributes', 'attributes', attrs);
    if (!a) throw new TypeError(`EntitySetAttributes: attributes must be an object, got ${describe(attrs)}`);
    Entity.setState(id, Entity.getState(id), a);
  },
  EntityCallAction: (id: unknown, action: unknown, params?: unknown) => Entity.callAction(id, action, params),
  EntitySetMetric: (id: unknown, name: unknown, values: unknown) => {
    if (typeof name !== 'string' || name === '')
      throw new TypeError(`EntitySetMetric: name must be a metric's name, got ${describe(name)}`);
    call('entity.metric', id, name, values);
  },
  EntityCallScene: (id: unknown, params?: unknown) => {
    if (typeof id !== 'string' || id === '')
      throw new TypeError(`EntityCallScene: entity id must be a non-empty string, got ${describe(id)}`);
    return callAsync('EntityCallScene', 'entity.callScene', [id, params === undefined ? {} : params]);
  },
  EntitiesCallAction: (selector: unknown, params?: unknown) => {
    if (!selector || typeof selector !== 'object' || Array.isArray(selector))
      throw new TypeError(
        `EntitiesCallAction: expects {action_name, area_id} or {action_name, entity_id}, got ${describe(selector)}`,
      );
    return callAsync('EntitiesCallAction', 'entity.callMany', [selector, params === undefined ? {} : params]);
  },
  EntityCallScript: (id: unknown, fn: unknown, payload?: unknown) => {
    if (typeof id !== 'string' || id === '')
      throw new TypeError(`EntityCallScript: entity id must be a non-empty string, got ${describe(id)}`);
    if (typeof fn !== 'string' || fn === '')
      throw new TypeError(`EntityCallScript: fn must be a function's name, got ${describe(fn)}`);
    return callAsync('EntityCallScript', 'entity.callScript', [id, fn, payload === undefined ? null : payload]);
  },
  PushSystemEvent: (command: unknown, params?: unknown) =>
    callAsync('PushSystemEvent', 'system.push', [command, params === undefined ? {} : params]),
};
