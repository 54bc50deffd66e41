// What an entity of the config declares, as e154's entities do: named states (`states:`), typed
// attributes and settings (`attributes:`, `settings:` with `{type, value}`) and metrics
// (`metrics:`). Every writer (a script's Entity.setState, e154's EntitySetState, the API) is held
// to them on the host: a state that is not one of the names, an attribute that was not declared or
// a value of the wrong type is an error that names the entity, the attribute and what it expects.

/** e154's attribute types (pkg/common/attributes.go), less `encrypted` (use `!secret`) and `notice`. */
export const ATTRIBUTE_TYPES = [
  'string',
  'int',
  'float',
  'bool',
  'time',
  'array',
  'map',
  'point',
  'icon',
  'image',
] as const;
export type AttributeType = (typeof ATTRIBUTE_TYPES)[number];

export interface NamedState {
  name: string;
  description?: string;
  icon?: string;
}

export interface MetricDecl {
  name: string;
  description?: string;
  unit?: string;
  items: { name: string; description?: string; color?: string }[];
}

/** `attributes:` / typed `settings:` of an entity: a type alone, or `{type, value, description}`. */
export type TypedDecl = AttributeType | { type: AttributeType; value?: unknown; description?: string };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const show = (v: unknown) => {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
};

/**
 * The value as its type holds it, or an error message (what was expected). Numbers in strings are
 * read ("21" for an int) since e154's scripts often pass them so; a time is kept as ISO 8601.
 */
export function coerce(type: AttributeType, v: unknown): { value: unknown } | { error: string } {
  const num = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  switch (type) {
    case 'int':
      return typeof num === 'number' && Number.isSafeInteger(num) ? { value: num } : { error: 'a whole number' };
    case 'float':
      return typeof num === 'number' && Number.isFinite(num) ? { value: num } : { error: 'a number' };
    case 'bool':
      if (typeof v === 'boolean') return { value: v };
      return v === 'true' || v === 'false' ? { value: v === 'true' } : { error: 'true or false' };
    case 'string':
    case 'icon':
    case 'image':
      return typeof v === 'string' ? { value: v } : { error: 'a string' };
    case 'time': {
      const t = typeof v === 'number' ? v : typeof v === 'string' ? Date.parse(v) : Number.NaN;
      return Number.isFinite(t) && Math.abs(t) <= 8.64e15
        ? { value: new Date(t).toISOString() }
        : { error: 'a time (ISO 8601 like "2026-12-02T18:00:00Z", or milliseconds since 1970)' };
    }
    case 'array':
      return Array.isArray(v) ? { value: v } : { error: 'an array' };
    case 'map':
      return isObject(v) ? { value: v } : { error: 'an object' };
    case 'point':
      return Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'number' && Number.isFinite(x))
        ? { value: v }
        : { error: 'a point [longitude, latitude]' };
  }
}

const typeOf = (d: TypedDecl): AttributeType => (typeof d === 'string' ? d : d.type);

/** The entity's declarations, checked once; null parts are not declared (anything goes there). */
export class Declared {
  private readonly stateNames: Map<string, NamedState> | null;
  constructor(
    readonly entityId: string,
    readonly states: NamedState[],
    private readonly attributes: Record<string, TypedDecl>,
    private readonly settings: Record<string, unknown>,
    readonly metrics: MetricDecl[],
  ) {
    this.stateNames = states.length > 0 ? new Map(states.map((s) => [s.name, s])) : null;
  }

  /** The declared attributes' values at start (those with a `value:`). */
  initialAttributes(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [k, d] of Object.entries(this.attributes))
      if (typeof d !== 'string' && d.value !== undefined) out[k] = d.value;
    return out;
  }

  /** The settings as values (a typed one's `value`). */
  settingValues(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [k, d] of Object.entries(this.settings)) out[k] = isTyped(d) ? (d.value ?? null) : d;
    return out;
  }

  /** Its named state ({name, description, icon}, e154's EntityStateShort), or null. */
  named(state: unknown): NamedState | null {
    if (state === null || state === undefined) return null;
    return this.stateNames?.get(String(state)) ?? null;
  }

  /** Throws (the message names the entity and the names it has) when the state is not one of them. */
  checkState(state: unknown): void {
    if (!this.stateNames || state === null || state === undefined) return;
    if (!this.stateNames.has(String(state)))
      throw new TypeError(
        `entity ${this.entityId}: state ${show(state)} is not one of its states (${[...this.stateNames.keys()].join(', ')}); add it under states: of the entity in smart-home.yaml, or use one of these`,
      );
  }

  /** The attributes as their declared types hold them; throws on an undeclared one or a wrong type. */
  checkAttributes(attrs: Record<string, unknown>): Record<string, unknown> {
    const names = Object.keys(this.attributes);
    if (names.length === 0) return attrs;
    return this.typed('attribute', attrs, (k) => this.attributes[k], names);
  }

  /** The settings a script sets, as their declared types hold them (plain settings take any value). */
  checkSettings(values: Record<string, unknown>): Record<string, unknown> {
    return this.typed('setting', values, (k) => {
      const d = this.settings[k];
      return isTyped(d) ? d : undefined;
    });
  }

  /** The metric and its values as numbers; throws naming what is wrong. */
  checkMetric(name: string, values: unknown): { metric: MetricDecl; values: Record<string, number> } {
    const metric = this.metrics.find((m) => m.name === name);
    if (!metric)
      throw new TypeError(
        this.metrics.length === 0
          ? `entity ${this.entityId} has no metrics; declare "${name}" under metrics: of the entity in smart-home.yaml`
          : `entity ${this.entityId} has no metric "${name}" (it has ${this.metrics.map((m) => m.name).join(', ')})`,
      );
    if (!isObject(values))
      throw new TypeError(
        `metric ${name} of ${this.entityId}: the value must be an object {item: number}, got ${show(values)}`,
      );
    const out: Record<string, number> = {};
    for (const [k, v] of Object.entries(values)) {
      if (!metric.items.some((i) => i.name === k))
        throw new TypeError(
          `metric ${name} of ${this.entityId} has no item "${k}" (it has ${metric.items.map((i) => i.name).join(', ')})`,
        );
      const n = coerce('float', v);
      if ('error' in n)
        throw new TypeError(`metric ${name} of ${this.entityId}: ${k} must be a number, got ${show(v)}`);
      out[k] = n.value as number;
    }
    if (Object.keys(out).length === 0)
      throw new TypeError(
        `metric ${name} of ${this.entityId}: give at least one of ${metric.items.map((i) => i.name).join(', ')}`,
      );
    return { metric, values: out };
  }

  private typed(
    what: string,
    values: Record<string, unknown>,
    declOf: (k: string) => TypedDecl | undefined,
    strictNames?: string[],
  ): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(values)) {
      const d = declOf(k);
      if (!d) {
        if (strictNames)
          throw new TypeError(
            `entity ${this.entityId} has no ${what} "${k}" (it declares ${strictNames.join(', ')}); add it under ${what}s: of the entity in smart-home.yaml`,
          );
        out[k] = v;
        continue;
      }
      if (v === null) {
        out[k] = null;
        continue;
      }
      const c = coerce(typeOf(d), v);
      if ('error' in c)
        throw new TypeError(`${what} ${k} of ${this.entityId} is ${typeOf(d)}: expected ${c.error}, got ${show(v)}`);
      out[k] = c.value;
    }
    return out;
  }
}

function isTyped(d: unknown): d is { type: AttributeType; value?: unknown } {
  return isObject(d) && typeof d.type === 'string' && (ATTRIBUTE_TYPES as readonly string[]).includes(d.type);
}
