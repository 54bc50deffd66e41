// Home Assistant MQTT discovery, the de-facto standard of ESPHome, Shelly, Tasmota (legacy),
// OpenMQTTGateway, rtl_433, Frigate, Zigbee2MQTT and zwave-js-ui: retained configs on
// `<prefix>/<component>/[<node_id>/]<object_id>/config` and `<prefix>/device/<id>/config` (with
// `cmps`) become devices and entities; an empty config removes them; a changed one with the same
// unique_id updates them. Configs are stored, so a broker that lost its retained messages loses
// no device. Components the hub does not map are kept and listed as "discovered, not supported".
import type { MqttMessageEvent } from '../../../events.js';
import { DiscoveryStore, type DiscoveryRecord } from '../../devices.js';
import { ENTITY_ID, type Entity } from '../../registry.js';
import { freeId, isObject, markProblem, parseJson, slug, Warnings } from '../common.js';
import type { Integration, IntegrationContext } from '../index.js';
import { expandConfig } from './abbreviations.js';
import { bind, ConfigInvalid, SUPPORTED, type Binding } from './components.js';
import { compileTemplate, payloadVars, TemplateUnsupported, type Template } from '../../../templates/jinja.js';

const SOURCE = 'mqtt';
const CONFIG_MAX = 64 * 1024;
const STATE_MAX = 64 * 1024;
const ID = /^[A-Za-z0-9_-]+$/;

type Obj = Record<string, unknown>;

interface Availability {
  mode: 'latest' | 'all' | 'any';
  topics: { topic: string; on: string; off: string; tpl?: Template | null }[];
  /** What each topic last said. */
  heard: Map<string, boolean>;
  latest?: boolean;
}

interface Installed {
  uniqueId: string;
  entityId: string;
  configKey: string;
  deviceId?: string;
  binding: Binding;
  qos: 0 | 1 | 2;
  retain: boolean;
  availability?: Availability;
  offs: (() => void)[];
  /** The config's command topics (`command_topic`, `brightness_command_topic`, `set_position_topic` ...). */
  commandTopics: string[];
}

/** One component's place: its config topic and, in a device config, its key in `cmps`. */
const keyOf = (topic: string, component?: string) => (component ? `${topic}#${component}` : topic);

export class MqttDiscovery implements Integration {
  private readonly prefix: string;
  /** What a broker full of configs (or a device that announces thousands) can add at most. */
  private readonly max: number;
  private readonly store: DiscoveryStore;
  private readonly installed = new Map<string, Installed>();
  /** Unique ids installed from each config topic. */
  private readonly fromTopic = new Map<string, Set<string>>();
  private readonly listeners = new Map<string, Set<(m: MqttMessageEvent) => void>>();
  /** The last message of each topic an entity reads, for an entity that starts reading it later. */
  private readonly lastMessage = new Map<string, MqttMessageEvent>();
  /** Status of each component of each config (supported, unsupported, invalid, with warnings). */
  private readonly records = new Map<
    string,
    { component: string; status: DiscoveryRecord['status']; reason?: string; entity?: string }
  >();
  /** The stored payload of each config topic, to skip a retained config that did not change. */
  private readonly stored = new Map<string, string>();
  private off: (() => void)[] = [];
  private readonly warnings: Warnings;
  private stopping = false;

  constructor(private readonly ctx: IntegrationContext) {
    this.prefix = ctx.config.discovery.prefix;
    this.max = ctx.config.discovery.max_entities;
    this.store = new DiscoveryStore(ctx.db, SOURCE);
    this.warnings = new Warnings(ctx.log);
  }

  async start(): Promise<void> {
    const { ctx } = this;
    this.off.push(ctx.events.on('mqtt.message', (m) => this.onMessage(m)));
    this.off.push(ctx.actions.register(SOURCE, (e, action, params) => this.runAction(e, action, params)));
    // what was discovered before, in case the broker lost its retained configs
    this.ctx.db.transaction(() => {
      for (const r of this.store.list()) this.onConfig(r.topic, r.payload, true);
    })();
    await ctx.bus.subscribe(`${this.prefix}/#`, 1);
    // Home Assistant's birth message: devices that watch it announce themselves again
    await ctx.bus.publish(
      `${this.prefix}/status`,
      Buffer.from('online'),
      { qos: 1, retain: true },
      { script: 'discovery' },
    );
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.applying) clearImmediate(this.applying);
    for (const f of this.off) f();
    this.off = [];
    for (const inst of this.installed.values()) for (const f of inst.offs) f();
    const topics = [...this.listeners.keys()];
    this.listeners.clear();
    await Promise.all([`${this.prefix}/#`, ...topics].map((t) => this.ctx.bus.unsubscribe(t).catch(() => {})));
  }

  status(): Record<string, unknown> {
    const list = (s: DiscoveryRecord['status']) =>
      [...this.records]
        .filter(([, r]) => r.status === s)
        .map(([topic, r]) => ({ topic, component: r.component, reason: r.reason }));
    return {
      prefix: this.prefix,
      entities: this.installed.size,
      unsupported: list('unsupported'),
      invalid: list('invalid'),
      warnings: list('warning'),
    };
  }

  commandTopics(entity: Entity): string[] {
    const inst = entity.uniqueId ? this.installed.get(entity.uniqueId) : undefined;
    return inst?.commandTopics ?? [];
  }

  private onMessage(m: MqttMessageEvent): void {
    if (m.topic.startsWith(`${this.prefix}/`) && m.topic.endsWith('/config')) {
      // a retained flood (hundreds of devices at start) is applied in one SQLite transaction per turn
      this.configs.push([m.topic, m.payload.length > CONFIG_MAX ? m.payload : m.payload.toString('utf8')]);
      this.applying ??= setImmediate(() => this.applyConfigs());
      return;
    }
    const fns = this.listeners.get(m.topic);
    if (!fns) return;
    this.lastMessage.set(m.topic, m);
    for (const fn of fns) fn(m);
  }

  private readonly configs: [string, string | Buffer][] = [];
  private applying: NodeJS.Immediate | undefined;

  private applyConfigs(): void {
    this.applying = undefined;
    const batch = this.configs.splice(0);
    if (this.stopping) return;
    this.ctx.db.transaction(() => {
      for (const [topic, payload] of batch) this.onConfig(topic, payload, false);
    })();
  }

  private onConfig(topic: string, payload: string | Buffer, stored: boolean): void {
    const parts = topic.slice(this.prefix.length + 1).split('/');
    parts.pop(); // config
    const deviceBased = parts.length === 2 && parts[0] === 'device';
    if (!(parts.length === 2 || parts.length === 3) || !parts.every((p) => ID.test(p))) {
      this.warnings.warn(
        topic,
        'discovery topic ignored: expected <prefix>/<component>/[<node_id>/]<object_id>/config',
      );
      return;
    }
    if (payload.length === 0) {
      this.removeTopic(topic);
      this.store.remove(topic);
      this.stored.delete(topic);
      return;
    }
    const text = typeof payload === 'string' ? payload : '';
    if (!stored && text !== '' && this.stored.get(topic) === text) return; // unchanged
    if (!this.stored.has(topic) && this.stored.size >= this.max) {
      this.warnings.warn(this.prefix, `discovery config ignored: more than ${this.max} configs are kept already`, {
        topic,
      });
      return;
    }
    if (text) this.stored.set(topic, text);
    let config: Obj;
    try {
      const raw = parseJson(topic, typeof payload === 'string' ? Buffer.from(payload) : payload, CONFIG_MAX);
      if (!isObject(raw)) throw new Error(`${topic}: a discovery config must be a JSON object`);
      config = expandConfig(raw);
    } catch (err) {
      this.records.set(topic, { component: parts[0]!, status: 'invalid', reason: (err as Error).message });
      this.warnings.warn(
        topic,
        `discovery config ignored: ${(err as Error).message}; the entities it made keep their last good state`,
      );
      if (text) this.store.set(topic, text, 'invalid', (err as Error).message);
      return;
    }
    const statuses: DiscoveryRecord['status'][] = [];
    if (deviceBased) {
      const { components, ...shared } = config;
      if (!isObject(components)) {
        this.records.set(topic, {
          component: 'device',
          status: 'invalid',
          reason: 'a device config needs cmps (components)',
        });
        return;
      }
      const keep = new Set<string>();
      for (const [key, comp] of Object.entries(components)) {
        if (!isObject(comp) || typeof comp.platform !== 'string') continue;
        // a component left with only its platform is being removed from the device
        if (Object.keys(comp).length === 1) continue;
        keep.add(keyOf(topic, key));
        statuses.push(this.install(topic, key, comp.platform, expandConfig({ ...shared, ...comp })));
      }
      for (const uid of [...(this.fromTopic.get(topic) ?? [])])
        if (!keep.has(this.installed.get(uid)?.configKey ?? '')) this.uninstall(uid);
      for (const k of [...this.records.keys()]) if (k.startsWith(`${topic}#`) && !keep.has(k)) this.records.delete(k);
    } else {
      statuses.push(this.install(topic, undefined, parts[0]!, config));
    }
    const status = statuses.includes('invalid')
      ? 'invalid'
      : statuses.includes('warning')
        ? 'warning'
        : statuses.includes('unsupported')
          ? 'unsupported'
          : 'ok';
    if (text) this.store.set(topic, text, status);
  }

  /** Installs (or updates) one component; returns how it went. */
  private install(topic: string, key: string | undefined, component: string, c: Obj): DiscoveryRecord['status'] {
    const configKey = keyOf(topic, key);
    if (!(SUPPORTED as readonly string[]).includes(component)) {
      this.records.set(configKey, {
        component,
        status: 'unsupported',
        reason: `the hub does not map "${component}" yet`,
      });
      this.ctx.log.info({ topic: configKey, component }, 'discovered, not supported');
      return 'unsupported';
    }
    let binding: Binding;
    try {
      binding = bind(component, c);
    } catch (err) {
      if (!(err instanceof ConfigInvalid)) throw err;
      const reason = `${component}: ${err.message}`;
      this.records.set(configKey, { component, status: 'invalid', reason });
      this.warnings.warn(configKey, `discovery config ignored: ${reason}`);
      return 'invalid';
    }
    const uniqueId = `${SOURCE}:${typeof c.unique_id === 'string' && c.unique_id ? c.unique_id.slice(0, 256) : configKey}`;
    if (!this.installed.has(uniqueId) && this.installed.size >= this.max) {
      const reason = `more than ${this.max} discovered entities; this one is not added`;
      this.records.set(configKey, { component, status: 'invalid', reason });
      this.warnings.warn(this.prefix, `discovery config ignored: ${reason}`);
      return 'invalid';
    }
    const deviceId = this.defineDevice(configKey, c);
    const device = deviceId ? this.ctx.devices.get(deviceId) : undefined;
    const own = c.name === null ? undefined : typeof c.name === 'string' ? c.name : undefined;
    const name =
      [device?.name, own].filter(Boolean).join(' ') || (typeof c.object_id === 'string' ? c.object_id : component);
    const previous = this.installed.get(uniqueId);
    if (previous) this.unlisten(previous);
    let entityId = this.ctx.registry.byUniqueId(uniqueId)?.id;
    if (!entityId) {
      const wanted =
        typeof c.default_entity_id === 'string' &&
        ENTITY_ID.test(c.default_entity_id) &&
        c.default_entity_id.startsWith(`${binding.domain}.`)
          ? c.default_entity_id
          : `${binding.domain}.${slug(typeof c.object_id === 'string' ? c.object_id : name)}`;
      entityId = freeId(this.ctx.registry, wanted);
    }
    const attributes: Obj = { discovery_topic: configKey };
    for (const [k, v] of Object.entries(binding.attributes)) if (v !== undefined) attributes[k] = v;
    if (binding.optimistic) attributes.optimistic = true;
    attributes.warning = binding.warnings.length ? binding.warnings.join('; ') : null;
    const category = c.entity_category === 'config' || c.entity_category === 'diagnostic' ? c.entity_category : null;
    this.ctx.registry.upsert({
      id: entityId,
      uniqueId,
      name,
      domain: binding.domain,
      actions: binding.actions,
      attributes,
      source: SOURCE,
      deviceId: deviceId ?? null,
      category,
    });
    const qos = c.qos === 1 || c.qos === 2 ? c.qos : 0;
    const commandTopics = Object.entries(c)
      .filter(([k, v]) => typeof v === 'string' && (k.endsWith('command_topic') || k === 'set_position_topic'))
      .map(([, v]) => v as string);
    const inst: Installed = {
      uniqueId,
      entityId,
      configKey,
      deviceId,
      binding,
      qos,
      retain: c.retain === true,
      offs: [],
      commandTopics,
    };
    this.installed.set(uniqueId, inst);
    let set = this.fromTopic.get(topic);
    if (!set) this.fromTopic.set(topic, (set = new Set()));
    set.add(uniqueId);
    this.listen(inst, c);
    const status = binding.warnings.length ? 'warning' : 'ok';
    this.records.set(configKey, {
      component,
      status,
      reason: binding.warnings.join('; ') || undefined,
      entity: entityId,
    });
    return status;
  }

  /** The device of a config (`device` with identifiers or connections), or none. */
  private defineDevice(configKey: string, c: Obj): string | undefined {
    const d = c.device;
    if (!isObject(d)) return undefined;
    const ids =
      typeof d.identifiers === 'string'
        ? [d.identifiers]
        : Array.isArray(d.identifiers)
          ? d.identifiers.filter((x) => typeof x === 'string')
          : [];
    const connections = Array.isArray(d.connections)
      ? (d.connections.filter((x) => Array.isArray(x) && x.length === 2 && x.every((y) => typeof y === 'string')) as [
          string,
          string,
        ][])
      : [];
    const key = (ids[0] as string | undefined) ?? connections[0]?.[1];
    if (!key) return undefined;
    const id = `${SOURCE}:${key}`;
    const before = this.ctx.devices.get(id);
    const str = (v: unknown) => (typeof v === 'string' && v ? v : undefined);
    const discovery = { ...(isObject(before?.discovery) ? before.discovery : {}), [configKey]: c };
    this.ctx.devices.upsert({
      id,
      integration: SOURCE,
      name: str(d.name) ?? before?.name ?? key,
      manufacturer: str(d.manufacturer),
      model: str(d.model),
      swVersion: str(d.sw_version),
      hwVersion: str(d.hw_version),
      via: str(d.via_device) ? `${SOURCE}:${d.via_device as string}` : undefined,
      area: str(d.suggested_area),
      connections,
      discovery,
    });
    return id;
  }

  private listen(inst: Installed, c: Obj): void {
    const on = (topic: string, fn: (m: MqttMessageEvent) => void) => {
      let set = this.listeners.get(topic);
      if (!set) {
        this.listeners.set(topic, (set = new Set()));
        this.ctx.bus
          .subscribe(topic, inst.qos)
          .catch((err: Error) => this.warnings.warn(topic, `subscribe failed: ${err.message}`));
      }
      set.add(fn);
      inst.offs.push(() => {
        set.delete(fn);
        if (set.size === 0 && !this.stopping) {
          this.listeners.delete(topic);
          this.lastMessage.delete(topic);
          this.ctx.bus.unsubscribe(topic).catch(() => {});
        }
      });
      const last = this.lastMessage.get(topic);
      if (last) fn(last);
    };
    for (const l of inst.binding.listens)
      on(l.topic, (m) => this.apply(inst, m, (text, e) => l.apply(text, e, m.retain)));
    const attrTopic = typeof c.json_attributes_topic === 'string' ? c.json_attributes_topic : undefined;
    if (attrTopic && !/[#+]/.test(attrTopic)) {
      const tpl = this.template(inst, c.json_attributes_template);
      on(attrTopic, (m) =>
        this.apply(inst, m, (text) => {
          const v = tpl === null ? undefined : tpl ? tpl.render(payloadVars(text)) : text;
          if (v === undefined) return undefined;
          const j = typeof v === 'string' ? (JSON.parse(v) as unknown) : v;
          if (!isObject(j)) throw new Error('json_attributes must be a JSON object');
          const attributes: Obj = {};
          for (const [k, val] of Object.entries(j).slice(0, 64))
            if (!['state', 'problem', 'warning', 'discovery_topic'].includes(k)) attributes[k] = val;
          return { attributes };
        }),
      );
    }
    inst.availability = this.availability(inst, c);
    if (inst.availability) {
      this.ctx.registry.setAvailable(inst.entityId, false); // until a device says it is there
      for (const a of inst.availability.topics)
        on(a.topic, (m) => {
          const text = m.payload.toString('utf8', 0, Math.min(m.payload.length, 1024));
          try {
            const v = a.tpl === null ? undefined : a.tpl ? String(a.tpl.render(payloadVars(text))) : text;
            if (v === a.on || v === a.off) this.setAvailability(inst, a.topic, v === a.on);
          } catch (err) {
            this.warnings.warn(a.topic, `availability template failed: ${(err as Error).message}`);
          }
        });
    } else this.ctx.registry.setAvailable(inst.entityId, true);
  }

  private template(inst: Installed, src: unknown): Template | null | undefined {
    if (typeof src !== 'string') return undefined;
    try {
      return compileTemplate(src);
    } catch (err) {
      if (!(err instanceof TemplateUnsupported)) throw err;
      inst.binding.warnings.push(`a template is outside the subset (${err.message})`);
      return null;
    }
  }

  private availability(inst: Installed, c: Obj): Availability | undefined {
    const topics: Availability['topics'] = [];
    const add = (topic: unknown, on: unknown, off: unknown, tpl: unknown) => {
      if (typeof topic !== 'string' || topic === '' || /[#+]/.test(topic)) return;
      topics.push({
        topic,
        on: typeof on === 'string' ? on : 'online',
        off: typeof off === 'string' ? off : 'offline',
        tpl: this.template(inst, tpl),
      });
    };
    if (Array.isArray(c.availability))
      for (const a of c.availability)
        if (isObject(a)) add(a.topic, a.payload_available, a.payload_not_available, a.value_template);
    add(c.availability_topic, c.payload_available, c.payload_not_available, c.availability_template);
    if (topics.length === 0) return undefined;
    const mode = c.availability_mode === 'all' || c.availability_mode === 'any' ? c.availability_mode : 'latest';
    return { mode, topics, heard: new Map() };
  }

  private setAvailability(inst: Installed, topic: string, available: boolean): void {
    const a = inst.availability!;
    a.heard.set(topic, available);
    a.latest = available;
    const values = a.topics.map((t) => a.heard.get(t.topic));
    const now =
      a.mode === 'latest'
        ? available
        : a.mode === 'all'
          ? values.every((v) => v === true)
          : values.some((v) => v === true);
    this.ctx.registry.setAvailable(inst.entityId, now);
    if (inst.deviceId) this.ctx.devices.setAvailable(inst.deviceId, now);
  }

  /** A message for an entity: its patch applied, or the entity marked and its last good state kept. */
  private apply(
    inst: Installed,
    m: MqttMessageEvent,
    patchOf: (text: string, e: Entity) => { state?: unknown; attributes?: Obj } | undefined,
  ): void {
    const e = this.ctx.registry.get(inst.entityId);
    if (!e) return;
    try {
      if (m.payload.length > STATE_MAX)
        throw new Error(`${m.payload.length} bytes is more than the ${STATE_MAX} a state message may carry`);
      const patch = patchOf(m.payload.toString('utf8'), e);
      if (!patch) return;
      const attributes = { ...(patch.attributes ?? {}), ...(e.attributes.problem ? { problem: null } : {}) };
      this.ctx.registry.setState(inst.entityId, patch.state === undefined ? e.state : patch.state, attributes);
    } catch (err) {
      const why = `${m.topic}: ${(err as Error).message}; ${inst.entityId} keeps ${JSON.stringify(e.state)}`;
      markProblem(this.ctx.registry, inst.entityId, why);
      this.warnings.warn(m.topic, `discovery state ignored: ${why}`);
    }
  }

  private unlisten(inst: Installed): void {
    for (const f of inst.offs) f();
    inst.offs = [];
  }

  private uninstall(uniqueId: string): void {
    const inst = this.installed.get(uniqueId);
    if (!inst) return;
    this.unlisten(inst);
    this.installed.delete(uniqueId);
    for (const set of this.fromTopic.values()) set.delete(uniqueId);
    this.ctx.registry.remove(inst.entityId);
    this.ctx.log.info({ entity: inst.entityId, topic: inst.configKey }, 'discovered entity removed');
    if (inst.deviceId && this.ctx.registry.ofDevice(inst.deviceId).length === 0) this.ctx.devices.remove(inst.deviceId);
  }

  private removeTopic(topic: string): void {
    for (const uid of [...(this.fromTopic.get(topic) ?? [])]) this.uninstall(uid);
    this.fromTopic.delete(topic);
    for (const k of [...this.records.keys()]) if (k === topic || k.startsWith(`${topic}#`)) this.records.delete(k);
  }

  private async runAction(entity: Entity, action: string, params: Record<string, unknown>) {
    const inst = entity.uniqueId ? this.installed.get(entity.uniqueId) : undefined;
    if (!inst) throw new Error(`${entity.id} has no discovery config`);
    const { commands, optimisticState } = inst.binding.command(action, params, entity);
    for (const c of commands)
      await this.ctx.bus.publish(
        c.topic,
        Buffer.from(c.payload),
        { qos: inst.qos, retain: inst.retain },
        { script: `entity ${entity.id}` },
      );
    if (inst.binding.optimistic && optimisticState)
      this.ctx.registry.setState(
        entity.id,
        optimisticState.state === undefined ? entity.state : optimisticState.state,
        optimisticState.attributes,
      );
    return { optimistic: inst.binding.optimistic };
  }
}
