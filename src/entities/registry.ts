// Entities: kept in memory, persisted in SQLite in one batch per event-loop turn; state changes
// are events on the bus and rows of a bounded history.
import type { Db } from '../store/db.js';
import type { EventBus } from '../events.js';
import { entityTables, type EntityTables } from '../store/entities.js';
import type { Recorder } from './recorder.js';

export const ENTITY_ID = /^[a-z_][a-z0-9_]*\.[a-z0-9_]+$/;

export interface Entity {
  id: string;
  uniqueId?: string;
  name: string;
  /** light, switch, sensor, ... (src/entities/domains.ts documents each one's state and actions). */
  domain: string;
  state: unknown;
  attributes: Record<string, unknown>;
  lastChanged?: number;
  lastUpdated?: number;
  available: boolean;
  /** Script file (relative to the scripts dir) that runs this entity's actions. */
  script?: string;
  actions: string[];
  /** The integration that made it (zigbee2mqtt, mqtt, tasmota) or `config`. */
  source: string;
  /** The device it belongs to (src/entities/devices.ts), if any. */
  deviceId?: string;
  /** `config` and `diagnostic` entities are settings and health, not a primary control. */
  category?: 'config' | 'diagnostic';
  /** Its own room, over its device's (the dashboard groups by it). */
  area?: string;
}

export interface EntityInput {
  id: string;
  uniqueId?: string;
  name?: string;
  domain?: string;
  script?: string | null;
  actions?: string[];
  source?: string;
  attributes?: Record<string, unknown>;
  /** Replace the attributes instead of merging them. */
  replaceAttributes?: boolean;
  deviceId?: string | null;
  category?: 'config' | 'diagnostic' | null;
  area?: string | null;
}

/** A mistake about an entity the user can fix, or an action the device did not carry out. */
export class EntityError extends Error {
  override name = 'EntityError';
  constructor(
    readonly code:
      | 'UNKNOWN_ENTITY'
      | 'BAD_ID'
      | 'UNKNOWN_ACTION'
      | 'BAD_PARAM'
      | 'ACTION_FAILED'
      | 'UNAVAILABLE'
      | 'TIMEOUT'
      | 'DEVICE_ERROR',
    message: string,
  ) {
    super(message);
  }
}

/** A parameter outside what the device accepts: a `RangeError` in scripts, a 400 from the API. */
export class EntityRangeError extends EntityError {
  override name = 'RangeError';
  constructor(message: string) {
    super('BAD_PARAM', message);
  }
}

type Row = Record<string, unknown>;

function fromRow(r: Row): Entity {
  return {
    id: r.id as string,
    uniqueId: (r.unique_id as string | null) ?? undefined,
    name: r.name as string,
    domain: r.type as string,
    state: r.state === null ? null : JSON.parse(r.state as string),
    attributes: JSON.parse(r.attributes as string) as Record<string, unknown>,
    lastChanged: (r.last_changed as number | null) ?? undefined,
    lastUpdated: (r.last_updated as number | null) ?? undefined,
    available: r.available === 1,
    script: (r.script as string | null) ?? undefined,
    actions: JSON.parse(r.actions as string) as string[],
    source: r.source as string,
    deviceId: (r.device_id as string | null) ?? undefined,
    category: (r.category as Entity['category'] | null) ?? undefined,
    area: (r.area as string | null) ?? undefined,
  };
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

export class EntityRegistry {
  private readonly q: EntityTables;
  private readonly byId = new Map<string, Entity>();
  private readonly unique = new Map<string, string>();
  /** Entities whose state changed since the last flush. */
  private readonly dirty = new Set<string>();
  private flushing: NodeJS.Immediate | undefined;
  private readonly reports = new Map<string, Set<(e: Entity) => void>>();
  /** State reports applied (every setState) and SQLite batches written, since start. */
  readonly stats = { reports: 0, flushes: 0 };

  constructor(
    private readonly db: Db,
    private readonly events: EventBus,
    /** Where state changes are recorded (history); none in tools that only read entities. */
    readonly recorder?: Recorder,
  ) {
    this.q = entityTables(db);
    for (const r of this.q.all.all() as Row[]) this.remember(fromRow(r));
  }

  private remember(e: Entity): void {
    this.byId.set(e.id, e);
    if (e.uniqueId) this.unique.set(e.uniqueId, e.id);
  }

  get(id: string): Entity | undefined {
    const e = this.byId.get(id);
    return e && { ...e };
  }

  require(id: string): Entity {
    const e = this.get(id);
    if (!e) throw new EntityError('UNKNOWN_ENTITY', `no entity "${id}"`);
    return e;
  }

  byUniqueId(uniqueId: string): Entity | undefined {
    const id = this.unique.get(uniqueId);
    return id === undefined ? undefined : this.get(id);
  }

  get size(): number {
    return this.byId.size;
  }

  list(): Entity[] {
    return [...this.byId.values()].sort((a, b) => (a.id < b.id ? -1 : 1)).map((e) => ({ ...e }));
  }

  /** A device's entities, by id (a scan without copying the others: this runs per device message). */
  ofDevice(deviceId: string): Entity[] {
    const out: Entity[] = [];
    for (const e of this.byId.values()) if (e.deviceId === deviceId) out.push({ ...e });
    return out.sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  /** Creates or updates an entity's definition (not its state). */
  upsert(input: EntityInput): Entity {
    if (!ENTITY_ID.test(input.id)) {
      throw new EntityError(
        'BAD_ID',
        `entity id "${input.id}" is not valid: use domain.name in lower case, e.g. light.living_room`,
      );
    }
    const existing = this.byId.get(input.id);
    const next: Entity = {
      id: input.id,
      uniqueId: input.uniqueId ?? existing?.uniqueId,
      name: input.name ?? existing?.name ?? input.id,
      domain: input.domain ?? existing?.domain ?? input.id.split('.')[0]!,
      state: existing?.state ?? null,
      attributes: input.replaceAttributes
        ? { ...(input.attributes ?? {}) }
        : { ...(existing?.attributes ?? {}), ...(input.attributes ?? {}) },
      lastChanged: existing?.lastChanged,
      lastUpdated: existing?.lastUpdated,
      available: existing?.available ?? true,
      script: input.script === undefined ? existing?.script : (input.script ?? undefined),
      actions: input.actions ?? existing?.actions ?? [],
      source: input.source ?? existing?.source ?? 'config',
      deviceId: input.deviceId === undefined ? existing?.deviceId : (input.deviceId ?? undefined),
      category: input.category === undefined ? existing?.category : (input.category ?? undefined),
      area: input.area === undefined ? existing?.area : (input.area ?? undefined),
    };
    if (existing && same(existing, next)) return { ...existing };
    const row = {
      id: next.id,
      uniqueId: next.uniqueId ?? null,
      name: next.name,
      domain: next.domain,
      script: next.script ?? null,
      actions: JSON.stringify(next.actions),
      source: next.source,
      attributes: JSON.stringify(next.attributes),
      deviceId: next.deviceId ?? null,
      category: next.category ?? null,
      area: next.area ?? null,
      state: JSON.stringify(next.state ?? null),
      lastChanged: next.lastChanged ?? null,
      lastUpdated: next.lastUpdated ?? null,
      available: next.available ? 1 : 0,
    };
    if (existing) {
      if (existing.uniqueId && existing.uniqueId !== next.uniqueId) this.unique.delete(existing.uniqueId);
      this.q.update.run(row);
    } else this.q.insert.run(row);
    this.remember(next);
    this.events.emit('entity.defined', { entityId: input.id, added: !existing });
    return { ...next };
  }

  /**
   * Sets state (and merges attributes). `last_changed` moves only when the state value changes;
   * a change is an `entity.stateChanged` event and a history row. Every call is a report: an
   * action waiting for the device to confirm sees it (`onReport`).
   */
  setState(id: string, state: unknown, attributes?: Record<string, unknown> | null): Entity {
    const e = this.byId.get(id);
    if (!e) throw new EntityError('UNKNOWN_ENTITY', `no entity "${id}"`);
    const now = Date.now();
    this.stats.reports++;
    const oldState = e.state ?? null;
    const changed = !same(state ?? null, oldState);
    const attrs = attributes ? { ...e.attributes, ...attributes } : e.attributes;
    const attrsChanged = attributes ? !same(attrs, e.attributes) : false;
    e.state = state ?? null;
    e.attributes = attrs;
    e.lastUpdated = now;
    if (changed || e.lastChanged === undefined) e.lastChanged = now;
    this.dirty.add(id);
    if (changed || attrsChanged) this.recorder?.record(id, e.state, attrs, now);
    this.scheduleFlush();
    const next = { ...e };
    if (changed)
      this.events.emit('entity.stateChanged', {
        entityId: id,
        oldState,
        newState: next.state,
        attributes: next.attributes,
        time: now,
      });
    else if (attrsChanged)
      this.events.emit('entity.attributesChanged', { entityId: id, attributes: next.attributes, time: now });
    for (const fn of this.reports.get(id) ?? []) fn(next);
    return next;
  }

  /** Calls `fn` with the entity each time its device reports a state, until the returned function is called. */
  onReport(id: string, fn: (e: Entity) => void): () => void {
    let set = this.reports.get(id);
    if (!set) this.reports.set(id, (set = new Set()));
    set.add(fn);
    return () => {
      set.delete(fn);
      if (set.size === 0) this.reports.delete(id);
    };
  }

  setAvailable(id: string, available: boolean): void {
    const e = this.byId.get(id);
    if (!e || e.available === available) return;
    e.available = available;
    this.q.setAvailable.run(available ? 1 : 0, id);
    this.events.emit('entity.availability', { entityId: id, available });
  }

  remove(id: string): boolean {
    const e = this.byId.get(id);
    if (!e) return false;
    this.flush();
    this.byId.delete(id);
    if (e.uniqueId && this.unique.get(e.uniqueId) === id) this.unique.delete(e.uniqueId);
    this.q.remove.run(id);
    this.events.emit('entity.removed', { entityId: id });
    return true;
  }

  private scheduleFlush(): void {
    this.flushing ??= setImmediate(() => this.flush());
  }

  /** Writes the states of this turn in one transaction (also on stop). */
  flush(): void {
    if (this.flushing) clearImmediate(this.flushing);
    this.flushing = undefined;
    if (this.dirty.size === 0) return;
    const ids = [...this.dirty];
    this.dirty.clear();
    this.stats.flushes++;
    this.db.transaction(() => {
      for (const id of ids) {
        const e = this.byId.get(id);
        if (!e) continue;
        this.q.setState.run(
          JSON.stringify(e.state ?? null),
          JSON.stringify(e.attributes),
          e.lastChanged ?? null,
          e.lastUpdated ?? null,
          id,
        );
      }
    })();
    this.recorder?.flush();
  }
}
