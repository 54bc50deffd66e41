// The integrations: the only list of them. Each one turns its devices' topics into devices and
// entities and their actions back into the devices' own topics; hub.ts names none of them.
import type { Config } from '../../config/schema.js';
import type { Db } from '../../store/db.js';
import type { EventBus } from '../../events.js';
import type { Logger } from '../../log.js';
import type { MqttBus } from '../../mqtt/bus.js';
import type { ActionRunner } from '../actions.js';
import type { DeviceRegistry } from '../devices.js';
import type { Entity, EntityRegistry } from '../registry.js';
import { Zigbee2Mqtt } from './zigbee2mqtt/index.js';
import { MqttDiscovery } from './mqtt-discovery/index.js';
import { Tasmota } from './tasmota/index.js';

export interface IntegrationContext {
  config: Config;
  db: Db;
  bus: MqttBus;
  events: EventBus;
  registry: EntityRegistry;
  devices: DeviceRegistry;
  actions: ActionRunner;
  log: Logger;
}

/** A command of an integration the API and the CLI offer (e.g. Zigbee2MQTT's permit_join). */
export interface IntegrationCommand {
  summary: string;
  /** Parameter names and what they mean, for `--help` and the API's description. */
  params: Record<string, string>;
  run(params: Record<string, unknown>): Promise<unknown>;
}

export interface Integration {
  start(): Promise<void>;
  stop(): Promise<void>;
  commands?: Record<string, IntegrationCommand>;
  /** What it knows and what it could not use (e.g. discovered components it does not map). */
  status?(): Record<string, unknown>;
  /** The topics that command an entity's device (a publish there changes it, whoever sends it). */
  commandTopics?(entity: Entity): string[];
}

export interface IntegrationKind {
  name: string;
  enabled(config: Config): boolean;
  create(ctx: IntegrationContext): Integration;
}

export const INTEGRATIONS: IntegrationKind[] = [
  { name: 'zigbee2mqtt', enabled: (c) => c.zigbee2mqtt.enabled, create: (ctx) => new Zigbee2Mqtt(ctx) },
  { name: 'mqtt', enabled: (c) => c.discovery.enabled, create: (ctx) => new MqttDiscovery(ctx) },
  { name: 'tasmota', enabled: (c) => c.tasmota.enabled, create: (ctx) => new Tasmota(ctx) },
];
