// Zigbee2MQTT: a device for each entry of the retained `<base>/bridge/devices` and each group of
// `<base>/bridge/groups`, an entity for each exposed feature and endpoint (exposes.ts), state from
// `<base>/<friendly_name>`, availability from `<friendly_name>/availability` and `bridge/state`,
// actions on `<friendly_name>/set`, confirmed by the state Zigbee2MQTT publishes back and failed
// by its error log (`bridge/logging`). Devices are keyed by IEEE address, so a renamed device
// keeps its entities; a removed one loses them. Formats: Zigbee2MQTT lib/extension/bridge.ts
// (devices, groups, logging, request/response), lib/mqtt.ts (bridge/state as will),
// lib/extension/publish.ts (set/get and its error messages).
import type { MqttMessageEvent } from '../../../events.js';
import type { Device as DeviceRecord } from '../../devices.js';
import { EntityError, type Entity } from '../../registry.js';
import { freeId, isObject, markProblem, parseJson, slug, Warnings } from '../common.js';
import type { Integration, IntegrationCommand, IntegrationContext } from '../index.js';
import { entitiesOf, featureName, type Feature, type FeatureEntity } from './exposes.js';
import { refusal, settableOf, type Settable } from './settable.js';

const SOURCE = 'zigbee2mqtt';
const BRIDGE = `${SOURCE}:bridge`;
/** A device's state is a few hundred bytes; bridge/devices of a big network is megabytes. */
const STATE_MAX = 64 * 1024;
const LIST_MAX = 32 * 1024 * 1024;

interface DeviceEntry {
  ieee_address: string;
  friendly_name: string;
  type?: string;
  disabled?: boolean;
  software_build_id?: string;
  manufacturer?: string;
  definition?: { model?: string; vendor?: string; description?: string; exposes?: Feature[] } | null;
}
interface GroupEntry {
  id: number;
  friendly_name: string;
  members?: { ieee_address: string; endpoint?: number }[];
}

/** A device or group Zigbee2MQTT told us about. */
interface Known {
  /** IEEE address, or `group:<id>`. */
  id: string;
  name: string;
  deviceId: string;
  exposes: Feature[];
  specs: FeatureEntity[];
  settable: Record<string, Settable>;
  /** Battery devices sleep: a `/get` would only time out in Zigbee2MQTT. */
  sleepy: boolean;
}

export class Zigbee2Mqtt implements Integration {
  private readonly base: string;
  private readonly qos: 0 | 1 | 2;
  private readonly byName = new Map<string, Known>();
  private readonly byDevice = new Map<string, Known>();
  private off: (() => void)[] = [];
  /** Whether Zigbee2MQTT itself is up (`bridge/state`); while it is not, none of its devices is. */
  private bridgeOnline = true;
  /** Each device's own availability (`<name>/availability`), by device id. */
  private readonly deviceOnline = new Map<string, boolean>();
  /** Devices whose state arrived since start (the others are asked with `/get`). */
  private readonly reported = new Set<string>();
  private getTimer: NodeJS.Timeout | undefined;
  private readonly requests = new Map<string, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private transactions = 0;
  private readonly warnings: Warnings;
  readonly commands: Record<string, IntegrationCommand>;

  constructor(private readonly ctx: IntegrationContext) {
    this.base = ctx.config.zigbee2mqtt.base_topic;
    this.qos = ctx.config.zigbee2mqtt.qos;
    this.warnings = new Warnings(ctx.log);
    this.commands = {
      permit_join: {
        summary: 'let new devices join for `time` seconds (0 closes; at most 254)',
        params: { time: 'seconds, 0–254 (default 254)', device: 'only through this router (friendly name)' },
        run: (p) => {
          const time = p.time === undefined ? 254 : p.time;
          if (typeof time !== 'number' || !Number.isInteger(time) || time < 0 || time > 254)
            throw new EntityError(
              'BAD_PARAM',
              `permit_join: time must be a whole number of seconds 0–254, got ${JSON.stringify(time)}`,
            );
          return this.request('permit_join', { time, ...(typeof p.device === 'string' ? { device: p.device } : {}) });
        },
      },
      rename: {
        summary: 'rename a device in Zigbee2MQTT (its entities keep their ids)',
        params: { from: 'friendly name, device id or entity id', to: 'the new friendly name' },
        run: (p) => {
          if (typeof p.to !== 'string' || p.to === '')
            throw new EntityError('BAD_PARAM', 'rename: give "to", the new name');
          return this.request('device/rename', { from: this.nameOf(p.from, 'rename'), to: p.to });
        },
      },
      remove: {
        summary: 'remove a device from the Zigbee network',
        params: { id: 'friendly name, device id or entity id', force: 'true to remove a device that does not answer' },
        run: (p) =>
          this.request('device/remove', {
            id: this.nameOf(p.id, 'remove'),
            ...(p.force === true ? { force: true } : {}),
          }),
      },
    };
  }

  async start(): Promise<void> {
    const { ctx } = this;
    // Known devices from the last run, until bridge/devices (retained) arrives.
    for (const d of ctx.devices.list(SOURCE)) if (d.id !== BRIDGE) this.remember(d);
    ctx.devices.upsert({ id: BRIDGE, integration: SOURCE, name: 'Zigbee2MQTT', model: `bridge on ${this.base}/` });
    this.off.push(ctx.events.on('mqtt.message', (m) => this.onMessage(m)));
    this.off.push(ctx.actions.register(SOURCE, (entity, action, params) => this.runAction(entity, action, params)));
    await ctx.bus.subscribe(`${this.base}/#`, 1);
  }

  async stop(): Promise<void> {
    for (const f of this.off) f();
    this.off = [];
    clearTimeout(this.getTimer);
    for (const r of this.requests.values()) r.reject(new EntityError('UNAVAILABLE', 'the hub is stopping'));
    this.requests.clear();
    await this.ctx.bus.unsubscribe(`${this.base}/#`).catch(() => {});
  }

  status(): Record<string, unknown> {
    return {
      online: this.bridgeOnline,
      devices: [...this.byDevice.values()].filter((k) => !k.id.startsWith('group:')).length,
    };
  }

  commandTopics(entity: Entity): string[] {
    const k = entity.deviceId ? this.byDevice.get(entity.deviceId) : undefined;
    return k ? [`${this.base}/${k.name}/set`] : [];
  }

  private remember(d: DeviceRecord): void {
    const raw = d.discovery as { exposes?: Feature[]; power_source?: unknown } | undefined;
    const exposes = raw?.exposes ?? [];
    const known: Known = {
      id: d.id.slice(SOURCE.length + 1),
      name: d.name,
      deviceId: d.id,
      exposes,
      specs: entitiesOf(exposes),
      settable: settableOf(exposes),
      sleepy: raw?.power_source === 'Battery',
    };
    for (const [name, k] of this.byName) if (k.deviceId === d.id) this.byName.delete(name);
    this.byName.set(known.name, known);
    this.byDevice.set(known.deviceId, known);
  }

  private onMessage(m: MqttMessageEvent): void {
    const base = `${this.base}/`;
    if (!m.topic.startsWith(base)) return;
    const rest = m.topic.slice(base.length);
    try {
      if (rest === 'bridge/devices') this.onDevices(m);
      else if (rest === 'bridge/groups') this.onGroups(m);
      else if (rest === 'bridge/state') this.onBridgeState(m);
      else if (rest === 'bridge/logging') this.onLogging(m);
      else if (rest.startsWith('bridge/response/')) this.onResponse(m);
      else if (rest.startsWith('bridge/')) return;
      else if (rest.endsWith('/availability')) this.onAvailability(rest.slice(0, -'/availability'.length), m);
      else if (this.byName.has(rest)) this.onState(this.byName.get(rest)!, m);
    } catch (err) {
      // A bad payload on one device topic never stops the others.
      this.warnings.warn(m.topic, `zigbee2mqtt message ignored: ${(err as Error).message}`);
    }
  }

  private onDevices(m: MqttMessageEvent): void {
    const list = parseJson(m.topic, m.payload, LIST_MAX);
    if (!Array.isArray(list)) throw new Error(`${m.topic}: expected a JSON array of devices`);
    const seen = new Set<string>();
    for (const d of list as DeviceEntry[]) {
      if (!isObject(d) || typeof d.ieee_address !== 'string' || typeof d.friendly_name !== 'string') continue;
      if (d.type === 'Coordinator') continue;
      const deviceId = `${SOURCE}:${d.ieee_address}`;
      seen.add(deviceId);
      const before = this.ctx.devices.get(deviceId);
      if (before && before.name !== d.friendly_name)
        this.ctx.log.info({ device: deviceId, from: before.name, to: d.friendly_name }, 'zigbee2mqtt device renamed');
      const exposes = Array.isArray(d.definition?.exposes) ? d.definition.exposes : [];
      const device = this.ctx.devices.upsert({
        id: deviceId,
        integration: SOURCE,
        name: d.friendly_name,
        manufacturer: d.definition?.vendor ?? d.manufacturer,
        model: d.definition?.model,
        swVersion: d.software_build_id,
        via: BRIDGE,
        connections: [['zigbee', d.ieee_address]],
        discovery: { ...d, exposes },
      });
      if (!before) this.ctx.log.info({ device: deviceId, name: d.friendly_name }, 'zigbee2mqtt device added');
      this.remember(device);
      this.defineEntities(this.byDevice.get(deviceId)!, d.definition?.description);
    }
    this.forget((k) => !k.id.startsWith('group:') && !seen.has(k.deviceId));
    this.scheduleGets();
  }

  private onGroups(m: MqttMessageEvent): void {
    const list = parseJson(m.topic, m.payload, LIST_MAX);
    if (!Array.isArray(list)) throw new Error(`${m.topic}: expected a JSON array of groups`);
    const seen = new Set<string>();
    for (const g of list as GroupEntry[]) {
      if (!isObject(g) || typeof g.id !== 'number' || typeof g.friendly_name !== 'string') continue;
      if (g.friendly_name === 'default_bind_group') continue;
      // a group is a light if a member is, else a switch if a member is; its state has no endpoints
      const members = (g.members ?? []).map((x) => this.byDevice.get(`${SOURCE}:${x.ieee_address}`)).filter((x) => !!x);
      const control = ['light', 'switch']
        .map((type) => members.flatMap((k) => k.exposes).find((f) => f.type === type))
        .find((f) => !!f);
      if (!control) continue;
      const exposes = [{ ...control, endpoint: undefined, features: (control.features ?? []).map(unsuffixed) }];
      const deviceId = `${SOURCE}:group:${g.id}`;
      seen.add(deviceId);
      const device = this.ctx.devices.upsert({
        id: deviceId,
        integration: SOURCE,
        name: g.friendly_name,
        model: 'Zigbee group',
        via: BRIDGE,
        discovery: { ...g, exposes },
      });
      this.remember(device);
      this.defineEntities(this.byDevice.get(deviceId)!, `group of ${members.map((k) => k.name).join(', ')}`);
    }
    this.forget((k) => k.id.startsWith('group:') && !seen.has(k.deviceId));
  }

  /** Creates or updates the entities of a device from its exposes; drops those it no longer has. */
  private defineEntities(k: Known, description?: string): void {
    const { registry } = this.ctx;
    const keep = new Set<string>();
    for (const spec of k.specs) {
      const uniqueId = `${k.id}:${spec.key}`;
      keep.add(uniqueId);
      const main = !spec.suffix;
      let id = registry.byUniqueId(uniqueId)?.id;
      if (!id) {
        // an entity of the one-entity-per-device model (unique id = the IEEE address) keeps its id
        const legacy = main ? registry.byUniqueId(k.id) : undefined;
        if (legacy && legacy.domain === spec.domain) {
          id = legacy.id;
          registry.setState(id, null, null);
        } else id = freeId(registry, `${spec.domain}.${slug(featureName(k.name, spec))}`);
      }
      const settable = main && Object.keys(k.settable).length > 0;
      registry.upsert({
        id,
        uniqueId,
        name: featureName(k.name, spec),
        domain: spec.domain,
        actions: settable ? [...spec.actions, 'set'] : spec.actions,
        attributes: {
          ...spec.attributes,
          friendly_name: k.name,
          ...(main && description ? { description } : {}),
          ...(settable ? { settable: k.settable } : {}),
        },
        source: SOURCE,
        deviceId: k.deviceId,
        category: spec.category ?? null,
      });
    }
    for (const e of registry.ofDevice(k.deviceId)) if (!e.uniqueId || !keep.has(e.uniqueId)) registry.remove(e.id);
    const legacy = registry.byUniqueId(k.id);
    if (legacy) registry.remove(legacy.id);
    this.applyAvailability(k);
  }

  private forget(gone: (k: Known) => boolean): void {
    for (const k of [...this.byDevice.values()]) {
      if (!gone(k)) continue;
      for (const e of this.ctx.registry.ofDevice(k.deviceId)) this.ctx.registry.remove(e.id);
      const legacy = this.ctx.registry.byUniqueId(k.id);
      if (legacy) this.ctx.registry.remove(legacy.id);
      this.ctx.devices.remove(k.deviceId);
      this.byDevice.delete(k.deviceId);
      if (this.byName.get(k.name) === k) this.byName.delete(k.name);
      this.ctx.log.info({ device: k.deviceId, name: k.name }, 'zigbee2mqtt device removed');
    }
  }

  private onState(k: Known, m: MqttMessageEvent): void {
    if (m.payload.length === 0) return;
    let p: unknown;
    try {
      p = parseJson(m.topic, m.payload, STATE_MAX);
      if (!isObject(p)) throw new Error(`${m.topic}: expected a JSON object, got ${m.payload.toString('utf8', 0, 40)}`);
    } catch (err) {
      for (const e of this.ctx.registry.ofDevice(k.deviceId))
        markProblem(this.ctx.registry, e.id, (err as Error).message);
      throw err;
    }
    this.reported.add(k.deviceId);
    for (const spec of k.specs) {
      if (!spec.reads.some((key) => key in p)) continue;
      const prev = this.ctx.registry.byUniqueId(`${k.id}:${spec.key}`);
      if (!prev) continue;
      const id = prev.id;
      if (spec.domain === 'event') {
        // a press is an event: never replayed from a retained or cached state, never an empty action
        const v = p[spec.key];
        if (m.retain || typeof v !== 'string' || v === '') continue;
      }
      const r = spec.read(p);
      const bad = spec.numeric && r.state !== null && r.state !== undefined && typeof r.state !== 'number';
      if (bad) {
        const why = `${spec.key} must be a number, got ${JSON.stringify(r.state).slice(0, 40)}; ${id} keeps ${JSON.stringify(prev.state)}`;
        markProblem(this.ctx.registry, id, why);
        this.warnings.warn(m.topic, `zigbee2mqtt value ignored: ${why}`);
        continue;
      }
      const attributes = prev.attributes.problem ? { ...r.attributes, problem: null } : r.attributes;
      this.ctx.registry.setState(id, r.state === undefined ? prev.state : r.state, attributes);
    }
  }

  private onAvailability(name: string, m: MqttMessageEvent): void {
    const k = this.byName.get(name);
    if (!k) return;
    this.deviceOnline.set(k.deviceId, this.online(m));
    this.applyAvailability(k);
  }

  private applyAvailability(k: Known): void {
    const available = this.bridgeOnline && (this.deviceOnline.get(k.deviceId) ?? true);
    this.ctx.devices.setAvailable(k.deviceId, available);
    for (const e of this.ctx.registry.ofDevice(k.deviceId)) this.ctx.registry.setAvailable(e.id, available);
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
    this.ctx.devices.setAvailable(BRIDGE, online);
    this.ctx.log.info(
      { bridge: this.base },
      `Zigbee2MQTT is ${online ? 'online' : 'offline'}: its devices are ${online ? 'available again' : 'unavailable'}`,
    );
    for (const k of this.byDevice.values()) this.applyAvailability(k);
  }

  /** An availability payload: {"state":"online"} since Zigbee2MQTT 1.27, plain "online"/"offline" before. */
  private online(m: MqttMessageEvent): boolean {
    const text = m.payload.toString('utf8', 0, Math.min(m.payload.length, 256)).trim();
    const value = text.startsWith('{') ? (parseJson(m.topic, m.payload, 256) as { state?: unknown }).state : text;
    if (value !== 'online' && value !== 'offline')
      throw new Error(`${m.topic}: availability must be online or offline, got ${text.slice(0, 40)}`);
    return value === 'online';
  }

  /**
   * Zigbee2MQTT's log on MQTT (lib/extension/bridge.ts, `{level, message, namespace}`): a failed
   * command reads "Publish 'set' 'brightness' to 'Kitchen Lamp' failed: '...'" (lib/extension/publish.ts),
   * or "No converter available for 'x' on 'Kitchen Lamp'"; the actions waiting on that device fail with it.
   */
  private onLogging(m: MqttMessageEvent): void {
    const log = parseJson(m.topic, m.payload, STATE_MAX);
    if (!isObject(log) || log.level !== 'error' || typeof log.message !== 'string') return;
    const match = /(?:to|on) '(.+?)'(?: failed|:|$)/.exec(log.message);
    const k = match ? this.byName.get(match[1]!) : undefined;
    if (!k) return;
    const ids = this.ctx.registry.ofDevice(k.deviceId).map((e) => e.id);
    this.ctx.actions.deviceError(ids, `Zigbee2MQTT: ${log.message}`);
  }

  private onResponse(m: MqttMessageEvent): void {
    const r = parseJson(m.topic, m.payload, STATE_MAX);
    if (!isObject(r) || typeof r.transaction !== 'string') return;
    const waiting = this.requests.get(r.transaction);
    if (!waiting) return;
    this.requests.delete(r.transaction);
    if (r.status === 'ok') waiting.resolve(r.data ?? {});
    else waiting.reject(new EntityError('DEVICE_ERROR', `Zigbee2MQTT: ${String(r.error ?? 'request failed')}`));
  }

  /** A bridge request (`bridge/request/<path>`), answered on `bridge/response/<path>` with the same transaction. */
  private async request(path: string, payload: Record<string, unknown>, timeoutMs = 10_000): Promise<unknown> {
    if (!this.bridgeOnline) throw new EntityError('UNAVAILABLE', `Zigbee2MQTT (${this.base}) is offline`);
    const transaction = `smart-home-${process.pid}-${++this.transactions}`;
    const answer = new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.requests.delete(transaction);
        reject(new EntityError('TIMEOUT', `Zigbee2MQTT did not answer ${path} within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      this.requests.set(transaction, {
        resolve: (v) => (clearTimeout(timer), resolve(v)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
    });
    await this.ctx.bus.publish(
      `${this.base}/bridge/request/${path}`,
      Buffer.from(JSON.stringify({ ...payload, transaction })),
      { qos: this.qos, retain: false },
      { script: 'zigbee2mqtt' },
    );
    return answer;
  }

  /** A device's friendly name from its name, device id or one of its entity ids. */
  private nameOf(v: unknown, what: string): string {
    if (typeof v !== 'string' || v === '') throw new EntityError('BAD_PARAM', `${what}: name the device`);
    const byDevice = this.byDevice.get(v);
    if (byDevice) return byDevice.name;
    const entity = this.ctx.registry.get(v);
    const k = entity?.deviceId ? this.byDevice.get(entity.deviceId) : undefined;
    return k ? k.name : v;
  }

  /** Devices that said nothing since start are asked (`/get`), once, when they answer gets. */
  private scheduleGets(): void {
    if (this.getTimer) return;
    this.getTimer = setTimeout(() => {
      for (const k of this.byDevice.values()) {
        if (this.reported.has(k.deviceId) || k.id.startsWith('group:') || k.sleepy) continue;
        const prop = k.specs.find((s) => s.gettable)?.gettable;
        if (!prop) continue;
        this.ctx.bus
          .publish(
            `${this.base}/${k.name}/get`,
            Buffer.from(JSON.stringify({ [prop]: '' })),
            { qos: 0, retain: false },
            { script: 'zigbee2mqtt' },
          )
          .catch((err: Error) => this.ctx.log.warn({ device: k.deviceId, err: err.message }, 'zigbee2mqtt get failed'));
      }
    }, this.ctx.config.zigbee2mqtt.get_after_ms);
    this.getTimer.unref();
  }

  private async runAction(entity: Entity, action: string, params: Record<string, unknown>) {
    const k = entity.deviceId ? this.byDevice.get(entity.deviceId) : undefined;
    const spec = k?.specs.find((s) => `${k.id}:${s.key}` === entity.uniqueId);
    if (!k || !spec) throw new EntityError('ACTION_FAILED', `entity ${entity.id} has no Zigbee2MQTT device`);
    let payload: Record<string, unknown>;
    if (action === 'set') {
      const why = refusal(k.settable, params, entity.id);
      if (why) throw new EntityError('BAD_PARAM', `${why}; nothing was sent`);
      payload = params;
    } else payload = spec.write(action, params);
    await this.ctx.bus.publish(
      `${this.base}/${k.name}/set`,
      Buffer.from(JSON.stringify(payload)),
      { qos: this.qos, retain: false },
      { script: `entity ${entity.id}` },
    );
    return { optimistic: spec.attributes.optimistic === true };
  }
}

/** A member's feature for a group's state, which has no endpoint suffixes. */
function unsuffixed(f: Feature): Feature {
  return { ...f, endpoint: undefined, property: f.name === 'color_xy' || f.name === 'color_hs' ? 'color' : f.name };
}
