// Zigbee2MQTT: one entity per device from the retained `<base>/bridge/devices` list, state from
// `<base>/<friendly_name>`, availability from `<base>/<friendly_name>/availability`, actions
// publishing to `<base>/<friendly_name>/set`. Devices are keyed by IEEE address, so a renamed
// device keeps its entity; a removed one loses it.
import type { EventBus, MqttMessageEvent } from '../../events.js';
import type { Logger } from '../../log.js';
import type { MqttBus } from '../../mqtt/bus.js';
import type { ActionRunner } from '../actions.js';
import { EntityError, type Entity, type EntityRegistry } from '../registry.js';

export interface Zigbee2MqttContext {
  baseTopic: string;
  qos: 0 | 1 | 2;
  bus: MqttBus;
  events: EventBus;
  registry: EntityRegistry;
  actions: ActionRunner;
  log: Logger;
}

interface Feature {
  type?: string;
  name?: string;
  property?: string;
  access?: number;
  features?: Feature[];
  value_on?: unknown;
  value_off?: unknown;
  value_toggle?: unknown;
  value_min?: number;
  value_max?: number;
  value_step?: number;
  unit?: string;
  values?: unknown[];
}

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

const range = (s: Settable) =>
  s.min !== undefined || s.max !== undefined ? ` (${s.min ?? '…'}–${s.max ?? '…'}${s.unit ? ` ${s.unit}` : ''})` : '';
interface Device {
  ieee_address: string;
  friendly_name: string;
  type?: string;
  disabled?: boolean;
  definition?: { model?: string; vendor?: string; description?: string; exposes?: Feature[] } | null;
}

const SOURCE = 'zigbee2mqtt';
const SETTABLE = 0b010;
const DOMAINS = ['light', 'switch', 'cover', 'lock', 'climate', 'fan'];

/** The entity domain for a device: its first specific expose type, else sensor. */
export function domainOf(exposes: Feature[] = []): string {
  return exposes.map((e) => e.type ?? '').find((t) => DOMAINS.includes(t)) ?? 'sensor';
}

/** Actions a device accepts, from the settable features it exposes. */
export function actionsOf(exposes: Feature[] = []): string[] {
  const settable = new Set<string>();
  const walk = (fs: Feature[]) => {
    for (const f of fs) {
      if (f.features) walk(f.features);
      if (f.property && (f.access ?? 0) & SETTABLE) settable.add(f.property);
    }
  };
  walk(exposes);
  const out: string[] = [];
  if (settable.has('state')) out.push('on', 'off', 'toggle');
  for (const p of settable) if (p !== 'state') out.push(p);
  if (settable.size > 0) out.push('set');
  return out;
}

export function slug(name: string): string {
  return (
    name
      .toLowerCase()
      .normalize('NFKD')
      .replace(/[^a-z0-9]+/g, '_')
      .replace(/^_+|_+$/g, '') || 'device'
  );
}

export class Zigbee2Mqtt {
  /** friendly_name -> ieee_address, for routing state topics (friendly names may contain "/"). */
  private readonly names = new Map<string, string>();
  private off: (() => void)[] = [];
  /** Whether Zigbee2MQTT itself is up (`bridge/state`); while it is not, none of its devices is. */
  private bridgeOnline = true;
  /** Each device's own availability (`<name>/availability`), by entity id. */
  private readonly deviceOnline = new Map<string, boolean>();

  constructor(private readonly ctx: Zigbee2MqttContext) {}

  async start(): Promise<void> {
    const { ctx } = this;
    // Known devices from the last run, until bridge/devices (retained) arrives.
    for (const e of ctx.registry.list()) {
      if (e.source === SOURCE && typeof e.attributes.friendly_name === 'string' && e.uniqueId)
        this.names.set(e.attributes.friendly_name, e.uniqueId);
    }
    this.off.push(ctx.events.on('mqtt.message', (m) => this.onMessage(m)));
    this.off.push(ctx.actions.register(SOURCE, (entity, action, params) => this.runAction(entity, action, params)));
    await ctx.bus.subscribe(`${ctx.baseTopic}/#`, 1);
  }

  async stop(): Promise<void> {
    for (const f of this.off) f();
    this.off = [];
    await this.ctx.bus.unsubscribe(`${this.ctx.baseTopic}/#`).catch(() => {});
  }

  private onMessage(m: MqttMessageEvent): void {
    const base = `${this.ctx.baseTopic}/`;
    if (!m.topic.startsWith(base)) return;
    const rest = m.topic.slice(base.length);
    try {
      if (rest === 'bridge/devices') this.onDevices(m);
      else if (rest === 'bridge/state') this.onBridgeState(m);
      else if (rest.startsWith('bridge/')) return;
      else if (rest.endsWith('/availability')) this.onAvailability(rest.slice(0, -'/availability'.length), m);
      else if (this.names.has(rest)) this.onState(rest, m);
    } catch (err) {
      // A bad payload on one device topic never stops the others.
      this.ctx.log.warn({ topic: m.topic, err: (err as Error).message }, 'zigbee2mqtt message ignored');
    }
  }

  private parse(m: MqttMessageEvent): unknown {
    try {
      return JSON.parse(m.payload.toString('utf8'));
    } catch (err) {
      throw new Error(`malformed JSON on ${m.topic}: ${(err as Error).message}; the entity keeps its last good state`);
    }
  }

  private onDevices(m: MqttMessageEvent): void {
    const devices = this.parse(m);
    if (!Array.isArray(devices)) throw new Error(`${m.topic}: expected a JSON array of devices`);
    const seen = new Set<string>();
    this.names.clear();
    for (const d of devices as Device[]) {
      if (!d || typeof d.ieee_address !== 'string' || typeof d.friendly_name !== 'string' || d.type === 'Coordinator')
        continue;
      seen.add(d.ieee_address);
      this.names.set(d.friendly_name, d.ieee_address);
      const uniqueId = d.ieee_address;
      const exposes = d.definition?.exposes ?? [];
      const existing = this.ctx.registry.byUniqueId(uniqueId);
      const attributes = {
        friendly_name: d.friendly_name,
        ieee_address: d.ieee_address,
        model: d.definition?.model,
        vendor: d.definition?.vendor,
        description: d.definition?.description,
        settable: settableOf(exposes),
      };
      if (existing) {
        if (existing.attributes.friendly_name !== d.friendly_name) {
          this.ctx.log.info(
            { entity: existing.id, from: existing.attributes.friendly_name, to: d.friendly_name },
            'zigbee2mqtt device renamed',
          );
        }
        this.ctx.registry.upsert({
          id: existing.id,
          name: d.friendly_name,
          actions: actionsOf(exposes),
          attributes,
          source: SOURCE,
        });
      } else {
        const id = this.freeId(`${domainOf(exposes)}.${slug(d.friendly_name)}`);
        this.ctx.registry.upsert({
          id,
          uniqueId,
          name: d.friendly_name,
          type: domainOf(exposes),
          actions: actionsOf(exposes),
          attributes,
          source: SOURCE,
        });
        this.ctx.log.info({ entity: id, device: d.friendly_name }, 'zigbee2mqtt device added');
      }
    }
    for (const e of this.ctx.registry.list()) {
      if (e.source === SOURCE && e.uniqueId && !seen.has(e.uniqueId)) {
        this.ctx.registry.remove(e.id);
        this.ctx.log.info({ entity: e.id }, 'zigbee2mqtt device removed');
      } else if (e.source === SOURCE && !this.bridgeOnline) {
        this.ctx.registry.setAvailable(e.id, false); // listed while Zigbee2MQTT is down
      }
    }
  }

  private freeId(wanted: string): string {
    let id = wanted;
    for (let n = 2; this.ctx.registry.get(id); n++) id = `${wanted}_${n}`;
    return id;
  }

  private entityFor(friendlyName: string): Entity | undefined {
    const ieee = this.names.get(friendlyName);
    return ieee ? this.ctx.registry.byUniqueId(ieee) : undefined;
  }

  private onState(friendlyName: string, m: MqttMessageEvent): void {
    const entity = this.entityFor(friendlyName);
    if (!entity || m.payload.length === 0) return;
    const state = this.parse(m);
    if (!state || typeof state !== 'object' || Array.isArray(state))
      throw new Error(`${m.topic}: expected a JSON object, got ${m.payload.toString('utf8').slice(0, 40)}`);
    this.ctx.registry.setState(entity.id, state);
  }

  private onAvailability(friendlyName: string, m: MqttMessageEvent): void {
    const entity = this.entityFor(friendlyName);
    if (!entity) return;
    this.deviceOnline.set(entity.id, this.online(m));
    this.ctx.registry.setAvailable(entity.id, this.bridgeOnline && this.deviceOnline.get(entity.id)!);
  }

  /**
   * `bridge/state`: Zigbee2MQTT publishes it retained when it connects and sets it as its MQTT
   * will (lib/mqtt.ts: `availabilityPayload('offline')`), so a crashed or stopped Zigbee2MQTT makes
   * every one of its devices unavailable, and its return gives each its own availability back.
   */
  private onBridgeState(m: MqttMessageEvent): void {
    const online = this.online(m);
    if (online === this.bridgeOnline) return;
    this.bridgeOnline = online;
    this.ctx.log.info(
      { bridge: this.ctx.baseTopic },
      `Zigbee2MQTT is ${online ? 'online' : 'offline'}: its devices are ${online ? 'available again' : 'unavailable'}`,
    );
    for (const e of this.ctx.registry.list()) {
      if (e.source === SOURCE) this.ctx.registry.setAvailable(e.id, online && (this.deviceOnline.get(e.id) ?? true));
    }
  }

  /** An availability payload: {"state":"online"} since Zigbee2MQTT 1.27, plain "online"/"offline" before. */
  private online(m: MqttMessageEvent): boolean {
    const text = m.payload.toString('utf8').trim();
    const value = text.startsWith('{') ? (this.parse(m) as { state?: unknown }).state : text;
    if (value !== 'online' && value !== 'offline')
      throw new Error(`${m.topic}: availability must be online or offline, got ${text.slice(0, 40)}`);
    return value === 'online';
  }

  private async runAction(entity: Entity, action: string, params: Record<string, unknown>): Promise<void> {
    const name = entity.attributes.friendly_name;
    if (typeof name !== 'string')
      throw new EntityError('ACTION_FAILED', `entity ${entity.id} has no Zigbee2MQTT friendly name`);
    let payload: Record<string, unknown>;
    if (action === 'on' || action === 'off' || action === 'toggle')
      payload = { state: action.toUpperCase(), ...params };
    else if (action === 'set') payload = params;
    else if (action in params) payload = { [action]: params[action] };
    else if ('value' in params) payload = { [action]: params.value };
    else
      throw new EntityError(
        'BAD_PARAM',
        `action ${action} of ${entity.id} needs a value: pass {${action}: ...} or {value: ...}`,
      );
    // (an entity stored before its device list told what it accepts is not checked until it does)
    const settable = entity.attributes.settable as Record<string, Settable> | undefined;
    const why = settable ? refusal(settable, payload, entity.id) : undefined;
    if (why) throw new EntityError('BAD_PARAM', `${why}; nothing was sent`);
    await this.ctx.bus.publish(
      `${this.ctx.baseTopic}/${name}/set`,
      Buffer.from(JSON.stringify(payload)),
      { qos: this.ctx.qos, retain: false },
      { script: `entity ${entity.id}` },
    );
  }
}
