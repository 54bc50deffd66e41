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

interface Feature { type?: string; name?: string; property?: string; access?: number; features?: Feature[]; value_on?: unknown; value_off?: unknown }
interface Device {
  ieee_address: string; friendly_name: string; type?: string; disabled?: boolean;
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
      if (f.property && ((f.access ?? 0) & SETTABLE)) settable.add(f.property);
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
  return name.toLowerCase().normalize('NFKD').replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '') || 'device';
}

export class Zigbee2Mqtt {
  /** friendly_name -> ieee_address, for routing state topics (friendly names may contain "/"). */
  private readonly names = new Map<string, string>();
  private off: (() => void)[] = [];

  constructor(private readonly ctx: Zigbee2MqttContext) {}

  async start(): Promise<void> {
    const { ctx } = this;
    // Known devices from the last run, until bridge/devices (retained) arrives.
    for (const e of ctx.registry.list()) {
      if (e.source === SOURCE && typeof e.attributes.friendly_name === 'string' && e.uniqueId) this.names.set(e.attributes.friendly_name, e.uniqueId);
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
      if (!d || typeof d.ieee_address !== 'string' || typeof d.friendly_name !== 'string' || d.type === 'Coordinator') continue;
      seen.add(d.ieee_address);
      this.names.set(d.friendly_name, d.ieee_address);
      const uniqueId = d.ieee_address;
      const exposes = d.definition?.exposes ?? [];
      const existing = this.ctx.registry.byUniqueId(uniqueId);
      const attributes = {
        friendly_name: d.friendly_name, ieee_address: d.ieee_address, model: d.definition?.model, vendor: d.definition?.vendor,
        description: d.definition?.description,
      };
      if (existing) {
        if (existing.attributes.friendly_name !== d.friendly_name) {
          this.ctx.log.info({ entity: existing.id, from: existing.attributes.friendly_name, to: d.friendly_name }, 'zigbee2mqtt device renamed');
        }
        this.ctx.registry.upsert({ id: existing.id, name: d.friendly_name, actions: actionsOf(exposes), attributes, source: SOURCE });
      } else {
        const id = this.freeId(`${domainOf(exposes)}.${slug(d.friendly_name)}`);
        this.ctx.registry.upsert({ id, uniqueId, name: d.friendly_name, type: domainOf(exposes), actions: actionsOf(exposes), attributes, source: SOURCE });
        this.ctx.log.info({ entity: id, device: d.friendly_name }, 'zigbee2mqtt device added');
      }
    }
    for (const e of this.ctx.registry.list()) {
      if (e.source === SOURCE && e.uniqueId && !seen.has(e.uniqueId)) {
        this.ctx.registry.remove(e.id);
        this.ctx.log.info({ entity: e.id }, 'zigbee2mqtt device removed');
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
    if (!state || typeof state !== 'object' || Array.isArray(state)) throw new Error(`${m.topic}: expected a JSON object, got ${m.payload.toString('utf8').slice(0, 40)}`);
    this.ctx.registry.setState(entity.id, state);
  }

  private onAvailability(friendlyName: string, m: MqttMessageEvent): void {
    const entity = this.entityFor(friendlyName);
    if (!entity) return;
    const text = m.payload.toString('utf8').trim();
    // {"state":"online"} since Zigbee2MQTT 1.27; plain "online"/"offline" before
    const value = text.startsWith('{') ? (this.parse(m) as { state?: unknown }).state : text;
    if (value !== 'online' && value !== 'offline') throw new Error(`${m.topic}: availability must be online or offline, got ${text.slice(0, 40)}`);
    this.ctx.registry.setAvailable(entity.id, value === 'online');
  }

  private async runAction(entity: Entity, action: string, params: Record<string, unknown>): Promise<void> {
    const name = entity.attributes.friendly_name;
    if (typeof name !== 'string') throw new EntityError('ACTION_FAILED', `entity ${entity.id} has no Zigbee2MQTT friendly name`);
    let payload: Record<string, unknown>;
    if (action === 'on' || action === 'off' || action === 'toggle') payload = { state: action.toUpperCase(), ...params };
    else if (action === 'set') payload = params;
    else if (action in params) payload = { [action]: params[action] };
    else if ('value' in params) payload = { [action]: params.value };
    else throw new EntityError('ACTION_FAILED', `action ${action} of ${entity.id} needs a value: pass {${action}: ...} or {value: ...}`);
    await this.ctx.bus.publish(`${this.ctx.baseTopic}/${name}/set`, Buffer.from(JSON.stringify(payload)), { qos: this.ctx.qos, retain: false }, { script: `entity ${entity.id}` });
  }
}
