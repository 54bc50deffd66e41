// The guest side of Entity and Storage: arguments checked here, the work done by the host.
import { call, callAsync, describe } from './core.js';

function checkId(fn: string, id: unknown): void {
  if (typeof id !== 'string' || id === '')
    throw new TypeError(`${fn}: entity id must be a non-empty string like "light.living_room", got ${describe(id)}`);
}

function when(v: unknown, name: string): number | undefined {
  if (v === undefined) return undefined;
  const t = v instanceof Date ? v.getTime() : typeof v === 'string' ? Date.parse(v) : v;
  if (typeof t !== 'number' || !Number.isFinite(t))
    throw new TypeError(`Entity.history: ${name} must be a Date, an ISO time or milliseconds, got ${describe(v)}`);
  return t;
}

export const Entity = Object.freeze({
  getState(id: unknown) {
    checkId('Entity.getState', id);
    return call('entity.get', id);
  },
  get(id: unknown) {
    checkId('Entity.get', id);
    return call('entity.describe', id);
  },
  history(id: unknown, opts?: unknown) {
    checkId('Entity.history', id);
    if (opts !== undefined && (opts === null || typeof opts !== 'object'))
      throw new TypeError(`Entity.history: options must be an object like { since, until }, got ${describe(opts)}`);
    const o = (opts || {}) as { since?: unknown; until?: unknown; resolution?: unknown };
    return callAsync('Entity.history', 'entity.history', [
      id,
      { since: when(o.since, 'since'), until: when(o.until, 'until'), resolution: o.resolution },
    ]);
  },
  setState(id: unknown, state?: unknown, attributes?: unknown) {
    checkId('Entity.setState', id);
    if (
      attributes !== undefined &&
      (attributes === null || typeof attributes !== 'object' || Array.isArray(attributes))
    )
      throw new TypeError(`Entity.setState: attributes must be an object, got ${describe(attributes)}`);
    return call('entity.set', id, state === undefined ? null : state, attributes === undefined ? null : attributes);
  },
  callAction(id: unknown, action: unknown, params?: unknown) {
    checkId('Entity.callAction', id);
    if (typeof action !== 'string' || action === '')
      throw new TypeError(`Entity.callAction: action must be a non-empty string, got ${describe(action)}`);
    return callAsync('Entity.callAction', 'entity.callAction', [id, action, params === undefined ? {} : params]);
  },
});

function checkKey(fn: string, key: unknown): void {
  if (typeof key !== 'string') throw new TypeError(`${fn}: key must be a string, got ${describe(key)}`);
}

export const Storage = Object.freeze({
  get(key: unknown) {
    checkKey('Storage.get', key);
    return call('storage.get', key);
  },
  set(key: unknown, value: unknown) {
    checkKey('Storage.set', key);
    if (value === undefined)
      throw new TypeError('Storage.set: value must be JSON (use Storage.delete to remove a key)');
    call('storage.set', key, value);
  },
  delete(key: unknown) {
    checkKey('Storage.delete', key);
    return call('storage.delete', key);
  },
  keys() {
    return call('storage.keys');
  },
});
