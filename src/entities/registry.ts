// Entities: persisted in SQLite, state changes are events on the bus and kept in a bounded history.
import type { Db } from '../store/db.js';
import type { EventBus } from '../events.js';
import { entityTables, type EntityTables } from '../store/entities.js';

export const ENTITY_ID = /^[a-z_][a-z0-9_]*\.[a-z0-9_]+$/;

export interface Entity {
  id: string;
  uniqueId?: string;
  name: string;
  type: string;
  state: unknown;
  attributes: Record<string, unknown>;
  lastChanged?: number;
  lastUpdated?: number;
  available: boolean;
  /** Script file (relative to the scripts dir) that runs this entity's actions. */
  script?: string;
  actions: string[];
  source: string;
}

export interface EntityInput {
  id: string;
  uniqueId?: string;
  name?: string;
  type?: string;
  script?: string | null;
  actions?: string[];
  source?: string;
  attributes?: Record<string, unknown>;
}

/** A mistake about an entity the user can fix: unknown id, bad id, unknown action. */
export class EntityError extends Error {
  override name = 'EntityError';
  constructor(
    readonly code: 'UNKNOWN_ENTITY' | 'BAD_ID' | 'UNKNOWN_ACTION' | 'BAD_PARAM' | 'ACTION_FAILED',
    message: string,
  ) {
    super(message);
  }
}

type Row = Record<string, unknown>;

function fromRow(r: Row): Entity {
  return {
    id: r.id as string,
    uniqueId: (r.unique_id as string | null) ?? undefined,
    name: r.name as string,
    type: r.type as string,
    state: r.state === null ? null : JSON.parse(r.state as string),
    attributes: JSON.parse(r.attributes as string) as Record<string, unknown>,
    lastChanged: (r.last_changed as number | null) ?? undefined,
    lastUpdated: (r.last_updated as number | null) ?? undefined,
    available: r.available === 1,
    script: (r.script as string | null) ?? undefined,
    actions: JSON.parse(r.actions as string) as string[],
    source: r.source as string,
  };
}

export class EntityRegistry {
  private readonly q: EntityTables;

  constructor(
    private readonly db: Db,
    private readonly events: EventBus,
    private readonly historySize = 100,
  ) {
    this.q = entityTables(db);
  }

  get(id: string): Entity | undefined {
    const r = this.q.get.get(id) as Row | undefined;
    return r && fromRow(r);
  }

  require(id: string): Entity {
    const e = this.get(id);
    if (!e) throw new EntityError('UNKNOWN_ENTITY', `no entity "${id}"`);
    return e;
  }

  byUniqueId(uniqueId: string): Entity | undefined {
    const r = this.q.byUnique.get(uniqueId) as Row | undefined;
    return r && fromRow(r);
  }

  list(): Entity[] {
    return (this.q.all.all() as Row[]).map(fromRow);
  }

  /** Creates or updates an entity's definition (not its state). */
  upsert(input: EntityInput): Entity {
    if (!ENTITY_ID.test(input.id)) {
      throw new EntityError(
        'BAD_ID',
        `entity id "${input.id}" is not valid: use domain.name in lower case, e.g. light.living_room`,
      );
    }
    const existing = this.get(input.id);
    const row = {
      id: input.id,
      uniqueId: input.uniqueId ?? existing?.uniqueId ?? null,
      name: input.name ?? existing?.name ?? input.id,
      type: input.type ?? existing?.type ?? input.id.split('.')[0]!,
      script: input.script === undefined ? (existing?.script ?? null) : input.script,
      actions: JSON.stringify(input.actions ?? existing?.actions ?? []),
      source: input.source ?? existing?.source ?? 'config',
      attributes: JSON.stringify({ ...(existing?.attributes ?? {}), ...(input.attributes ?? {}) }),
    };
    if (existing) this.q.update.run(row);
    else this.q.insert.run(row);
    const now = this.get(input.id)!;
    if (!existing || JSON.stringify(existing) !== JSON.stringify(now))
      this.events.emit('entity.defined', { entityId: input.id, added: !existing });
    return now;
  }

  /**
   * Sets state (and merges attributes). `last_changed` moves only when the state value changes;
   * a change is an `entity.stateChanged` event and a history row.
   */
  setState(id: string, state: unknown, attributes?: Record<string, unknown> | null): Entity {
    const e = this.require(id);
    const now = Date.now();
    const stateJson = JSON.stringify(state ?? null);
    const changed = stateJson !== JSON.stringify(e.state ?? null);
    const attrs = attributes ? { ...e.attributes, ...attributes } : e.attributes;
    const attrsJson = JSON.stringify(attrs);
    this.db.transaction(() => {
      this.q.setState.run(stateJson, attrsJson, changed ? now : (e.lastChanged ?? now), now, id);
      if (changed || attrsJson !== JSON.stringify(e.attributes)) {
        this.q.history.run(id, stateJson, attrsJson, now);
        this.q.trimHistory.run(id, id, this.historySize);
      }
    })();
    const next = this.get(id)!;
    if (changed)
      this.events.emit('entity.stateChanged', {
        entityId: id,
        oldState: e.state ?? null,
        newState: next.state,
        attributes: next.attributes,
        time: now,
      });
    return next;
  }

  setAvailable(id: string, available: boolean): void {
    const e = this.get(id);
    if (!e || e.available === available) return;
    this.q.setAvailable.run(available ? 1 : 0, id);
    this.events.emit('entity.availability', { entityId: id, available });
  }

  remove(id: string): boolean {
    const removed = this.q.remove.run(id).changes > 0;
    if (removed) this.events.emit('entity.removed', { entityId: id });
    return removed;
  }

  history(id: string, limit = 100): { state: unknown; attributes: Record<string, unknown>; time: number }[] {
    return (this.q.readHistory.all(id, limit) as Row[]).map((r) => ({
      state: r.state === null ? null : JSON.parse(r.state as string),
      attributes: JSON.parse(r.attributes as string) as Record<string, unknown>,
      time: r.time as number,
    }));
  }
}
