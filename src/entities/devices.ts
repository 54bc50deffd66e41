// Devices: what an integration knows of a physical device (or a Zigbee group), persisted in
// SQLite. Entities point at their device; a device's availability is its entities'.
import type { Db } from '../store/db.js';
import type { EventBus } from '../events.js';
import { deviceTables, type DeviceTables } from '../store/devices.js';

export interface Device {
  /** `<integration>:<identifier>`: IEEE address, MAC, or the discovery identifier; never a name. */
  id: string;
  integration: string;
  name: string;
  manufacturer?: string;
  model?: string;
  swVersion?: string;
  hwVersion?: string;
  /** The device it is reached through (a bridge, a coordinator), by id. */
  via?: string;
  area?: string;
  /** [type, value] pairs, as in discovery: [["mac", "a0:b1:..."], ["ieee", "0x..."]]. */
  connections: [string, string][];
  available: boolean;
  /** The raw description the device came from (discovery payload, Zigbee2MQTT device entry). */
  discovery?: unknown;
  updated: number;
}

export type DeviceInput = Omit<Device, 'available' | 'updated' | 'connections' | 'area'> & {
  connections?: [string, string][];
  area?: string;
};

type Row = Record<string, unknown>;

const opt = (v: unknown) => (v === null || v === undefined ? undefined : (v as string));

function fromRow(r: Row): Device {
  return {
    id: r.id as string,
    integration: r.integration as string,
    name: r.name as string,
    manufacturer: opt(r.manufacturer),
    model: opt(r.model),
    swVersion: opt(r.sw_version),
    hwVersion: opt(r.hw_version),
    via: opt(r.via),
    area: opt(r.area),
    connections: JSON.parse(r.connections as string) as [string, string][],
    available: r.available === 1,
    discovery: r.discovery === null ? undefined : JSON.parse(r.discovery as string),
    updated: r.updated as number,
  };
}

export class DeviceRegistry {
  private readonly q: DeviceTables;
  private readonly byId = new Map<string, Device>();

  constructor(
    db: Db,
    private readonly events: EventBus,
  ) {
    this.q = deviceTables(db);
    for (const r of this.q.all.all() as Row[]) {
      const d = fromRow(r);
      this.byId.set(d.id, d);
    }
  }

  get(id: string): Device | undefined {
    const d = this.byId.get(id);
    return d && { ...d };
  }

  list(integration?: string): Device[] {
    return [...this.byId.values()].filter((d) => !integration || d.integration === integration).map((d) => ({ ...d }));
  }

  /** Adds or updates a device; the area a user gave it is kept. */
  upsert(input: DeviceInput): Device {
    const existing = this.byId.get(input.id);
    const next: Device = {
      ...input,
      connections: input.connections ?? existing?.connections ?? [],
      area: existing?.area ?? input.area,
      available: existing?.available ?? true,
      updated: existing?.updated ?? Date.now(),
    };
    if (existing && JSON.stringify(existing) === JSON.stringify(next)) return { ...existing };
    next.updated = Date.now();
    this.write(next);
    this.events.emit('device.defined', { deviceId: next.id, added: !existing });
    return { ...next };
  }

  setArea(id: string, area: string | undefined): void {
    const d = this.byId.get(id);
    if (!d || d.area === area) return;
    this.write({ ...d, area, updated: Date.now() });
    this.events.emit('device.defined', { deviceId: id, added: false });
  }

  setAvailable(id: string, available: boolean): void {
    const d = this.byId.get(id);
    if (!d || d.available === available) return;
    this.write({ ...d, available });
  }

  remove(id: string): boolean {
    if (!this.byId.delete(id)) return false;
    this.q.remove.run(id);
    this.events.emit('device.removed', { deviceId: id });
    return true;
  }

  private write(d: Device): void {
    this.byId.set(d.id, d);
    this.q.upsert.run({
      id: d.id,
      integration: d.integration,
      name: d.name,
      manufacturer: d.manufacturer ?? null,
      model: d.model ?? null,
      swVersion: d.swVersion ?? null,
      hwVersion: d.hwVersion ?? null,
      via: d.via ?? null,
      area: d.area ?? null,
      connections: JSON.stringify(d.connections),
      available: d.available ? 1 : 0,
      discovery: d.discovery === undefined ? null : JSON.stringify(d.discovery),
      updated: d.updated,
    });
  }
}

/** What an integration stored of the discovery payloads it saw, so a device survives a broker that lost them. */
export interface DiscoveryRecord {
  topic: string;
  payload: string;
  /** ok, unsupported (a component the hub does not map yet), invalid (bad JSON or fields), warning. */
  status: 'ok' | 'unsupported' | 'invalid' | 'warning';
  reason?: string;
  updated: number;
}

export class DiscoveryStore {
  private readonly q: DeviceTables;

  constructor(
    db: Db,
    private readonly integration: string,
  ) {
    this.q = deviceTables(db);
  }

  list(): DiscoveryRecord[] {
    return (this.q.discoveryAll.all(this.integration) as Row[]).map((r) => ({
      topic: r.topic as string,
      payload: r.payload as string,
      status: r.status as DiscoveryRecord['status'],
      reason: opt(r.reason),
      updated: r.updated as number,
    }));
  }

  set(topic: string, payload: string, status: DiscoveryRecord['status'], reason?: string): void {
    this.q.discoverySet.run({
      topic,
      integration: this.integration,
      payload,
      status,
      reason: reason ?? null,
      updated: Date.now(),
    });
  }

  remove(topic: string): void {
    this.q.discoveryRemove.run(topic);
  }
}
