// Tasmota's own discovery (Tasmota 9.3+, tasmota/tasmota_xdrv_driver/xdrv_12_discovery.ino):
// retained `tasmota/discovery/<MAC>/config` describes the device (`t` topic, `ft` full topic,
// `tp` prefixes cmnd/stat/tele, `rl` relay kinds 1 relay / 2 light / 3 shutter, `lt_st` light
// subtype, `btn` buttons, `swc` switch modes, `onln`/`ofln` LWT payloads, `state` texts) and
// `.../sensors` its sensors (`sn`, as in tele/<topic>/SENSOR). Relays are switches
// (`cmnd/<topic>/POWER<n>`), lights take `Dimmer` and `CT`, confirmed by `stat/<topic>/RESULT`;
// sensors read `tele/<topic>/SENSOR`; availability is `tele/<topic>/LWT`; the state is asked
// for at start (`cmnd/<topic>/STATE`, `STATUS 10`) instead of waiting for the next telemetry.
import type { MqttMessageEvent } from '../../../events.js';
import type { Entity } from '../../registry.js';
import { freeId, isObject, markProblem, parseJson, slug, Warnings } from '../common.js';
import type { Integration, IntegrationContext } from '../index.js';

const SOURCE = 'tasmota';
const MAX = 64 * 1024;

type Obj = Record<string, unknown>;

interface DeviceConfig {
  mac: string;
  name: string;
  topic: string;
  fullTopic: string;
  prefixes: [string, string, string];
  relays: number[];
  lightSubtype: number;
  buttons: number[];
  switches: number[];
  online: string;
  offline: string;
  stateText: string[];
  raw: Obj;
}

/** An entity of a Tasmota device and how it reads and writes. */
interface Part {
  key: string;
  domain: string;
  suffix?: string;
  attributes: Obj;
  actions: string[];
  /** Reads a state/result/sensor JSON; undefined when the message has nothing for it. */
  read(
    j: Obj,
    current: Entity,
    source: 'state' | 'sensor' | 'result',
  ): { state?: unknown; attributes?: Obj } | undefined;
  write?(action: string, params: Obj): [string, string][];
}

const UNITS: Record<string, { unit?: string; device_class?: string; state_class?: string }> = {
  Temperature: { unit: '°C', device_class: 'temperature', state_class: 'measurement' },
  DewPoint: { unit: '°C', device_class: 'temperature', state_class: 'measurement' },
  Humidity: { unit: '%', device_class: 'humidity', state_class: 'measurement' },
  Pressure: { unit: 'hPa', device_class: 'pressure', state_class: 'measurement' },
  Illuminance: { unit: 'lx', device_class: 'illuminance', state_class: 'measurement' },
  Power: { unit: 'W', device_class: 'power', state_class: 'measurement' },
  ApparentPower: { unit: 'VA', device_class: 'apparent_power', state_class: 'measurement' },
  ReactivePower: { unit: 'var', device_class: 'reactive_power', state_class: 'measurement' },
  Factor: { device_class: 'power_factor', state_class: 'measurement' },
  Voltage: { unit: 'V', device_class: 'voltage', state_class: 'measurement' },
  Current: { unit: 'A', device_class: 'current', state_class: 'measurement' },
  Total: { unit: 'kWh', device_class: 'energy', state_class: 'total_increasing' },
  Today: { unit: 'kWh', device_class: 'energy', state_class: 'total_increasing' },
  Yesterday: { unit: 'kWh', device_class: 'energy' },
};

function readConfig(raw: unknown, mac: string): DeviceConfig {
  if (!isObject(raw)) throw new Error('the config must be a JSON object');
  const str = (k: string) => {
    if (typeof raw[k] !== 'string' || raw[k] === '') throw new Error(`the config has no "${k}"`);
    return raw[k] as string;
  };
  const nums = (k: string) =>
    Array.isArray(raw[k]) ? (raw[k] as unknown[]).map((x) => (typeof x === 'number' ? x : -1)) : [];
  const tp =
    Array.isArray(raw.tp) && raw.tp.length === 3 && raw.tp.every((x) => typeof x === 'string')
      ? (raw.tp as [string, string, string])
      : (['cmnd', 'stat', 'tele'] as [string, string, string]);
  const fn = Array.isArray(raw.fn) ? raw.fn.find((x) => typeof x === 'string' && x) : undefined;
  return {
    mac,
    name: typeof raw.dn === 'string' && raw.dn ? raw.dn : typeof fn === 'string' ? fn : str('t'),
    topic: str('t'),
    fullTopic: str('ft'),
    prefixes: tp,
    relays: nums('rl'),
    lightSubtype: typeof raw.lt_st === 'number' ? raw.lt_st : 0,
    buttons: nums('btn'),
    switches: nums('swc'),
    online: typeof raw.onln === 'string' ? raw.onln : 'Online',
    offline: typeof raw.ofln === 'string' ? raw.ofln : 'Offline',
    stateText: Array.isArray(raw.state) ? raw.state.map(String) : ['OFF', 'ON', 'TOGGLE', 'HOLD'],
    raw,
  };
}

/** `%prefix%/%topic%/` with the prefix of kind 0 cmnd, 1 stat, 2 tele, then the command or report. */
function topicOf(d: DeviceConfig, kind: 0 | 1 | 2, last: string): string {
  let t = d.fullTopic
    .replace('%prefix%', d.prefixes[kind])
    .replace('%topic%', d.topic)
    .replace('%hostname%', typeof d.raw.hn === 'string' ? d.raw.hn : d.topic)
    .replace('%id%', d.mac.slice(-6));
  if (!t.endsWith('/')) t += '/';
  return t + last;
}

function partsOf(d: DeviceConfig, sensors: Obj | undefined): Part[] {
  const parts: Part[] = [];
  const relayCount = d.relays.filter((r) => r > 0).length;
  const [off, on, toggle] = d.stateText;
  const power = (i: number) => (relayCount === 1 && i === 0 ? 'POWER' : `POWER${i + 1}`);
  const onOff = (v: unknown) => (v === on ? 'on' : v === off ? 'off' : undefined);
  d.relays.forEach((kind, i) => {
    const key = power(i);
    const readPower = (j: Obj) =>
      j[key] !== undefined ? onOff(j[key]) : key === 'POWER' ? onOff(j.POWER1) : undefined;
    if (kind === 1)
      parts.push({
        key: `relay_${i + 1}`,
        domain: 'switch',
        suffix: relayCount > 1 ? String(i + 1) : undefined,
        attributes: {},
        actions: ['turn_on', 'turn_off', 'toggle'],
        read: (j) => {
          const s = readPower(j);
          return s === undefined ? undefined : { state: s };
        },
        write: (action) => [[`POWER${i + 1}`, action === 'turn_on' ? 'ON' : action === 'turn_off' ? 'OFF' : 'TOGGLE']],
      });
    else if (kind === 2) {
      // light subtype (xdrv_04_light): 1 dimmer, 2 CT, 3 RGB, 4 RGBW, 5 RGBCW
      const ct = d.lightSubtype === 2 || d.lightSubtype === 5;
      parts.push({
        key: `light_${i + 1}`,
        domain: 'light',
        suffix: relayCount > 1 ? String(i + 1) : undefined,
        attributes: {
          supported_color_modes: ct ? ['color_temp'] : d.lightSubtype >= 1 ? ['brightness'] : ['onoff'],
          ...(ct ? { min_mireds: 153, max_mireds: 500 } : {}),
        },
        actions: ['turn_on', 'turn_off', 'toggle'],
        read: (j) => {
          const s = readPower(j);
          const a: Obj = {};
          if (typeof j.Dimmer === 'number') a.brightness = Math.round((j.Dimmer * 255) / 100);
          if (typeof j.CT === 'number') a.color_temp = j.CT;
          if (s === undefined && Object.keys(a).length === 0) return undefined;
          return { state: s, attributes: a };
        },
        write: (action, params) => {
          const cmds: [string, string][] = [];
          if (action === 'turn_on' && typeof params.brightness === 'number')
            cmds.push(['Dimmer', String(Math.round((params.brightness * 100) / 255))]);
          if (action === 'turn_on' && typeof params.color_temp === 'number')
            cmds.push(['CT', String(params.color_temp)]);
          // Dimmer turns the light on by itself; POWER follows only when nothing else does
          if (cmds.length === 0 || action !== 'turn_on')
            cmds.push([
              `POWER${i + 1}`,
              action === 'turn_on' ? 'ON' : action === 'turn_off' ? 'OFF' : (toggle ?? 'TOGGLE'),
            ]);
          return cmds;
        },
      });
    }
  });
  d.buttons.forEach((b, i) => {
    if (b !== 1) return;
    const key = `Button${i + 1}`;
    parts.push({
      key: `button_${i + 1}`,
      domain: 'event',
      suffix: `button ${i + 1}`,
      attributes: { event_types: ['SINGLE', 'DOUBLE', 'TRIPLE', 'QUAD', 'PENTA', 'HOLD'] },
      actions: [],
      read: (j, _e, source) => {
        const v = j[key];
        if (source !== 'result' || !isObject(v) || typeof v.Action !== 'string') return undefined;
        return { state: new Date().toISOString(), attributes: { event_type: v.Action } };
      },
    });
  });
  d.switches.forEach((mode, i) => {
    if (mode < 0) return;
    const key = `Switch${i + 1}`;
    parts.push({
      key: `switch_${i + 1}`,
      domain: 'binary_sensor',
      suffix: `switch ${i + 1}`,
      attributes: {},
      actions: [],
      read: (j) => {
        const v = isObject(j[key]) ? (j[key] as Obj).Action : j[key];
        const s = onOff(v);
        return s === undefined ? undefined : { state: s };
      },
    });
  });
  const sn = isObject(sensors?.sn) ? (sensors.sn as Obj) : {};
  const tempUnit = sn.TempUnit === 'F' ? '°F' : '°C';
  for (const [group, values] of Object.entries(sn)) {
    if (!isObject(values)) continue;
    for (const [name, v] of Object.entries(values)) {
      if (typeof v !== 'number') continue;
      const u = UNITS[name] ?? {};
      parts.push({
        key: `sensor_${group}_${name}`,
        domain: 'sensor',
        suffix: `${group === 'ENERGY' ? 'energy' : group} ${name}`,
        attributes: {
          unit_of_measurement: u.unit === '°C' ? tempUnit : u.unit,
          device_class: u.device_class,
          state_class: u.state_class,
        },
        actions: [],
        read: (j, current) => {
          const g = j[group];
          if (!isObject(g) || !(name in g)) return undefined;
          const x = g[name];
          if (typeof x !== 'number')
            throw new Error(
              `${group}.${name} must be a number, got ${JSON.stringify(x)?.slice(0, 40)}; ${current.id} keeps ${JSON.stringify(current.state)}`,
            );
          return { state: x };
        },
      });
    }
  }
  return parts;
}

interface Known {
  config: DeviceConfig;
  sensors?: Obj;
  parts: Part[];
  deviceId: string;
}

export class Tasmota implements Integration {
  private readonly prefix: string;
  private readonly byMac = new Map<string, Known>();
  /** Topic -> device and what kind of message it carries. */
  private readonly routes = new Map<string, { mac: string; kind: 'state' | 'sensor' | 'result' | 'lwt' | 'status' }>();
  private off: (() => void)[] = [];
  private readonly warnings: Warnings;

  constructor(private readonly ctx: IntegrationContext) {
    this.prefix = ctx.config.tasmota.discovery_prefix;
    this.warnings = new Warnings(ctx.log);
  }

  async start(): Promise<void> {
    this.off.push(this.ctx.events.on('mqtt.message', (m) => this.onMessage(m)));
    this.off.push(this.ctx.actions.register(SOURCE, (e, a, p) => this.runAction(e, a, p)));
    // devices known from the last run keep their routes until their (retained) config arrives
    for (const d of this.ctx.devices.list(SOURCE)) {
      const raw = d.discovery as { config?: unknown; sensors?: Obj } | undefined;
      try {
        if (raw?.config) this.define(readConfig(raw.config, d.id.slice(SOURCE.length + 1)), raw.sensors, false);
      } catch {
        // a stored config that no longer reads is replaced by the next one the device sends
      }
    }
    await this.ctx.bus.subscribe(`${this.prefix}/#`, 1);
  }

  async stop(): Promise<void> {
    for (const f of this.off) f();
    this.off = [];
    await Promise.all(
      [`${this.prefix}/#`, ...this.routes.keys()].map((t) => this.ctx.bus.unsubscribe(t).catch(() => {})),
    );
  }

  status(): Record<string, unknown> {
    // what a device has that the hub does not map yet, so it is never dropped silently
    const unsupported = [...this.byMac.values()].flatMap((k) => [
      ...k.config.relays.flatMap((r, i) =>
        r === 3 ? [{ topic: `${this.prefix}/${k.config.mac}/config`, component: `shutter (relay ${i + 1})` }] : [],
      ),
      ...(k.config.lightSubtype >= 3
        ? [{ topic: `${this.prefix}/${k.config.mac}/config`, component: 'light colour (RGB)' }]
        : []),
    ]);
    return { devices: this.byMac.size, unsupported };
  }

  commandTopics(entity: Entity): string[] {
    const k = entity.deviceId ? this.byMac.get(entity.deviceId.slice(SOURCE.length + 1)) : undefined;
    if (!k) return [];
    const relays = k.config.relays.map((_, i) => topicOf(k.config, 0, `POWER${i + 1}`));
    return [...relays, topicOf(k.config, 0, 'POWER'), topicOf(k.config, 0, 'Dimmer'), topicOf(k.config, 0, 'CT')];
  }

  private onMessage(m: MqttMessageEvent): void {
    try {
      if (m.topic.startsWith(`${this.prefix}/`)) return this.onDiscovery(m);
      const route = this.routes.get(m.topic);
      if (route) this.onDeviceMessage(route.mac, route.kind, m);
    } catch (err) {
      this.warnings.warn(m.topic, `tasmota message ignored: ${(err as Error).message}`);
    }
  }

  private onDiscovery(m: MqttMessageEvent): void {
    const [mac, what] = m.topic.slice(this.prefix.length + 1).split('/');
    if (!mac || !/^[0-9A-Fa-f]{12}$/.test(mac) || (what !== 'config' && what !== 'sensors')) return;
    const known = this.byMac.get(mac);
    if (m.payload.length === 0) {
      // SetOption19 1 / Discover 0: the device withdrew its discovery
      if (what === 'config' && known) this.forget(known);
      return;
    }
    const j = parseJson(m.topic, m.payload, MAX);
    if (what === 'sensors') {
      if (!isObject(j)) throw new Error('the sensors message must be a JSON object');
      if (known) this.define(known.config, j, true);
      else this.pendingSensors.set(mac, j);
      return;
    }
    this.define(readConfig(j, mac), known?.sensors ?? this.pendingSensors.get(mac), true);
    this.pendingSensors.delete(mac);
  }

  private readonly pendingSensors = new Map<string, Obj>();
  /** Devices asked for their state since the hub started. */
  private readonly asked = new Set<string>();

  private define(config: DeviceConfig, sensors: Obj | undefined, query: boolean): void {
    const deviceId = `${SOURCE}:${config.mac}`;
    const before = this.byMac.get(config.mac);
    this.ctx.devices.upsert({
      id: deviceId,
      integration: SOURCE,
      name: config.name,
      model: typeof config.raw.md === 'string' ? config.raw.md : undefined,
      swVersion: typeof config.raw.sw === 'string' ? config.raw.sw : undefined,
      connections: [['mac', config.mac.toLowerCase().replace(/(..)(?!$)/g, '$1:')]],
      discovery: { config: config.raw, sensors },
    });
    const parts = partsOf(config, sensors);
    const known: Known = { config, sensors, parts, deviceId };
    this.byMac.set(config.mac, known);
    const keep = new Set<string>();
    for (const p of parts) {
      const uniqueId = `${SOURCE}:${config.mac}:${p.key}`;
      keep.add(uniqueId);
      const name = p.suffix ? `${config.name} ${p.suffix}` : config.name;
      const id = this.ctx.registry.byUniqueId(uniqueId)?.id ?? freeId(this.ctx.registry, `${p.domain}.${slug(name)}`);
      this.ctx.registry.upsert({
        id,
        uniqueId,
        name,
        domain: p.domain,
        actions: p.actions,
        attributes: Object.fromEntries(Object.entries(p.attributes).filter(([, v]) => v !== undefined)),
        source: SOURCE,
        deviceId,
      });
    }
    for (const e of this.ctx.registry.ofDevice(deviceId))
      if (!e.uniqueId || !keep.has(e.uniqueId)) this.ctx.registry.remove(e.id);
    const routes: [string, 'state' | 'sensor' | 'result' | 'lwt' | 'status'][] = [
      [topicOf(config, 2, 'STATE'), 'state'],
      [topicOf(config, 2, 'SENSOR'), 'sensor'],
      [topicOf(config, 1, 'RESULT'), 'result'],
      [topicOf(config, 1, 'STATE'), 'state'],
      [topicOf(config, 1, 'STATUS10'), 'status'],
      [topicOf(config, 2, 'LWT'), 'lwt'],
    ];
    if (before && before.config.topic !== config.topic)
      for (const [t, r] of [...this.routes])
        if (r.mac === config.mac) {
          this.routes.delete(t);
          this.ctx.bus.unsubscribe(t).catch(() => {});
        }
    for (const [t, kind] of routes) {
      if (this.routes.has(t)) continue;
      this.routes.set(t, { mac: config.mac, kind });
      this.ctx.bus.subscribe(t, 1).catch((err: Error) => this.warnings.warn(t, `subscribe failed: ${err.message}`));
    }
    // ask now instead of waiting up to TelePeriod (300 s by default) for the next telemetry: the
    // relays when the device is new (or moved topic), the sensors whenever they are (re)described
    const fresh = !before || before.config.topic !== config.topic;
    const newSensors = sensors !== undefined && JSON.stringify(sensors) !== JSON.stringify(before?.sensors);
    if (query && fresh) {
      this.asked.add(config.mac);
      this.ask(config, 'STATE', '');
    }
    if (query && (fresh || newSensors) && sensors !== undefined) this.ask(config, 'STATUS', '10');
  }

  private ask(config: DeviceConfig, cmd: string, payload: string): void {
    this.ctx.bus
      .publish(topicOf(config, 0, cmd), Buffer.from(payload), { qos: 0, retain: false }, { script: 'tasmota' })
      .catch((err: Error) => this.warnings.warn(config.topic, `state query failed: ${err.message}`));
  }

  private forget(k: Known): void {
    for (const e of this.ctx.registry.ofDevice(k.deviceId)) this.ctx.registry.remove(e.id);
    this.ctx.devices.remove(k.deviceId);
    this.byMac.delete(k.config.mac);
    for (const [t, r] of [...this.routes])
      if (r.mac === k.config.mac) {
        this.routes.delete(t);
        this.ctx.bus.unsubscribe(t).catch(() => {});
      }
  }

  private onDeviceMessage(
    mac: string,
    kind: 'state' | 'sensor' | 'result' | 'lwt' | 'status',
    m: MqttMessageEvent,
  ): void {
    const k = this.byMac.get(mac);
    if (!k) return;
    const ids = this.ctx.registry.ofDevice(k.deviceId);
    if (kind === 'lwt') {
      const text = m.payload.toString('utf8', 0, Math.min(m.payload.length, 64));
      if (text !== k.config.online && text !== k.config.offline) return;
      const available = text === k.config.online;
      const was = this.ctx.devices.get(k.deviceId)?.available;
      this.ctx.devices.setAvailable(k.deviceId, available);
      for (const e of ids) this.ctx.registry.setAvailable(e.id, available);
      // back (or seen for the first time since the hub started): what the hub knows may be stale
      if (available && (was === false || !this.asked.has(mac))) {
        this.asked.add(mac);
        this.ask(k.config, 'STATE', '');
        if (k.sensors) this.ask(k.config, 'STATUS', '10');
      }
      return;
    }
    let j: unknown;
    try {
      j = parseJson(m.topic, m.payload, MAX);
      if (!isObject(j)) throw new Error(`${m.topic}: expected a JSON object`);
    } catch (err) {
      for (const e of ids) markProblem(this.ctx.registry, e.id, (err as Error).message);
      throw err;
    }
    const data = kind === 'status' && isObject(j.StatusSNS) ? (j.StatusSNS as Obj) : j;
    const source = kind === 'status' ? 'sensor' : kind;
    for (const p of k.parts) {
      const e = ids.find((x) => x.uniqueId === `${SOURCE}:${mac}:${p.key}`);
      if (!e) continue;
      if (p.domain === 'event' && m.retain) continue;
      try {
        const r = p.read(data, e, source);
        if (!r) continue;
        const attributes = { ...(r.attributes ?? {}), ...(e.attributes.problem ? { problem: null } : {}) };
        this.ctx.registry.setState(e.id, r.state === undefined ? e.state : r.state, attributes);
      } catch (err) {
        markProblem(this.ctx.registry, e.id, (err as Error).message);
        this.warnings.warn(m.topic, `tasmota value ignored: ${(err as Error).message}`);
      }
    }
  }

  private async runAction(entity: Entity, action: string, params: Record<string, unknown>) {
    const mac = entity.deviceId?.slice(SOURCE.length + 1);
    const k = mac ? this.byMac.get(mac) : undefined;
    const part = k?.parts.find((p) => `${SOURCE}:${mac}:${p.key}` === entity.uniqueId);
    if (!k || !part?.write) throw new Error(`${entity.id} has no Tasmota command for ${action}`);
    for (const [cmd, payload] of part.write(action, params))
      await this.ctx.bus.publish(
        topicOf(k.config, 0, cmd),
        Buffer.from(payload),
        { qos: 0, retain: false },
        { script: `entity ${entity.id}` },
      );
  }
}
