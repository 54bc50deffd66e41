// The host side of Entity.getState/setState/callAction and Storage: plain functions over the
// narrow interfaces the engine is given (entities live in a module above scripts).
import type { NamedError } from '../sandbox.js';

/** What scripts may do with entities; implemented by the entities module. */
/** An entity as a script reads it with `Entity.get`. */
export interface EntityView {
  id: string;
  name: string;
  domain: string;
  state: unknown;
  attributes: Record<string, unknown>;
  available: boolean;
  lastChanged: number | null;
  deviceId: string | null;
}

export interface EntityAccess {
  getState(id: string): unknown;
  describe(id: string): EntityView;
  history(id: string, query: { since?: number; until?: number; resolution?: string }): unknown;
  setState(id: string, state: unknown, attributes?: Record<string, unknown> | null): void;
  callAction(id: string, action: string, params: Record<string, unknown>, caller: string): Promise<void>;
  /** e154's EntitiesCallAction: the action on every entity of an area. */
  callInArea?(
    area: string,
    action: string,
    params: Record<string, unknown>,
    caller: string,
  ): Promise<{ called: string[]; skipped: string[]; failed: { id: string; error: string }[] }>;
  /** The entity's configured settings (e154's). */
  settings?(id: string): Record<string, unknown>;
  /** A script's settings_value as the entity's typed settings hold them; throws naming a wrong one. */
  checkSettings?(id: string, values: Record<string, unknown>): Record<string, unknown>;
  /** e154's named state the entity is in ({name, description, icon}), if it declares states. */
  namedState?(id: string): { name: string; description?: string; icon?: string } | null;
  /** e154's EntitySetMetric. */
  setMetric?(id: string, name: string, values: unknown): void;
  /** e154's EntityCallScene. */
  callScene?(id: string, params: Record<string, unknown>, caller: string): Promise<void>;
}

/** The per-script key-value store. */
export interface StorageAccess {
  get(script: string, key: string): unknown;
  set(script: string, key: string, value: unknown): void;
  delete(script: string, key: string): boolean;
  keys(script: string): string[];
}

function str(v: unknown, what: string): string {
  if (typeof v !== 'string') throw new TypeError(`${what} must be a string`);
  return v;
}

export function entityCalls(entities: EntityAccess | undefined) {
  const need = (): EntityAccess => {
    if (!entities) throw new TypeError('Entity is not available in this run (no hub)');
    return entities;
  };
  return {
    'entity.get': ([id]: unknown[]) => need().getState(str(id, 'Entity.getState: id')) ?? null,
    'entity.describe': ([id]: unknown[]) => need().describe(str(id, 'Entity.get: id')),
    'entity.set': ([id, state, attributes]: unknown[]) => {
      need().setState(str(id, 'Entity.setState: id'), state, attributes as Record<string, unknown> | null);
      return undefined;
    },
    'entity.state.named': ([id]: unknown[]) => {
      const e = need();
      const key = str(id, 'EntityGetState: id');
      const named = e.namedState?.(key) ?? null;
      const state = e.getState(key);
      if (state === null || state === undefined) return null;
      // e154's EntityStateShort: {name, description, image_url, icon}
      return {
        name: named?.name ?? String(state),
        description: named?.description ?? '',
        image_url: null,
        icon: named?.icon ?? null,
      };
    },
    'entity.metric': ([id, name, values]: unknown[]) => {
      const e = need();
      if (!e.setMetric) throw new TypeError('EntitySetMetric is not available in this run (no hub)');
      e.setMetric(str(id, 'EntitySetMetric: id'), str(name, 'EntitySetMetric: name'), values);
      return undefined;
    },
  };
}

export function entityAsyncCalls(entities: EntityAccess | undefined, caller: string) {
  return {
    'entity.history': async ([id, query]: unknown[]) => {
      if (!entities) throw new TypeError('Entity is not available in this run (no hub)');
      const q = (query && typeof query === 'object' ? query : {}) as Record<string, unknown>;
      const time = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
      const resolution = ['raw', '5m', '1h', 'auto'].includes(q.resolution as string)
        ? (q.resolution as string)
        : undefined;
      return entities.history(str(id, 'Entity.history: id'), {
        since: time(q.since),
        until: time(q.until),
        resolution,
      });
    },
    'entity.callMany': async ([selector, params]: unknown[]) => {
      const fail = (message: string): never => {
        throw {
          name: 'EntityError',
          code: 'CALL_ACTION',
          message: `EntitiesCallAction: ${message}`,
        } satisfies NamedError;
      };
      const s = (selector && typeof selector === 'object' ? selector : {}) as Record<string, unknown>;
      const action = s.action_name;
      if (typeof action !== 'string' || action === '') return fail('action_name must be a non-empty string');
      const p =
        params && typeof params === 'object' && !Array.isArray(params) ? (params as Record<string, unknown>) : {};
      if (Array.isArray(s.tags) && s.tags.length > 0)
        return fail('entities have no tags in this hub; select them by area_id (their room) or entity_id');
      if (!entities?.callInArea) return fail('not available in this run (no hub)');
      if (typeof s.entity_id === 'string' && s.entity_id !== '') {
        await entities.callAction(s.entity_id, action, p, caller);
        return { called: [s.entity_id], skipped: [], failed: [] };
      }
      if (typeof s.area_id !== 'string' && typeof s.area_id !== 'number')
        return fail('give area_id (an area, e.g. "kitchen") or entity_id');
      const r = await entities.callInArea(String(s.area_id), action, p, caller);
      if (r.called.length + r.skipped.length + r.failed.length === 0)
        return fail(`no entity is in area "${s.area_id}"`);
      return r;
    },
    'entity.callScene': async ([id, params]: unknown[]) => {
      if (!entities?.callScene)
        throw {
          name: 'EntityError',
          code: 'UNAVAILABLE',
          message: 'EntityCallScene: not available in this run (no hub)',
        } satisfies NamedError;
      const p =
        params && typeof params === 'object' && !Array.isArray(params) ? (params as Record<string, unknown>) : {};
      await entities.callScene(str(id, 'EntityCallScene: id'), p, caller);
    },
    'entity.callAction': async ([id, action, params]: unknown[]) => {
      if (!entities)
        throw {
          name: 'EntityError',
          code: 'UNAVAILABLE',
          message: 'Entity is not available in this run (no hub)',
        } satisfies NamedError;
      const p =
        params && typeof params === 'object' && !Array.isArray(params) ? (params as Record<string, unknown>) : {};
      await entities.callAction(str(id, 'Entity.callAction: id'), str(action, 'Entity.callAction: action'), p, caller);
    },
  };
}

export function storageCalls(storage: StorageAccess | undefined, script: string) {
  const need = (): StorageAccess => {
    if (!storage) throw new TypeError('Storage is not available in this run (no hub)');
    return storage;
  };
  return {
    'storage.get': ([key]: unknown[]) => need().get(script, str(key, 'Storage.get: key')) ?? null,
    'storage.set': ([key, value]: unknown[]) => {
      need().set(script, str(key, 'Storage.set: key'), value);
      return undefined;
    },
    'storage.delete': ([key]: unknown[]) => need().delete(script, str(key, 'Storage.delete: key')),
    'storage.keys': () => need().keys(script),
  };
}

/** The namespace of e154's Storage, one for all scripts. */
export const SHARED_STORAGE = '\u0000shared';

/** e154's Storage: push/getByName/pop/search over one namespace shared by every script, string values. */
export function sharedStorageCalls(storage: StorageAccess | undefined) {
  const need = (): StorageAccess => {
    if (!storage) throw new TypeError('Storage is not available in this run (no hub)');
    return storage;
  };
  return {
    'storage.shared.get': ([key]: unknown[]) => need().get(SHARED_STORAGE, str(key, 'Storage.getByName: name')) ?? null,
    'storage.shared.set': ([key, value]: unknown[]) => {
      need().set(SHARED_STORAGE, str(key, 'Storage.push: name'), str(value, 'Storage.push: value'));
      return undefined;
    },
    'storage.shared.delete': ([key]: unknown[]) => need().delete(SHARED_STORAGE, str(key, 'Storage.pop: name')),
    // e154: names containing the text, at most 99
    'storage.shared.search': ([sub]: unknown[]) => {
      const text = str(sub, 'Storage.search: text');
      const out: Record<string, unknown> = {};
      for (const k of need().keys(SHARED_STORAGE)) {
        if (!k.includes(text)) continue;
        out[k] = need().get(SHARED_STORAGE, k);
        if (Object.keys(out).length >= 99) break;
      }
      return out;
    },
  };
}

/** Where a script's changes to an entity's settings (EntitySetState settings_value) are kept. */
export const SETTINGS_STORAGE = '\u0000settings';

/** e154's EntityGetSettings, and settings_value of EntitySetState: the config's settings, with what scripts changed over them. */
export function settingsCalls(entities: EntityAccess | undefined, storage: StorageAccess | undefined) {
  const get = (id: string): Record<string, unknown> => {
    if (!entities?.settings) throw new TypeError('EntityGetSettings is not available in this run (no hub)');
    const changed = storage?.get(SETTINGS_STORAGE, id);
    return { ...entities.settings(id), ...(changed && typeof changed === 'object' ? changed : {}) };
  };
  return {
    'entity.settings.get': ([id]: unknown[]) => get(str(id, 'EntityGetSettings: id')),
    'entity.settings.set': ([id, values]: unknown[]) => {
      const key = str(id, 'EntitySetState: id');
      if (!values || typeof values !== 'object' || Array.isArray(values))
        throw new TypeError('EntitySetState: settings_value must be an object');
      if (!storage) throw new TypeError('EntitySetState: settings_value is not available in this run (no hub)');
      get(key); // an unknown entity is an error here too
      const checked = entities?.checkSettings
        ? entities.checkSettings(key, values as Record<string, unknown>)
        : (values as Record<string, unknown>);
      const prev = storage.get(SETTINGS_STORAGE, key);
      storage.set(SETTINGS_STORAGE, key, { ...(prev && typeof prev === 'object' ? prev : {}), ...checked });
      return undefined;
    },
  };
}
